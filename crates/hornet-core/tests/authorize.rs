//! Authorization and per-client limits in the core, with a scripted
//! authorizer and a virtual clock: where the core asks (SUBSCRIBE per
//! filter, PUBLISH, every delivery, the will), what each denial answers,
//! that a swapped authorizer applies to existing subscriptions, and the
//! publish rate buckets and flapping windows against the clock.

mod support;

use std::time::Duration;

use bytes::Bytes;
use hornet_codec::{
    Connect, LastWill, Packet, PacketId, Protocol, Publish, QoS, ReasonCode, Subscribe,
};
use hornet_core::{Access, Authorizer, ConnId, Denied, Principal, RateAction, Settings};
use support::{publishes, Harness};

/// Client ids starting with `r` may read `open/#`, ids starting with `w`
/// may write `open/#`; `closed/#` nobody; `$SYS` as usual.
#[derive(Debug)]
struct Rules {
    readable: &'static str,
}

impl Authorizer for Rules {
    fn authorize(&self, who: Principal<'_>, topic: &str, access: Access) -> Result<(), Denied> {
        let ok = match access {
            Access::Read | Access::Subscribe => {
                who.client_id.starts_with('r') && topic.starts_with(self.readable)
            }
            Access::Write => who.client_id.starts_with('w') && topic.starts_with("open/"),
        };
        if ok {
            Ok(())
        } else {
            Err(Denied(format!("scripted rule for {access}")))
        }
    }
}

/// A harness with `settings` but no `$SYS` publishing.
fn world(settings: Settings) -> Harness {
    Harness::with(Settings {
        sys_interval: None,
        ..settings
    })
}

/// Connects `id` with an optional QoS 0 will on `will`; returns what the
/// connection got.
fn connect(
    w: &mut Harness,
    protocol: Protocol,
    id: &str,
    will: Option<&str>,
) -> (ConnId, Vec<Packet>) {
    let conn = w.open("127.0.0.1:1000");
    let mut c = Connect::new(protocol, id);
    c.will = will.map(|topic| LastWill {
        topic: topic.into(),
        payload: Bytes::from_static(b"bye"),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: Default::default(),
    });
    w.send(conn, c);
    (conn, w.take(conn))
}

/// Sends `packet` and returns what the sender got.
fn send(w: &mut Harness, id: ConnId, packet: impl Into<Packet>) -> Vec<Packet> {
    w.send(id, packet);
    w.take(id)
}

/// Publishes 4 bytes to `topic` (10 bytes on the wire for topic "t",
/// QoS 0, MQTT 5); returns what the publisher got.
fn publish(w: &mut Harness, id: ConnId, topic: &str, qos: QoS) -> Vec<Packet> {
    let mut p = Publish::new(topic, Bytes::from_static(b"mmmm"));
    p.qos = qos;
    if qos != QoS::AtMostOnce {
        p.packet_id = PacketId::new(7);
    }
    send(w, id, p)
}

fn codes(packets: &[Packet]) -> Vec<ReasonCode> {
    match packets {
        [Packet::SubAck(a)] => a.reason_codes.clone(),
        other => panic!("expected one SUBACK, got {other:?}"),
    }
}

