//! The `hornet` binary run as Mosquitto's operators run `mosquitto`: `-d`
//! (returns once serving, stopped through its `pid_file`), `user` (root
//! dropped after binding a privileged port), SIGTERM and SIGINT ending with
//! the last log line, and a standard error nobody reads never stopping
//! the broker (issue 22, item 6). Real processes, `mosquitto_pub` /
//! `mosquitto_sub` as clients, bounded waits.

mod common;
#[path = "support/process.rs"]
mod process;

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{free_port, wait_for_port, TIMEOUT};
use process::Proc;

const CLIENTS: &str = "the Debian package mosquitto-clients (`apt-get install mosquitto-clients`)";

/// A mosquitto.conf in a fresh directory (the broker's working directory).
struct Setup {
    dir: tempfile::TempDir,
    port: u16,
}

impl Setup {
    /// `listener PORT 127.0.0.1`, anonymous clients, no store, no admin
    /// listener, then `extra` lines (`{dir}` is the directory).
    fn new(port: u16, extra: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
             admin_enabled false\n{}",
            extra.replace("{dir}", &dir.path().display().to_string())
        );
        std::fs::write(dir.path().join("mosquitto.conf"), text).unwrap();
        Setup { dir, port }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn hornet(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hornet"));
        cmd.current_dir(self.dir.path())
            .args(["-c", "mosquitto.conf"])
            .args(args);
        cmd
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{sig} {pid}");
}

/// Waits (bounded) until `cond` holds.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

/// Whether process `pid` is gone (or a zombie nobody reaps in a container).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// A message from `mosquitto_pub` reaches a `mosquitto_sub` through `port`.
fn round_trip(port: u16, topic: &str) {
    process::require("mosquitto_sub", CLIENTS);
    let mut sub = Proc::spawn(
        "mosquitto_sub",
        Command::new("stdbuf").args([
            "-oL",
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            topic,
            "-C",
            "1",
            "-v",
            "-d",
        ]),
        CLIENTS,
    );
    sub.wait_line(TIMEOUT, "SUBACK", |l| l.starts_with("Subscribed (mid:"));
    let mut publisher = Proc::spawn(
        "mosquitto_pub",
        Command::new("mosquitto_pub").args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            topic,
            "-m",
            "hello",
        ]),
        CLIENTS,
    );
    publisher.expect_success(TIMEOUT);
    sub.wait_line(TIMEOUT, "the message", |l| l == format!("{topic} hello"));
    sub.expect_success(TIMEOUT);
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn daemon_returns_once_serving_and_stops_through_its_pid_file() {
    let setup = Setup::new(
        free_port(),
        "pid_file {dir}/hornet.pid\nlog_dest file {dir}/hornet.log\n",
    );
    // Mosquitto's start command, with the broker's own name.
    let mut parent = Proc::spawn("hornet -d", &mut setup.hornet(&["-d"]), "cargo build");
    parent.expect_success(TIMEOUT);
    // It returned once the listener was bound: no wait for the port.
    let pid: u32 = read(&setup.path("hornet.pid"))
        .trim()
        .parse()
        .expect("the pid file holds the daemon's pid");
    assert_ne!(pid, parent.pid(), "the daemon is a child of the command");
    assert!(!gone(pid), "the daemon runs");
    round_trip(setup.port, "daemon/x");
    wait_until("the banner in the log file", || {
        read(&setup.path("hornet.log")).contains("Opening MQTT listener")
    });

    signal(pid, "TERM");
    wait_until("the pid file to be removed", || {
        !setup.path("hornet.pid").exists()
    });
    wait_until("the daemon to exit", || gone(pid));
    let log = read(&setup.path("hornet.log"));
    let last = log.lines().last().unwrap_or_default();
    assert!(last.ends_with("terminating"), "last line: {last}\n{log}");
}

#[test]
fn a_daemon_that_cannot_start_fails_the_command() {
    let setup = Setup::new(free_port(), "pid_file {dir}/missing/dir/hornet.pid\n");
    let mut parent = Proc::spawn("hornet -d", &mut setup.hornet(&["-d"]), "cargo build");
    let status = parent.wait_exit(TIMEOUT);
    assert_eq!(status.code(), Some(1), "{}", parent.output());
    let out = parent.output();
    assert!(out.contains("cannot write the pid_file"), "{out}");
    assert!(out.contains("the broker did not start"), "{out}");
}

/// A port below 1024 that is free now: only root may bind it.
fn privileged_port() -> u16 {
    (900..1024)
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port below 1024")
}

