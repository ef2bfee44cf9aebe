//! `hornet check-config FILE` as a user runs it: the real binary on real
//! files (TOML and mosquitto.conf, TLS certificates made with rcgen, a
//! password file, an ACL file), asserting on what it prints and its exit
//! status. Hornet-only (Mosquitto has no such command).

mod common;
#[path = "support/process.rs"]
mod process;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use process::Proc;

const RUN: Duration = Duration::from_secs(30);

/// The outcome of one run: exit code, stdout lines, stderr lines.
struct Outcome {
    code: Option<i32>,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

impl Outcome {
    fn all(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            self.stdout.join("\n"),
            self.stderr.join("\n")
        )
    }

    fn stdout_line(&self, parts: &[&str]) -> &str {
        self.stdout
            .iter()
            .find(|l| parts.iter().all(|p| l.contains(p)))
            .unwrap_or_else(|| panic!("no stdout line with {parts:?}:\n{}", self.all()))
    }

    fn stderr_line(&self, parts: &[&str]) -> &str {
        self.stderr
            .iter()
            .find(|l| parts.iter().all(|p| l.contains(p)))
            .unwrap_or_else(|| panic!("no stderr line with {parts:?}:\n{}", self.all()))
    }

    /// The row of `key` in the limits table: (value, "set" | "default").
    fn setting(&self, key: &str) -> (String, String) {
        let line = self
            .stdout
            .iter()
            .find(|l| l.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("no setting {key}:\n{}", self.all()));
        let words: Vec<&str> = line.split_whitespace().collect();
        (
            words[1..words.len() - 1].join(" "),
            words[words.len() - 1].to_string(),
        )
    }
}

fn check(file: &Path) -> Outcome {
    run(file, &[])
}

fn run(file: &Path, extra: &[&str]) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hornet"));
    cmd.arg("check-config").arg(file).args(extra);
    let mut proc = Proc::spawn("hornet check-config", &mut cmd, "cargo build -p hornet");
    let status = proc.wait_exit(RUN);
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    for line in &proc.transcript {
        match line.strip_prefix("stderr: ") {
            Some(l) => stderr.push(l.to_string()),
            None => stdout.push(line.clone()),
        }
    }
    Outcome {
        code: status.code(),
        stdout,
        stderr,
    }
}

/// A self-signed certificate and its key, written as PEM into `dir`.
fn certificate(dir: &Path) -> (String, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = dir.join("server.crt");
    let key = dir.join("server.key");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (
        cert.to_str().unwrap().to_string(),
        key.to_str().unwrap().to_string(),
    )
}

#[test]
fn a_valid_toml_prints_the_effective_settings() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let passwd = dir.path().join("passwd");
    let line = hornet_auth::scram_line("alice", b"pw", 16).unwrap();
    std::fs::write(&passwd, format!("{line}\n")).unwrap();
    let acl = dir.path().join("acl");
    std::fs::write(&acl, "topic read public/#\nuser alice\ntopic alice/#\n").unwrap();
    let data = dir.path().join("state");
    let path = dir.path().join("hornet.toml");
    std::fs::write(
        &path,
        format!(
            r#"allow_anonymous = false
password_file = "{}"
acl_file = "{}"
data_dir = "{}"
fsync = "interval"

[[listener]]
port = 1883
bind_address = "127.0.0.1"

[[listener]]
kind = "tls"
port = 8883
certfile = "{cert}"
keyfile = "{key}"
max_connections = 100

[limits]
max_queued_messages = 5000
max_packet_size = 0

[admin]
enabled = false
"#,
            passwd.display(),
            acl.display(),
            data.display()
        ),
    )
    .unwrap();
    let out = check(&path);
    assert_eq!(out.code, Some(0), "{}", out.all());
    out.stdout_line(&["1. MQTT listener on 127.0.0.1:1883", "no anonymous clients"]);
    out.stdout_line(&[
        "2. MQTT over TLS (tls) listener on all interfaces, IPv4 and IPv6, port 8883",
        "[TLS 1.2 and 1.3",
        "(max_connections 100)",
    ]);
    out.stdout_line(&[
        "Authentication: password_file",
        "with 1 users (1 with SCRAM",
    ]);
    out.stdout_line(&["Authorization: acl_file", "with 2 rules (1 user sections)"]);
    out.stdout_line(&[
        "Persistence: data directory",
        "state (fsync interval)",
        "does not exist yet and will be created",
    ]);
    out.stdout_line(&["Admin: off"]);
    assert_eq!(
        out.setting("max_queued_messages"),
        ("5000".into(), "set".into())
    );
    assert_eq!(
        out.setting("max_packet_size"),
        ("268435455 (protocol maximum)".into(), "set".into())
    );
    assert_eq!(
        out.setting("max_inflight_messages"),
        ("20".into(), "default".into())
    );
    assert_eq!(
        out.setting("max_connections"),
        ("unlimited".into(), "default".into())
    );
    out.stdout_line(&["Ignored keys: none."]);
    out.stdout_line(&["OK:", "is valid"]);
    assert!(out.stderr.is_empty(), "{}", out.all());
    assert!(!data.exists(), "check-config creates no data directory");
}

