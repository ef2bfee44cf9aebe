//! Mosquitto's `check_retain_source` through the `hornet` binary and
//! `mosquitto_pub` / `mosquitto_sub`: a retained message whose publisher
//! has since lost write access to its topic (ACL changed, SIGHUP) is not
//! sent to a new subscriber; with `check_retain_source false` it is.
//! Retained messages come right after SUBACK, so a sentinel published
//! after the SUBACK bounds the wait; nothing sleeps.

mod common;
#[path = "support/process.rs"]
mod process;

use std::path::Path;
use std::process::Command;

use common::TIMEOUT;
use process::Proc;

const INSTALL: &str = "the Debian package mosquitto-clients (`apt-get install mosquitto-clients`)";

fn publish(port: u16, user: &str, topic: &str, message: &str, retain: bool) {
    let mut cmd = Command::new("mosquitto_pub");
    cmd.args(["-h", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .args([
            "-u",
            user,
            "-P",
            &format!("{user}-pw"),
            "-i",
            &format!("rs-{user}"),
        ])
        .args(["-q", "1"])
        .args(["-t", topic, "-m", message]);
    if retain {
        cmd.arg("-r");
    }
    assert!(cmd.status().expect("run mosquitto_pub").success());
}

/// The messages `bob` receives on `t/#` up to the sentinel `t/end`.
fn received_until_sentinel(port: u16) -> Vec<String> {
    let mut cmd = Command::new("stdbuf");
    cmd.args(["-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .args([
            "-u",
            "bob",
            "-P",
            "bob-pw",
            "-i",
            "rs-reader",
            "-t",
            "t/#",
            "-q",
            "1",
        ])
        .args(["-v", "-d"]);
    let mut sub = Proc::spawn("mosquitto_sub", &mut cmd, INSTALL);
    sub.wait_line(TIMEOUT, "SUBACK", |l| l.starts_with("Subscribed (mid:"));
    publish(port, "bob", "t/end", "sentinel", false);
    let mut got = Vec::new();
    loop {
        let line = sub.wait_line(TIMEOUT, "a message", |l| l.starts_with("t/"));
        if line == "t/end sentinel" {
            return got;
        }
        got.push(line);
    }
}

fn scenario(check: Option<&str>) -> Vec<String> {
    process::require("mosquitto_sub", INSTALL);
    let dir = tempfile::tempdir().unwrap();
    let acl = dir.path().join("acl");
    let conf = dir.path().join("mosquitto.conf");
    let rules =
        |alice: &str| format!("user alice\ntopic {alice} t/#\n\nuser bob\ntopic readwrite t/#\n");
    std::fs::write(&acl, rules("readwrite")).unwrap();
    let users = dir.path().join("passwd");
    for (i, user) in ["alice", "bob"].into_iter().enumerate() {
        let mut cmd = Command::new("mosquitto_passwd");
        if i == 0 {
            cmd.arg("-c");
        }
        let status = cmd
            .arg("-b")
            .arg(&users)
            .args([user, &format!("{user}-pw")])
            .status()
            .expect("run mosquitto_passwd (Debian package mosquitto)");
        assert!(status.success());
    }
    let port = common::free_port();
    let extra = check.map_or(String::new(), |c| format!("check_retain_source {c}\n"));
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\nacl_file {}\n\
             persistence false\nadmin_enabled false\n{extra}",
            users.display(),
            acl.display()
        ),
    )
    .unwrap();
    let mut hornet = start(&conf, dir.path());
    publish(port, "alice", "t/a", "from-alice", true);
    publish(port, "bob", "t/b", "from-bob", true);
    // alice may now only read t/#.
    std::fs::write(&acl, rules("read")).unwrap();
    let status = Command::new("kill")
        .args(["-HUP", &hornet.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    hornet.wait_line(TIMEOUT, "the ACL reload", |l| {
        l.contains("Reloaded acl_file")
    });
    received_until_sentinel(port)
}

fn start(conf: &Path, dir: &Path) -> Proc {
    let mut hornet = Proc::spawn(
        "hornet",
        Command::new(env!("CARGO_BIN_EXE_hornet"))
            .current_dir(dir)
            .arg("-c")
            .arg(conf),
        "(built by cargo)",
    );
    hornet.wait_line(TIMEOUT, "the listener", |l| {
        l.contains("Opening MQTT listener")
    });
    hornet
}

#[test]
fn a_retained_message_whose_publisher_lost_write_access_is_not_sent() {
    assert_eq!(
        received_until_sentinel_sorted(scenario(None)),
        ["t/b from-bob"]
    );
}

#[test]
fn check_retain_source_false_sends_it_all_the_same() {
    assert_eq!(
        received_until_sentinel_sorted(scenario(Some("false"))),
        ["t/a from-alice", "t/b from-bob"]
    );
}

fn received_until_sentinel_sorted(mut got: Vec<String>) -> Vec<String> {
    got.sort();
    got
}
