//! Mosquitto's per-listener `mount_point`, through `mosquitto_pub` and
//! `mosquitto_sub`: a listener's clients live under its prefix without
//! seeing it. Their topics get the prefix on the way in (PUBLISH, SUBSCRIBE
//! filters, wills), lose it on the way out, and nothing outside the prefix
//! reaches them: the seeds' "each organisation sees only its own topics".
//! A client of an unmounted listener sees the full topics.
//!
//! The subscribers run with `-d` under `stdbuf -oL`, so each test waits
//! for `Subscribed (mid: ...)` before publishing; no test sleeps.

mod common;
#[path = "support/process.rs"]
mod process;
#[path = "support/transports.rs"]
mod transports;

use std::process::Command;

use common::TIMEOUT;
use hornet::config::{Listener, ListenerKind};
use process::Proc;
use transports::{listener, Broker};

const INSTALL: &str = "the Debian package mosquitto-clients (`apt-get install mosquitto-clients`)";

/// Listener 0 plain, 1 mounted at `org1/`, 2 at `org2/`.
fn broker() -> Broker {
    let mounted = |m: &str| Listener {
        mount_point: Some(m.to_string()),
        ..listener(ListenerKind::Tcp, None)
    };
    Broker::start(
        vec![
            listener(ListenerKind::Tcp, None),
            mounted("org1/"),
            mounted("org2/"),
        ],
        "allow_anonymous true\n",
    )
}

/// `mosquitto_sub -v` on `filter` through listener `port`, once subscribed.
fn sub(port: u16, id: &str, filter: &str, extra: &[&str]) -> Proc {
    process::require("mosquitto_sub", INSTALL);
    let mut cmd = Command::new("stdbuf");
    cmd.args(["-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .args(["-i", id, "-t", filter, "-q", "1", "-v", "-d"])
        .args(extra);
    let mut proc = Proc::spawn(&format!("mosquitto_sub {id}"), &mut cmd, INSTALL);
    proc.wait_line(TIMEOUT, "SUBACK", |l| l.starts_with("Subscribed (mid:"));
    proc
}

fn publish(port: u16, topic: &str, message: &str, extra: &[&str]) {
    let status = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .args(["-q", "1", "-t", topic, "-m", message])
        .args(extra)
        .status()
        .expect("run mosquitto_pub");
    assert!(status.success(), "mosquitto_pub {topic}");
}

/// The next `topic payload` line (the `-v` output, not a debug line).
fn next_message(sub: &mut Proc) -> String {
    sub.wait_line(TIMEOUT, "a message", |l| {
        !l.starts_with("Client ") && !l.starts_with("Subscribed") && !l.starts_with("stderr:")
    })
}

#[test]
fn clients_of_a_mounted_listener_live_under_its_prefix() {
    let broker = broker();
    let (plain, org1, org2) = (broker.port(0), broker.port(1), broker.port(2));
    let mut admin = sub(plain, "mp-admin", "#", &[]);
    let mut one = sub(org1, "mp-one", "#", &[]);
    let mut two = sub(org2, "mp-two", "#", &[]);

    // In through org1: the prefix is added; org1 sees its own topic, the
    // unmounted listener the full one, org2 nothing.
    publish(org1, "sensors/t", "21", &[]);
    assert_eq!(next_message(&mut one), "sensors/t 21");
    assert_eq!(next_message(&mut admin), "org1/sensors/t 21");

    // From outside, into org2's tree: only org2 gets it, without the prefix.
    publish(plain, "org2/cmd", "go", &[]);
    assert_eq!(
        next_message(&mut two),
        "cmd go",
        "org1's message never reached org2"
    );
    assert_eq!(next_message(&mut admin), "org2/cmd go");

    // A topic outside every mount point reaches neither organisation.
    publish(plain, "elsewhere", "x", &[]);
    assert_eq!(next_message(&mut admin), "elsewhere x");
    publish(plain, "org1/end", "sentinel", &[]);
    assert_eq!(
        next_message(&mut one),
        "end sentinel",
        "org1 got nothing between its own message and the sentinel"
    );
}

#[test]
fn retained_messages_and_wills_stay_under_the_prefix() {
    let broker = broker();
    let (plain, org1) = (broker.port(0), broker.port(1));
    // Retained from inside org1, read from outside and from inside.
    publish(org1, "state", "on", &["-r"]);
    let mut admin = sub(plain, "mp-admin2", "org1/#", &[]);
    assert_eq!(next_message(&mut admin), "org1/state on");
    let mut one = sub(org1, "mp-one2", "state", &[]);
    assert_eq!(next_message(&mut one), "state on");

    // A will of an org1 client is published under org1/.
    let dying = sub(
        org1,
        "mp-dying",
        "unused",
        &["--will-topic", "status/dying", "--will-payload", "gone"],
    );
    drop(dying); // killed: an abnormal end publishes the will
    assert_eq!(next_message(&mut admin), "org1/status/dying gone");
}

#[test]
fn a_mounted_client_cannot_reach_sys_or_other_trees() {
    let broker = broker();
    let (plain, org1) = (broker.port(0), broker.port(1));
    // `$SYS/#` from org1 means org1/$SYS/#: nothing of the broker's.
    let mut one = sub(org1, "mp-sys", "$SYS/#", &[]);
    let mut nosy = sub(org1, "mp-nosy", "org2/#", &[]);
    publish(plain, "org2/secret", "s", &[]);
    publish(plain, "org1/org2/visible", "v", &[]);
    assert_eq!(next_message(&mut nosy), "org2/visible v");
    publish(plain, "org1/$SYS/own", "o", &[]);
    assert_eq!(next_message(&mut one), "$SYS/own o");
}