#[test]
fn a_mosquitto_conf_lists_each_ignored_key_with_file_and_line() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mosquitto.conf");
    std::fs::write(
        &path,
        "# from a blog post\nlistener 1883\nallow_anonymous true\nautosave_interval 1800\n\
         max_queued_messages 10\nmemory_limit 0\nfrobnicate yes\n",
    )
    .unwrap();
    let out = check(&path);
    assert_eq!(out.code, Some(0), "{}", out.all());
    out.stdout_line(&["(mosquitto.conf format)"]);
    out.stdout_line(&[
        "1. MQTT listener on all interfaces, IPv4 and IPv6, port 1883",
        "anonymous clients from anywhere",
    ]);
    let file = path.display().to_string();
    out.stdout_line(&[
        &format!("{file}:4:"),
        "\"autosave_interval\" is not needed: every change is written to the store before it \
         is acknowledged",
    ]);
    out.stdout_line(&[&format!("{file}:6:"), "memory_limit"]);
    out.stdout_line(&[&format!("{file}:7:"), "frobnicate", "unknown option"]);
    out.stdout_line(&["Ignored keys and warnings (3):"]);
    assert_eq!(
        out.setting("max_queued_messages"),
        ("10".into(), "set".into())
    );
    // The binary's default: persistence on, in ./data of the working directory.
    out.stdout_line(&["Persistence: data directory ./data (fsync fsync)"]);
}

#[test]
fn bridges_are_listed_with_their_transport_and_psk_keys_checked() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mosquitto.conf");
    std::fs::write(
        &path,
        "listener 1883\nconnection b1\naddress 10.0.0.5:1884\nremote_clientid edge-1\n\
         topic sensors/# out 1 \"\" site/\nstart_type lazy\nconnection b2\naddress h\n\
         topic # both\nbridge_identity edge-2\nbridge_psk 00ff\n",
    )
    .unwrap();
    let out = check(&path);
    assert_eq!(out.code, Some(0), "{}", out.all());
    out.stdout_line(&[
        "b1 to 10.0.0.5:1884 (TCP, client id edge-1)",
        "topics: sensors/# out 1 \"\" site/",
        "; starts when 10 messages wait and disconnects after 60 s with nothing to send \
         (start_type lazy)",
    ]);
    // Every bridge key is honoured: TLS-PSK too, so b2 starts.
    out.stdout_line(&["b2 to h:1883 (TLS-PSK,", "; starts"]);
    assert!(!out.all().contains("will not be started"), "{}", out.all());

    // As in Mosquitto, the key needs its identity, and not with certificates.
    for (extra, reason) in [
        ("bridge_psk 00ff\n", "bridge_psk needs bridge_identity"),
        (
            "bridge_identity i\nbridge_psk 00ff\nbridge_cafile ca.pem\n",
            "cannot use both certificate and psk encryption",
        ),
    ] {
        std::fs::write(
            &path,
            format!("listener 1883\nconnection b2\naddress h\ntopic # both\n{extra}"),
        )
        .unwrap();
        let out = check(&path);
        assert_eq!(out.code, Some(3), "{}", out.all());
        out.stderr_line(&[reason]);
    }
}

