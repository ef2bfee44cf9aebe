//! What a restart of the `hornet` binary (killed with SIGKILL, as in
//! `crash.rs`) keeps besides messages: deadlines counted across the time it
//! was down, the wills of clients the crash disconnected, and the shared
//! subscription group of queued messages. Hornet-only (Mosquitto's
//! persistence is a periodic snapshot).

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/process.rs"]
mod process;
#[path = "support/site.rs"]
mod site;

use std::time::{Duration, Instant};

use codec_client::Raw;
use hornet_codec::{
    Ack, Connect, Disconnect, LastWill, Packet, PacketId, Property, Protocol, Publish, QoS,
    ReasonCode, Subscribe,
};
use process::Proc;
use site::Site;

/// SIGKILL, and wait for the process to be gone.
fn kill(proc: Proc) {
    drop(proc);
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

/// Connects an MQTT 5 client with a session kept `expiry` seconds.
fn connect(site: &Site, id: &str, expiry: u32, will: Option<LastWill>) -> (Raw, bool) {
    connect_with(site, id, false, expiry, will)
}

fn connect_with(
    site: &Site,
    id: &str,
    clean: bool,
    expiry: u32,
    will: Option<LastWill>,
) -> (Raw, bool) {
    let mut c = Connect::new(Protocol::V5, id);
    c.clean_start = clean;
    c.will = will;
    if expiry > 0 {
        c.properties.push(Property::SessionExpiryInterval(expiry));
    }
    let mut raw = Raw::connect_to(site.addr(), c);
    match raw.recv() {
        Some(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success => {
            (raw, a.session_present)
        }
        other => panic!("{id}: {other:?}"),
    }
}

/// Sends DISCONNECT and waits for the broker to close the connection (so
/// it was processed; what it recorded is on disk once a later gated answer,
/// e.g. a CONNACK or PUBACK, arrives: commits are in order).
fn disconnect(mut raw: Raw) {
    raw.send(Disconnect::new(ReasonCode::Success).into());
    while raw.recv().is_some() {}
}

fn subscribe(raw: &mut Raw, filter: &str) {
    raw.send(Subscribe::new(pid(1), filter, QoS::AtLeastOnce).into());
    assert!(matches!(raw.recv(), Some(Packet::SubAck(_))));
}

fn publish_acked(raw: &mut Raw, topic: &str, payload: &str, expiry: Option<u32>, n: u16) {
    let mut p = Publish::new(topic, payload.to_string());
    p.qos = QoS::AtLeastOnce;
    p.packet_id = Some(pid(n));
    if let Some(secs) = expiry {
        p.properties.push(Property::MessageExpiryInterval(secs));
    }
    raw.send(p.into());
    assert!(
        matches!(raw.recv(), Some(Packet::PubAck(a)) if a.packet_id == pid(n)),
        "PUBACK for {payload}"
    );
}

/// The next PUBLISH (acknowledged), skipping other packets.
fn next_message(raw: &mut Raw) -> Publish {
    loop {
        match raw.recv() {
            Some(Packet::Publish(p)) => {
                if let Some(id) = p.packet_id {
                    raw.send(Packet::PubAck(Ack::new(id)));
                }
                return p;
            }
            Some(_) => {}
            None => panic!("closed while waiting for a message"),
        }
    }
}

fn payload(p: &Publish) -> String {
    String::from_utf8_lossy(&p.payload).into_owned()
}

/// Messages up to and including `sentinel` (which the test publishes last,
/// so absence shows without waiting for a timeout).
fn until_sentinel(raw: &mut Raw, sentinel: &str) -> Vec<Publish> {
    let mut got = Vec::new();
    loop {
        let p = next_message(raw);
        let done = payload(&p) == sentinel;
        got.push(p);
        if done {
            return got;
        }
    }
}

/// [Issue 7 follow-up] Deadlines count the time the broker was down: a
/// session whose 2 s expiry passed while the binary was dead is gone
/// (Session Present 0); a queued message whose 2 s Message Expiry Interval
/// passed is not delivered ([MQTT-3.3.2-5]); one with 60 s arrives with
/// its interval reduced by the time it spent on disk ([MQTT-3.3.2-6]).
#[test]
fn deadlines_count_the_time_the_broker_was_down() {
    if common::hornet_only() {
        return;
    }
    let site = Site::new();
    let broker = site.start();
    let (mut short, _) = connect(&site, "short-lived", 2, None);
    subscribe(&mut short, "e/#");
    disconnect(short);
    let (mut long, _) = connect(&site, "long-lived", 600, None);
    subscribe(&mut long, "e/#");
    disconnect(long);
    let (mut publisher, _) = connect_with(&site, "publisher", true, 0, None);
    publish_acked(&mut publisher, "e/brief", "brief", Some(2), 1);
    publish_acked(&mut publisher, "e/lasting", "lasting", Some(60), 2);
    let stored = Instant::now();
    kill(broker);
    // Down for 3 s: past the short session's and the brief message's expiry.
    std::thread::sleep(Duration::from_secs(3).saturating_sub(stored.elapsed()));

    let _broker = site.start();
    let (_short, present) = connect(&site, "short-lived", 2, None);
    assert!(!present, "the session expired while the broker was down");
    let (mut long, present) = connect(&site, "long-lived", 600, None);
    assert!(present);
    let (mut publisher, _) = connect_with(&site, "publisher", true, 0, None);
    publish_acked(&mut publisher, "e/end", "sentinel", None, 3);
    let got = until_sentinel(&mut long, "sentinel");
    let payloads: Vec<String> = got.iter().map(payload).collect();
    assert_eq!(payloads, ["lasting", "sentinel"], "brief expired on disk");
    let left = got[0].properties.message_expiry_interval().unwrap();
    let on_disk = stored.elapsed().as_secs() as u32;
    assert!(
        left <= 60 - 3 && left + on_disk + 1 >= 60,
        "60 s less the {on_disk} s since it was stored: {left}"
    );
}

fn will(payload: &str, delay: Option<u32>) -> LastWill {
    let mut will = LastWill {
        topic: "gone/w".into(),
        payload: payload.to_string().into(),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
    };
    if let Some(d) = delay {
        will.properties.push(Property::WillDelayInterval(d));
    }
    will
}

/// [Issue 7 follow-up] A crash ends every connection abnormally
/// ([MQTT-3.1.2-8]): after the restart, the wills of the persistent-session
/// clients that were connected are published, a delayed one after its
/// Will Delay Interval ([MQTT-3.1.3-9]); a will a normal DISCONNECT
/// discarded is not ([MQTT-3.1.2-10]).
#[test]
fn wills_of_clients_connected_at_a_crash_are_published_after_the_restart() {
    if common::hornet_only() {
        return;
    }
    let site = Site::new();
    let broker = site.start();
    let (mut watcher, _) = connect(&site, "will-watcher", 600, None);
    subscribe(&mut watcher, "gone/#");
    let _crasher = connect(&site, "crasher", 600, Some(will("crasher", None)));
    let _slow = connect(&site, "slow", 600, Some(will("slow", Some(2))));
    let (polite, _) = connect(&site, "polite", 600, Some(will("polite", None)));
    disconnect(polite);
    // A gated answer after the DISCONNECT: its record is on disk too.
    subscribe(&mut watcher, "gone/#");
    kill(broker);

    let _broker = site.start();
    let restarted = Instant::now();
    let (mut watcher, present) = connect(&site, "will-watcher", 600, None);
    assert!(present);
    let first = next_message(&mut watcher);
    assert_eq!(payload(&first), "crasher");
    let second = next_message(&mut watcher);
    assert_eq!(payload(&second), "slow", "polite's will was discarded");
    assert!(
        restarted.elapsed() >= Duration::from_millis(1500),
        "slow's will waits its 2 s delay after the restart"
    );
    // Nothing else (the polite client's will) arrives before a sentinel.
    let (mut publisher, _) = connect_with(&site, "publisher", true, 0, None);
    publish_acked(&mut publisher, "gone/end", "sentinel", None, 1);
    let rest: Vec<String> = until_sentinel(&mut watcher, "sentinel")
        .iter()
        .map(payload)
        .collect();
    assert_eq!(rest, ["sentinel"]);
}

/// [Issue 7 follow-up] Messages queued for a shared subscription member
/// keep their group across a restart: when that member's session ends
/// after the restart, they go to another member of the group (MQTT 5.0
/// §4.8.2) instead of being lost.
#[test]
fn restored_shared_subscription_messages_go_to_another_member() {
    if common::hornet_only() {
        return;
    }
    let site = Site::new();
    let broker = site.start();
    for member in ["member-a", "member-b"] {
        let (mut m, _) = connect(&site, member, 600, None);
        subscribe(&mut m, "$share/workers/jobs/#");
        disconnect(m);
    }
    let (mut publisher, _) = connect_with(&site, "jobs-publisher", true, 0, None);
    for n in 1..=10u16 {
        publish_acked(&mut publisher, "jobs/x", &format!("job{n}"), None, n);
    }
    kill(broker);

    let _broker = site.start();
    let (mut b, present) = connect(&site, "member-b", 600, None);
    assert!(present);
    // member-a comes back with a clean start: its session, and the jobs
    // queued for it, end; they go to member-b.
    let (a, present) = connect_with(&site, "member-a", true, 0, None);
    assert!(!present);
    disconnect(a);
    let mut jobs: Vec<String> = Vec::new();
    while jobs.len() < 10 {
        let p = next_message(&mut b);
        jobs.push(payload(&p));
    }
    jobs.sort_by_key(|j| j[3..].parse::<u32>().unwrap());
    let want: Vec<String> = (1..=10).map(|n| format!("job{n}")).collect();
    assert_eq!(jobs, want, "every job reaches member-b once");
}
