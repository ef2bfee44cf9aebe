//! `$SYS/broker/...` as Mosquitto users read it: `mosquitto_sub -t
//! '$SYS/#' -v` style subscribers get the counters retained, under
//! Mosquitto's topic names, every `sys_interval` seconds.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;

use std::collections::BTreeMap;

use codec_client::Raw;
use common::TestBroker;
use hornet_codec::{Connect, Packet, PacketId, Protocol, Publish, QoS, ReasonCode, Subscribe};

fn connect(broker: &TestBroker, id: &str) -> Raw {
    let mut raw = Raw::connect_to(broker.addr(), Connect::new(Protocol::V3_1_1, id));
    assert!(matches!(raw.recv(), Some(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success));
    raw
}

/// The latest value of each `$SYS` topic seen, and whether it came retained.
type Seen = BTreeMap<String, (String, bool)>;

/// Reads PUBLISH packets until `done(seen)` holds (each read is bounded).
fn collect_until(raw: &mut Raw, seen: &mut Seen, done: impl Fn(&Seen) -> bool) {
    while !done(seen) {
        match raw.recv() {
            Some(Packet::Publish(p)) => {
                let value = String::from_utf8_lossy(&p.payload).into_owned();
                seen.entry(p.topic.to_string())
                    .and_modify(|v| v.0 = value.clone())
                    .or_insert((value, p.retain));
            }
            Some(_) => {}
            None => panic!("closed; saw {seen:?}"),
        }
    }
}

fn counter(seen: &Seen, topic: &str) -> u64 {
    seen.get(topic)
        .and_then(|(v, _)| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn sys_topics_carry_mosquittos_names_and_are_retained() {
    // [MQTT-4.7.2-1]: `#` alone would not match them; `$SYS/#` does.
    let broker = TestBroker::with_conf("sys_interval 1");
    let mut publisher = connect(&broker, "sys-pub");
    let mut p = Publish::new("sys/test", "x");
    p.qos = QoS::AtLeastOnce;
    p.packet_id = PacketId::new(1);
    publisher.send(p.into());
    assert!(matches!(publisher.recv(), Some(Packet::PubAck(_))));

    let mut watcher = connect(&broker, "sys-watcher");
    watcher
        .send(Subscribe::new(PacketId::new(1).unwrap(), "$SYS/broker/#", QoS::AtMostOnce).into());
    let wanted = [
        "$SYS/broker/version",
        "$SYS/broker/uptime",
        "$SYS/broker/clients/connected",
        "$SYS/broker/clients/total",
        "$SYS/broker/clients/maximum",
        "$SYS/broker/messages/received",
        "$SYS/broker/messages/sent",
        "$SYS/broker/bytes/received",
        "$SYS/broker/bytes/sent",
        "$SYS/broker/subscriptions/count",
        "$SYS/broker/retained messages/count",
        "$SYS/broker/load/messages/received/1min",
        "$SYS/broker/load/messages/received/5min",
        "$SYS/broker/load/messages/received/15min",
    ];
    let mut seen = Seen::new();
    collect_until(&mut watcher, &mut seen, |seen| {
        wanted.iter().all(|t| seen.contains_key(*t))
    });
    let version = &seen["$SYS/broker/version"].0;
    assert!(version.contains("version"), "{version}");
    assert!(seen["$SYS/broker/uptime"].0.ends_with(" seconds"));
    // Live updates follow every interval; the counters catch up with the
    // traffic above (the retained values may predate it).
    collect_until(&mut watcher, &mut seen, |seen| {
        counter(seen, "$SYS/broker/messages/received") > 0
            && counter(seen, "$SYS/broker/bytes/received") > 0
            && counter(seen, "$SYS/broker/clients/connected") >= 2
    });
    // They are retained: a later subscriber gets them at once, RETAIN set
    // ([MQTT-3.3.1-8]).
    let mut late = connect(&broker, "sys-late");
    late.send(
        Subscribe::new(
            PacketId::new(1).unwrap(),
            "$SYS/broker/version",
            QoS::AtMostOnce,
        )
        .into(),
    );
    let mut late_seen = Seen::new();
    collect_until(&mut late, &mut late_seen, |seen| !seen.is_empty());
    assert!(late_seen["$SYS/broker/version"].1, "retained");
}
