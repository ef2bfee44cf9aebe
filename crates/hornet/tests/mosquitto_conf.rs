//! A Mosquitto user's configuration as it is: the annotated mosquitto.conf
//! of seed 004 (`tests/fixtures/seed004-mosquitto.conf`) with every key
//! uncommented (bridges aside, which have their own issue), started the way
//! the seed starts it (`-c FILE -d`), used with its own test commands
//! (`mosquitto_sub -v -t mytopic`, `mosquitto_pub -t mytopic -m ...`) and
//! stopped through its pid file; and Mosquitto 2.0's rule that a file with
//! listeners and no `allow_anonymous` refuses anonymous clients.

mod common;
#[path = "support/process.rs"]
mod process;
#[path = "support/transports.rs"]
mod transports;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::{free_port, TIMEOUT};
use process::Proc;
use transports::Pki;

const CLIENTS: &str = "the Debian package mosquitto-clients (`apt-get install mosquitto-clients`)";
const SEED: &str = include_str!("fixtures/seed004-mosquitto.conf");

/// The seed's default listener gets `psk_hint`: it is TLS-PSK with this key.
const PSK: &str = "00112233445566778899aabbccddeeff";

/// The seed's text with every commented `#key [value]` line before the
/// Bridges section uncommented, `values` replacing the value where the
/// example has none or names paths of the author's machine; lines that
/// are not commented keep their key with a value from `values` if given.
/// Returns the text and the keys it sets.
fn uncommented(values: &BTreeMap<&str, String>) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut keys = Vec::new();
    let mut bridges = false;
    for line in SEED.lines() {
        if line.contains("Bridges") {
            bridges = true;
        }
        let (commented, body) = match line.strip_prefix('#') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let key = body.split_whitespace().next().unwrap_or_default();
        let is_key = !key.is_empty()
            && body.starts_with(key)
            && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        if !is_key || (commented && bridges) {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let value = match values.get(key) {
            Some(v) => v.clone(),
            None => body[key.len()..].trim().to_string(),
        };
        assert!(
            !value.is_empty(),
            "the seed's {key} needs a value in the test"
        );
        out.push_str(&format!("{key} {value}\n"));
        keys.push(key.to_string());
    }
    (out, keys)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn user_name() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

#[test]
fn seed_004_with_every_key_uncommented_starts_serves_and_reports_nothing_unsupported() {
    if common::hornet_only() {
        return;
    }
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).display().to_string();
    let capath = dir.path().join("certs");
    std::fs::create_dir(&capath).unwrap();
    std::fs::copy(&pki.ca_file, capath.join("ca.crt")).unwrap();
    let conf_d = dir.path().join("conf.d");
    std::fs::create_dir(&conf_d).unwrap();
    std::fs::write(conf_d.join("local.conf"), "max_keepalive 120\n").unwrap();
    std::fs::write(dir.path().join("acl"), "topic readwrite mytopic\n").unwrap();
    std::fs::write(dir.path().join("psk"), format!("seed-device:{PSK}\n")).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_hornet"))
        .args(["passwd", "-c", "-b", &d("passwd"), "alice", "secret"])
        .status()
        .unwrap();
    assert!(status.success());
    let port = free_port();
    let values: BTreeMap<&str, String> = [
        ("pid_file", d("mosquitto.pid")),
        ("user", user_name()),
        ("persistent_client_expiration", "1d".into()),
        ("bind_address", "127.0.0.1".into()),
        ("port", port.to_string()),
        ("cafile", pki.ca_file.display().to_string()),
        ("capath", capath.display().to_string()),
        ("certfile", pki.cert_file.display().to_string()),
        ("keyfile", pki.key_file.display().to_string()),
        ("persistence_location", d("data")),
        ("clientid_prefixes", "seed-".into()),
        ("password_file", d("passwd")),
        ("acl_file", d("acl")),
        ("include_dir", conf_d.display().to_string()),
        ("psk_hint", "hornet".into()),
        // The listener is TLS-PSK, so OpenSSL reads its cipher list.
        ("ciphers", "PSK".into()),
        ("psk_file", d("psk")),
    ]
    .into_iter()
    .collect();
    let (text, keys) = uncommented(&values);
    for key in [
        "retry_interval",
        "user",
        "autosave_interval",
        "log_timestamp",
        "clientid_prefixes",
        "psk_hint",
        "psk_file",
        "ciphers",
    ] {
        assert!(keys.iter().any(|k| k == key), "{key} uncommented: {keys:?}");
    }
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(&conf, format!("{text}admin_enabled false\n")).unwrap();

    // check-config: every key is read; none is unsupported or unknown.
    let mut check = Proc::spawn(
        "hornet check-config",
        Command::new(env!("CARGO_BIN_EXE_hornet"))
            .current_dir(dir.path())
            .arg("check-config")
            .arg(&conf),
        "cargo build",
    );
    let status = check.wait_exit(TIMEOUT);
    let report = check.output();
    assert!(status.success(), "{report}");
    for bad in ["not supported yet", "unknown option"] {
        assert!(!report.contains(bad), "{bad}:\n{report}");
    }

    // The seed's start command, then its test commands (over its TLS-PSK
    // listener, with client ids its clientid_prefixes admits).
    let mut start = Proc::spawn(
        "hornet -d",
        Command::new(env!("CARGO_BIN_EXE_hornet"))
            .current_dir(dir.path())
            .args(["-c", conf.to_str().unwrap(), "-d"]),
        "cargo build",
    );
    start.expect_success(TIMEOUT);
    let pid = read(&dir.path().join("mosquitto.pid")).trim().to_string();
    assert!(!pid.is_empty(), "the pid file");
    let port = port.to_string();
    let mut sub = Proc::spawn(
        "mosquitto_sub",
        Command::new("stdbuf").args([
            "-oL",
            "mosquitto_sub",
            "-h",
            "localhost",
            "-p",
            &port,
            "--psk",
            PSK,
            "--psk-identity",
            "seed-device",
            "-i",
            "seed-sub",
            "-v",
            "-t",
            "mytopic",
            "-C",
            "1",
            "-d",
        ]),
        CLIENTS,
    );
    sub.wait_line(TIMEOUT, "SUBACK", |l| l.starts_with("Subscribed (mid:"));
    Proc::spawn(
        "mosquitto_pub",
        Command::new("mosquitto_pub").args([
            "-h",
            "localhost",
            "-p",
            &port,
            "--psk",
            PSK,
            "--psk-identity",
            "seed-device",
            "-i",
            "seed-pub",
            "-t",
            "mytopic",
            "-m",
            "hello world",
        ]),
        CLIENTS,
    )
    .expect_success(TIMEOUT);
    sub.wait_line(TIMEOUT, "the message", |l| l == "mytopic hello world");
    sub.expect_success(TIMEOUT);

    let status = Command::new("kill").arg(&pid).status().unwrap();
    assert!(status.success());
    wait_until("the pid file to go", || {
        !dir.path().join("mosquitto.pid").exists()
    });
}

#[test]
fn listeners_without_allow_anonymous_refuse_anonymous_clients_as_mosquitto_2() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(
        dir.path().join("mosquitto.conf"),
        format!("listener {port} 127.0.0.1\npersistence false\nadmin_enabled false\n"),
    )
    .unwrap();
    let mut broker = Proc::spawn(
        "hornet",
        Command::new(env!("CARGO_BIN_EXE_hornet"))
            .current_dir(dir.path())
            .args(["-c", "mosquitto.conf"]),
        "cargo build",
    );
    broker.wait_line(TIMEOUT, "the note in the banner", |l| {
        l.contains("Note: anonymous clients are refused") && l.contains("allow_anonymous true")
    });
    broker.wait_line(TIMEOUT, "the listener", |l| {
        l.contains("Opening MQTT listener")
    });
    let mut publisher = Proc::spawn(
        "mosquitto_pub",
        Command::new("mosquitto_pub").args(["-p", &port.to_string(), "-t", "a", "-m", "b"]),
        CLIENTS,
    );
    let status = publisher.wait_exit(TIMEOUT);
    assert_eq!(
        status.code(),
        Some(5),
        "not authorised: {}",
        publisher.output()
    );
}
