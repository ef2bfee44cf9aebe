//! `hornet init DIR`, Hornet's `apollo create`, end to end: the instance
//! is made with free ports, `hornet -c DIR/hornet.toml` serves it, and
//! every subscribe command of the instance's README (`hornet sub` and
//! `mosquitto_sub`, on the TCP, TLS, WebSocket and secure WebSocket
//! listeners, with the printed admin password) is run as written and
//! receives a retained message. The systemd unit passes
//! `systemd-analyze verify` where that exists. Bounded waits, no sleeps.

mod common;
#[path = "support/process.rs"]
mod process;
#[path = "support/shell.rs"]
mod shell;

use std::path::Path;
use std::process::Command;

use common::{free_port, TIMEOUT};
use process::Proc;

const CLIENTS: &str = "the Debian package mosquitto-clients (`apt-get install mosquitto-clients`)";

/// Runs `hornet init` into `dir` with free ports; returns the printed
/// password and the ports (tcp, tls, ws, wss).
fn init(dir: &Path) -> (String, [u16; 4]) {
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let out = Command::new(env!("CARGO_BIN_EXE_hornet"))
        .arg("init")
        .arg(dir)
        .args(["--tcp-port", &ports[0].to_string()])
        .args(["--tls-port", &ports[1].to_string()])
        .args(["--ws-port", &ports[2].to_string()])
        .args(["--wss-port", &ports[3].to_string()])
        .args(["--admin-port", &free_port().to_string()])
        .output()
        .expect("run hornet init");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = stdout.lines();
    lines
        .by_ref()
        .find(|l| l.contains("shown only now"))
        .expect("the password announcement");
    let password = lines
        .map(str::trim)
        .find(|l| !l.is_empty())
        .expect("the password")
        .to_string();
    assert_eq!(password.len(), 24, "{stdout}");
    (password, ports)
}

#[test]
fn an_initialised_instance_serves_all_four_listeners_as_its_readme_says() {
    if common::hornet_only() {
        return;
    }
    process::require("mosquitto_sub", CLIENTS);
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("edge");
    let (password, ports) = init(&dir);
    for file in [
        "hornet.toml",
        "passwd",
        "README.md",
        "hornet-edge.service",
        "certs/ca.crt",
    ] {
        assert!(dir.join(file).exists(), "{file}");
    }
    // A second init into the same directory changes nothing.
    let again = Command::new(env!("CARGO_BIN_EXE_hornet"))
        .arg("init")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    let mut broker = Proc::spawn(
        "hornet",
        Command::new(env!("CARGO_BIN_EXE_hornet"))
            .current_dir(parent.path())
            .arg("-c")
            .arg(dir.join("hornet.toml")),
        "cargo build",
    );
    for port in ports {
        broker.wait_line(TIMEOUT, "each listener", |l| {
            l.contains("Opening MQTT") && l.contains(&format!("port {port}"))
        });
        common::wait_for_port(([127, 0, 0, 1], port).into());
    }
    // Anonymous clients are refused; the admin user gets in.
    let anonymous = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &ports[0].to_string(),
            "-t",
            "x",
            "-m",
            "x",
        ])
        .output()
        .unwrap();
    assert!(!anonymous.status.success());
    let status = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &ports[0].to_string()])
        .args(["-u", "admin", "-P", &password, "-q", "1", "-r"])
        .args(["-t", "init/check", "-m", "hello"])
        .status()
        .unwrap();
    assert!(status.success());

    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let commands: Vec<Vec<String>> = readme
        .lines()
        .filter(|l| l.starts_with("hornet sub ") || l.starts_with("mosquitto_sub "))
        .map(|l| shell::words(&l.replace("PASSWORD", &password)))
        .collect();
    assert_eq!(commands.len(), 6, "{readme}");
    for port in ports {
        assert!(
            commands
                .iter()
                .any(|c| c.iter().any(|w| w.contains(&port.to_string()))),
            "no command for port {port}:\n{readme}"
        );
    }
    for words in commands {
        let program = match words[0].as_str() {
            "hornet" => env!("CARGO_BIN_EXE_hornet").to_string(),
            other => other.to_string(),
        };
        let mut sub = Proc::spawn(
            &words.join(" "),
            Command::new(program)
                .args(&words[1..])
                .args(["-C", "1", "-W", "10"]),
            CLIENTS,
        );
        sub.wait_line(TIMEOUT, "the retained message", |l| l == "init/check hello");
        sub.expect_success(TIMEOUT);
    }

    if which("systemd-analyze") {
        let unit = dir.join("hornet-edge.service");
        let out = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&unit)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        // Outside a booted systemd (a container) verify cannot load every
        // dependency; the unit's own lines must not be the complaint.
        assert!(
            !text.contains("hornet-edge.service:"),
            "systemd-analyze verify:\n{text}"
        );
    }
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}