#[test]
fn subscribe_publish_and_delivery_are_checked() {
    let mut w = world(Settings::default());
    w.broker
        .set_authorizer(Box::new(Rules { readable: "open/" }));
    let (reader, _) = connect(&mut w, Protocol::V5, "reader", None);
    let mut sub = Subscribe::new(PacketId::new(1).unwrap(), "open/#", QoS::AtMostOnce);
    sub.filters.push(hornet_codec::SubscribeFilter {
        filter: "closed/#".into(),
        options: Default::default(),
    });
    assert_eq!(
        codes(&send(&mut w, reader, sub)),
        vec![ReasonCode::Success, ReasonCode::NotAuthorized]
    );
    assert_eq!(w.broker.stats().acl_denied_subscribe, 1);

    let (writer, _) = connect(&mut w, Protocol::V5, "writer", None);
    let (writer3, _) = connect(&mut w, Protocol::V3_1_1, "writer3", None);
    let (other, _) = connect(&mut w, Protocol::V5, "other", None);
    // Allowed: delivered.
    publish(&mut w, writer, "open/a", QoS::AtMostOnce);
    assert_eq!(publishes(&w.take(reader)).len(), 1, "delivered");
    // Denied write, MQTT 5 QoS 1: PUBACK 0x87, nothing routed.
    let out = publish(&mut w, other, "open/a", QoS::AtLeastOnce);
    assert!(matches!(&out[..], [Packet::PubAck(a)] if a.reason_code == ReasonCode::NotAuthorized));
    // 3.1.1 QoS 2: a plain PUBREC (Mosquitto's answer), nothing routed.
    let out = publish(&mut w, writer3, "closed/x", QoS::ExactlyOnce);
    assert!(matches!(&out[..], [Packet::PubRec(a)] if a.reason_code == ReasonCode::Success));
    assert_eq!(w.broker.stats().acl_denied_publish, 2);
    assert_eq!(
        w.broker.stats().publish_sent,
        1,
        "only the allowed one went out"
    );
}

#[test]
fn a_new_authorizer_applies_to_existing_subscriptions() {
    let mut w = world(Settings::default());
    w.broker
        .set_authorizer(Box::new(Rules { readable: "open/" }));
    let (reader, _) = connect(&mut w, Protocol::V5, "reader", None);
    w.send(
        reader,
        Subscribe::new(PacketId::new(1).unwrap(), "open/#", QoS::AtMostOnce),
    );
    let (writer, _) = connect(&mut w, Protocol::V5, "writer", None);
    publish(&mut w, writer, "open/a", QoS::AtMostOnce);
    assert_eq!(w.broker.stats().publish_sent, 1);
    // Reload: reader may now read nothing under open/.
    w.broker.set_authorizer(Box::new(Rules {
        readable: "nothing/",
    }));
    publish(&mut w, writer, "open/a", QoS::AtMostOnce);
    assert_eq!(w.broker.stats().publish_sent, 1, "not delivered any more");
    assert_eq!(w.broker.stats().acl_denied_delivery, 1);
    w.broker.clear_authorizer();
    publish(&mut w, writer, "open/a", QoS::AtMostOnce);
    assert_eq!(w.broker.stats().publish_sent, 2);
}

#[test]
fn a_will_on_a_denied_topic_is_refused_at_connect() {
    let mut w = world(Settings::default());
    w.broker
        .set_authorizer(Box::new(Rules { readable: "open/" }));
    let (_, out) = connect(&mut w, Protocol::V5, "writer", Some("closed/will"));
    assert!(matches!(&out[..], [Packet::ConnAck(a)] if a.reason_code == ReasonCode::NotAuthorized));
    let (_, out) = connect(&mut w, Protocol::V5, "writer", Some("open/will"));
    assert!(matches!(&out[..], [Packet::ConnAck(a)] if a.reason_code == ReasonCode::Success));
}

#[test]
fn rate_buckets_follow_the_clock() {
    let mut w = world(Settings {
        max_publish_rate: 10,
        ..Settings::default()
    });
    let (c, _) = connect(&mut w, Protocol::V5, "fast", None);
    for _ in 0..10 {
        publish(&mut w, c, "t", QoS::AtMostOnce);
    }
    assert_eq!(w.broker.read_pause(c, w.now), None, "one second of burst");
    for _ in 0..5 {
        publish(&mut w, c, "t", QoS::AtMostOnce);
    }
    // 5 messages in debt at 10/s: half a second.
    let pause = w.broker.read_pause(c, w.now).expect("paused");
    assert!((pause.as_secs_f64() - 0.5).abs() < 1e-6, "{pause:?}");
    w.advance(Duration::from_millis(300));
    let pause = w.broker.read_pause(c, w.now).expect("still paused");
    assert!((pause.as_secs_f64() - 0.2).abs() < 1e-6, "{pause:?}");
    w.advance(Duration::from_millis(200));
    assert_eq!(w.broker.read_pause(c, w.now), None);
    assert_eq!(w.broker.stats().rate_limited, 1, "one episode");
    assert_eq!(w.broker.stats().publish_received, 15, "nothing dropped");
}