#[test]
fn a_bad_value_exits_3_with_file_line_and_reason() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mosquitto.conf");
    std::fs::write(&path, "listener 1883\n\nmax_queued_messages lots\n").unwrap();
    let out = check(&path);
    assert_eq!(out.code, Some(3), "{}", out.all());
    out.stderr_line(&[&format!("{}:3:", path.display()), "max_queued_messages"]);
    out.stderr_line(&["hornet check-config: 1 error(s)"]);
    assert!(
        out.stdout.is_empty(),
        "nothing effective to show: {}",
        out.all()
    );

    let path = dir.path().join("hornet.toml");
    std::fs::write(&path, "[limits]\nmax_conections = 5\n").unwrap();
    let out = check(&path);
    assert_eq!(out.code, Some(3), "{}", out.all());
    out.stderr_line(&[&format!("{}:2:", path.display()), "max_conections"]);
}

#[test]
fn a_missing_tls_certificate_is_an_error_naming_the_file() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, key) = certificate(dir.path());
    let missing = dir.path().join("gone.crt");
    let path = dir.path().join("mosquitto.conf");
    std::fs::write(
        &path,
        format!(
            "listener 1883\nlistener 8883\ncertfile {}\nkeyfile {key}\n",
            missing.display()
        ),
    )
    .unwrap();
    let out = check(&path);
    assert_eq!(out.code, Some(3), "{}", out.all());
    out.stderr_line(&[
        &format!("{}:", path.display()),
        "listener 2 (tls port 8883) cannot start",
        "cannot read the certfile",
        &missing.display().to_string(),
    ]);
}

#[test]
fn a_broken_password_file_is_an_error_with_its_line() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let passwd = dir.path().join("passwd");
    let line = hornet_auth::scram_line("alice", b"pw", 16).unwrap();
    std::fs::write(&passwd, format!("{line}\nbob:plain\n")).unwrap();
    let acl = dir.path().join("acl");
    std::fs::write(&acl, "topic read public/#\ntopic frobnicate x/#\n").unwrap();
    let path = dir.path().join("mosquitto.conf");
    std::fs::write(
        &path,
        format!(
            "listener 1883\npassword_file {}\nacl_file {}\n",
            passwd.display(),
            acl.display()
        ),
    )
    .unwrap();
    let out = check(&path);
    assert_eq!(out.code, Some(3), "{}", out.all());
    // Every error is reported, not only the first.
    out.stderr_line(&[&format!("{}:2:", passwd.display()), "bob"]);
    out.stderr_line(&[&format!("{}:2:", acl.display())]);
    out.stderr_line(&["hornet check-config: 2 error(s)"]);
}

#[test]
fn an_unusable_data_directory_and_clashing_ports_are_errors() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let path = dir.path().join("mosquitto.conf");
    std::fs::write(
        &path,
        format!(
            "persistence true\npersistence_location {}\nlistener 1883\nlistener 1883 127.0.0.1\n",
            file.display()
        ),
    )
    .unwrap();
    let out = check(&path);
    assert_eq!(out.code, Some(3), "{}", out.all());
    out.stderr_line(&["the data directory", "cannot be used", "not a directory"]);
    out.stderr_line(&["listeners 1 and 2 both listen on port 1883"]);
}