fn uids(pid: u32) -> Vec<String> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the broker's threads");
    tasks
        .filter_map(|t| t.ok())
        .map(|t| {
            let status = read(&t.path().join("status"));
            status
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn user_drops_root_after_binding_a_privileged_port() {
    let root = read(Path::new("/proc/self/status"))
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if !root {
        eprintln!("skipped: dropping root needs the tests to run as root (CI does)");
        return;
    }
    let setup = Setup::new(privileged_port(), "user nobody\n");
    let mut broker = Proc::spawn("hornet", &mut setup.hornet(&[]), "cargo build");
    broker.wait_line(TIMEOUT, "the switch", |l| {
        l.contains("Running as user nobody (uid 65534")
    });
    broker.wait_line(TIMEOUT, "the banner", |l| {
        l.contains("Opening MQTT listener")
    });
    for uid in uids(broker.pid()) {
        assert_eq!(uid, "Uid:\t65534\t65534\t65534\t65534", "every thread");
    }
    round_trip(setup.port, "user/x");
    signal(broker.pid(), "TERM");
    assert!(broker.wait_exit(TIMEOUT).success(), "{}", broker.output());
}

#[test]
fn sigterm_and_sigint_end_with_the_last_line() {
    for sig in ["TERM", "INT"] {
        let setup = Setup::new(free_port(), "");
        let mut broker = Proc::spawn("hornet", &mut setup.hornet(&[]), "cargo build");
        broker.wait_line(TIMEOUT, "the banner", |l| {
            l.contains("Opening MQTT listener")
        });
        signal(broker.pid(), sig);
        let status = broker.wait_exit(TIMEOUT);
        assert!(status.success(), "SIG{sig}: {status}\n{}", broker.output());
        let last = broker.transcript.last().cloned().unwrap_or_default();
        assert!(
            last.ends_with(&format!(
                "hornet version {} terminating",
                env!("CARGO_PKG_VERSION")
            )),
            "SIG{sig}: last line {last:?}"
        );
    }
}

/// Issue 22, item 6: the log's standard error is a pipe nobody reads. The
/// broker keeps serving (its log lines are dropped and counted, not
/// waited for), long topics are cut in its lines, and SIGTERM ends it.
#[test]
fn a_standard_error_nobody_reads_never_stops_the_broker() {
    let setup = Setup::new(free_port(), "");
    let mut child = setup
        .hornet(&["-v"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run hornet");
    let mut stderr = child.stderr.take().unwrap();
    wait_for_port(setup.addr());

    // Each PUBLISH is a debug line with its 3000-byte topic: thousands of
    // them fill the pipe (64 KiB) many times over.
    let topic = format!("long/{}", "t".repeat(3000));
    let lines: String = (0..3000).map(|i| format!("m{i}\n")).collect();
    let mut sub = Proc::spawn(
        "mosquitto_sub",
        Command::new("stdbuf").args([
            "-oL",
            "mosquitto_sub",
            "-p",
            &setup.port.to_string(),
            "-t",
            "done",
            "-C",
            "1",
            "-v",
            "-d",
        ]),
        CLIENTS,
    );
    sub.wait_line(TIMEOUT, "SUBACK", |l| l.starts_with("Subscribed (mid:"));
    let (mut publisher, mut stdin) = Proc::spawn_piped(
        "mosquitto_pub -l",
        Command::new("mosquitto_pub").args(["-p", &setup.port.to_string(), "-t", &topic, "-l"]),
        CLIENTS,
    );
    std::io::Write::write_all(&mut stdin, lines.as_bytes()).unwrap();
    drop(stdin);
    publisher.expect_success(TIMEOUT);
    // Still serving, after every one of those lines.
    let mut done = Proc::spawn(
        "mosquitto_pub",
        Command::new("mosquitto_pub").args([
            "-p",
            &setup.port.to_string(),
            "-t",
            "done",
            "-m",
            "1",
        ]),
        CLIENTS,
    );
    done.expect_success(TIMEOUT);
    sub.wait_line(TIMEOUT, "the last message", |l| l == "done 1");

    signal(child.id(), "TERM");
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "hornet did not exit on SIGTERM");
        std::thread::yield_now();
    };
    assert!(status.success(), "{status}");
    // What the pipe held: lines no longer than the cut, the topic cut.
    let mut held = String::new();
    stderr.read_to_string(&mut held).unwrap();
    assert!(
        held.lines().all(|l| l.len() < 2200),
        "a line longer than the cut"
    );
    assert!(
        held.lines()
            .any(|l| l.contains("Received PUBLISH") && l.contains("bytes cut)")),
        "no cut PUBLISH line in {} bytes",
        held.len()
    );
}