#[test]
fn rate_disconnect_sends_0x96() {
    let mut w = world(Settings {
        max_publish_bytes_rate: 25,
        publish_rate_action: RateAction::Disconnect,
        ..Settings::default()
    });
    let (c, _) = connect(&mut w, Protocol::V5, "fast", None);
    // Each PUBLISH is 10 bytes on the wire.
    publish(&mut w, c, "t", QoS::AtMostOnce);
    publish(&mut w, c, "t", QoS::AtMostOnce);
    let out = publish(&mut w, c, "t", QoS::AtMostOnce);
    assert!(
        matches!(&out[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::MessageRateTooHigh)
    );
    assert_eq!(w.broker.clients_connected(), 0);
}

/// A connect is recorded for flapping detection when its connection ends:
/// client ids that connected once hold no record (nothing for the broker
/// to prune, no wake-up for it), and a client id that connects, drops and
/// reconnects is still refused at the connect beyond
/// `flapping_max_connects` in the window.
#[test]
fn a_client_id_seen_once_holds_no_flapping_record() {
    let mut w = world(Settings {
        flapping_max_connects: 2,
        flapping_window: Duration::from_secs(10),
        flapping_ban: Duration::from_secs(30),
        ..Settings::default()
    });
    let connect_idle = |w: &mut Harness, id: &str| {
        let conn = w.open("127.0.0.1:1000");
        let mut c = Connect::new(Protocol::V5, id);
        c.keep_alive = 0;
        w.send(conn, c);
        let code = match &w.take(conn)[..] {
            [Packet::ConnAck(a), ..] => a.reason_code,
            other => panic!("{other:?}"),
        };
        (conn, code)
    };
    for i in 0..100 {
        assert_eq!(
            connect_idle(&mut w, &format!("dev-{i}")).1,
            ReasonCode::Success
        );
    }
    assert_eq!(
        w.broker.next_deadline(),
        None,
        "no flapping record to prune: nothing to wake up for"
    );
    let (first, code) = connect_idle(&mut w, "drops");
    assert_eq!(code, ReasonCode::Success);
    w.close(first);
    let (second, code) = connect_idle(&mut w, "drops");
    assert_eq!(code, ReasonCode::Success);
    w.close(second);
    assert!(w.broker.next_deadline().is_some(), "two connects recorded");
    assert_eq!(
        connect_idle(&mut w, "drops").1,
        ReasonCode::ConnectionRateExceeded,
        "the third connect in the window is refused"
    );
    assert_eq!(w.broker.stats().flapping_refused, 1);
}

#[test]
fn flapping_bans_then_forgives() {
    let mut w = world(Settings {
        flapping_max_connects: 2,
        flapping_window: Duration::from_secs(10),
        flapping_ban: Duration::from_secs(30),
        ..Settings::default()
    });
    let code = |out: Vec<Packet>| match &out[..] {
        [Packet::ConnAck(a), ..] => a.reason_code,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        code(connect(&mut w, Protocol::V5, "twin", None).1),
        ReasonCode::Success
    );
    w.advance(Duration::from_secs(11));
    // The first connect left the window.
    assert_eq!(
        code(connect(&mut w, Protocol::V5, "twin", None).1),
        ReasonCode::Success
    );
    assert_eq!(
        code(connect(&mut w, Protocol::V5, "twin", None).1),
        ReasonCode::Success
    );
    assert_eq!(
        code(connect(&mut w, Protocol::V5, "twin", None).1),
        ReasonCode::ConnectionRateExceeded
    );
    w.advance(Duration::from_secs(29));
    w.tick();
    assert_eq!(
        code(connect(&mut w, Protocol::V5, "twin", None).1),
        ReasonCode::ConnectionRateExceeded
    );
    w.advance(Duration::from_secs(2));
    w.tick();
    assert_eq!(
        code(connect(&mut w, Protocol::V5, "twin", None).1),
        ReasonCode::Success
    );
}