#[test]
fn check_config_binds_no_port() {
    if common::hornet_only() {
        return;
    }
    // The port is taken (by this test) for the whole run: a broker could
    // not start, check-config still says the file is valid.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hornet.toml");
    std::fs::write(
        &path,
        format!("[[listener]]\nport = {port}\nbind_address = \"127.0.0.1\"\n"),
    )
    .unwrap();
    let out = check(&path);
    assert_eq!(out.code, Some(0), "{}", out.all());
    out.stdout_line(&[&format!("MQTT listener on 127.0.0.1:{port}")]);
    // Still ours: a client connecting now reaches this test's socket.
    let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (_, from) = taken.accept().unwrap();
    assert_eq!(from, client.local_addr().unwrap());
}

#[test]
fn format_toml_migrates_a_mosquitto_conf() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mosquitto.conf");
    std::fs::write(
        &path,
        "listener 1884 127.0.0.1\nallow_anonymous true\nmax_queued_messages 10\n\
         autosave_interval 1800\nlistener 8083\nprotocol websockets\n",
    )
    .unwrap();
    let out = run(&path, &["--format", "toml"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let text = out.stdout.join("\n");
    assert!(text.contains("max_queued_messages = 10"), "{text}");
    assert!(
        text.contains(&format!(
            "# {}:4: \"autosave_interval\" is not needed",
            path.display()
        )),
        "{text}"
    );
    // The TOML is a valid Hornet configuration with the same settings.
    let toml = dir.path().join("hornet.toml");
    std::fs::write(&toml, &text).unwrap();
    let again = check(&toml);
    assert_eq!(again.code, Some(0), "{}", again.all());
    again.stdout_line(&[
        "1. MQTT listener on 127.0.0.1:1884",
        "anonymous clients from anywhere",
    ]);
    again.stdout_line(&[
        "2. MQTT over WebSocket (ws) listener",
        "port 8083, any path",
    ]);
    assert_eq!(
        again.setting("max_queued_messages"),
        ("10".into(), "set".into())
    );
    again.stdout_line(&["Ignored keys: none."]);
}

/// MQTT authentication without admin credentials: with an `[admin]` table
/// check-config refuses the file naming the keys to set; without one it
/// accepts it, warning that the admin API will be locked; with admin users
/// the Admin line names them and their roles.
#[test]
fn admin_credentials_beside_mqtt_authentication() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let passwd = dir.path().join("passwd");
    let alice = hornet_auth::scram_line("alice", b"wonder", 16).unwrap();
    std::fs::write(&passwd, format!("{alice}\n")).unwrap();
    let base = format!(
        "allow_anonymous = false\npassword_file = \"{}\"\npersistence = false\n",
        passwd.display()
    );
    let path = dir.path().join("hornet.toml");

    std::fs::write(&path, format!("{base}[admin]\nport = 18084\n")).unwrap();
    let out = check(&path);
    assert_ne!(out.code, Some(0), "{}", out.all());
    out.stderr_line(&[
        "[admin] token",
        "[admin] users",
        "enabled = false",
        "allow_unauthenticated",
    ]);

    std::fs::write(&path, &base).unwrap();
    let out = check(&path);
    assert_eq!(out.code, Some(0), "{}", out.all());
    out.stdout_line(&["Admin:", "LOCKED", "[admin] token or users"]);
    out.stdout_line(&["admin API and dashboard will be locked", "a password_file"]);

    std::fs::write(
        &path,
        format!(
            "{base}[admin]\nusers = [\"alice\"]\nread_users = [\"carol\"]\nmetrics_token = \"m\"\n"
        ),
    )
    .unwrap();
    let out = check(&path);
    assert_eq!(out.code, Some(0), "{}", out.all());
    out.stdout_line(&[
        "Admin:",
        "admin users alice",
        "read-only users carol",
        "metrics token",
    ]);
    out.stdout_line(&["admin user 'carol' is not in the password_file"]);
}
