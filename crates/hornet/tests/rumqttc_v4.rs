//! MQTT 3.1.1 clients (rumqttc's v4 API) against the broker over real
//! sockets: QoS flows, wildcards, retained messages, wills, keep-alive,
//! persistent sessions, queue limits and session takeover.
//!
//! Each test names the normative statements of MQTT 3.1.1 it checks. Tests
//! that pin where Hornet deliberately differs from Mosquitto return early
//! against Mosquitto (`common::hornet_only()`).
//!
//! Absence is shown with a sentinel message published after the one that must
//! not arrive (see `support`). This relies on one publisher's messages at one
//! QoS reaching a subscriber in the order they were published, which MQTT
//! requires per topic ([MQTT-4.6.0-5]) and both brokers do across topics.

mod common;
mod support;

use std::time::Duration;

use common::TestBroker;
use rumqttc::{Event, LastWill, Outgoing, Packet, Publish, QoS, SubscribeReasonCode};
use support::raw::{RawClient, Will};
use support::v4::{options, Client};

/// Topic, payload, QoS and retain flag of a received PUBLISH.
fn summary(p: &Publish) -> (String, Vec<u8>, QoS, bool) {
    (p.topic.clone(), p.payload.to_vec(), p.qos, p.retain)
}

/// Every PUBLISH before the one whose payload is `sentinel`, summarised.
async fn summaries_until(
    client: &mut Client,
    sentinel: &[u8],
) -> Vec<(String, Vec<u8>, QoS, bool)> {
    client
        .publishes_until(sentinel)
        .await
        .iter()
        .map(summary)
        .collect()
}

fn min_qos(a: QoS, b: QoS) -> QoS {
    if a < b {
        a
    } else {
        b
    }
}

fn granted(qos: QoS) -> SubscribeReasonCode {
    SubscribeReasonCode::Success(qos)
}

/// Connects a persistent-session (clean session 0) client.
async fn connect_persistent(broker: &TestBroker, id: &str) -> (Client, bool) {
    let mut opts = options(broker, id);
    opts.set_clean_session(false);
    let (client, connack) = Client::connect_with(opts).await;
    (client, connack.session_present)
}

/// Publishes on `publisher` and records the QoS flow seen on its event loop
/// (`"PUBLISH 1"`, `"PUBACK 1"`, ...) up to its last packet.
async fn publish_flow(
    publisher: &mut Client,
    topic: &str,
    qos: QoS,
    payload: &[u8],
) -> Vec<String> {
    publisher
        .client
        .publish(topic, qos, false, payload.to_vec())
        .await
        .unwrap();
    let mut flow = Vec::new();
    publisher
        .until("end of the publish flow", |e| {
            let (step, last) = match e {
                Event::Outgoing(Outgoing::Publish(id)) => {
                    (format!("PUBLISH {id}"), qos == QoS::AtMostOnce)
                }
                Event::Incoming(Packet::PubAck(a)) => (format!("PUBACK {}", a.pkid), true),
                Event::Incoming(Packet::PubRec(r)) => (format!("PUBREC {}", r.pkid), false),
                Event::Outgoing(Outgoing::PubRel(id)) => (format!("PUBREL {id}"), false),
                Event::Incoming(Packet::PubComp(c)) => (format!("PUBCOMP {}", c.pkid), true),
                _ => return None,
            };
            flow.push(step);
            last.then_some(())
        })
        .await;
    flow
}

// ---------------------------------------------------------------- QoS flows

/// QoS 0 end to end: topic, payload, QoS 0 even for a QoS 2 subscription
/// ([MQTT-3.8.4-6]: min of published and granted QoS).
#[tokio::test]
async fn qos0_round_trip() {
    let broker = TestBroker::start();
    let (mut sub, _) = Client::connect(&broker, "v4-q0-sub").await;
    assert_eq!(
        sub.subscribe("q/zero", QoS::ExactlyOnce).await,
        granted(QoS::ExactlyOnce)
    );
    let (mut publisher, _) = Client::connect(&broker, "v4-q0-pub").await;

    let flow = publish_flow(&mut publisher, "q/zero", QoS::AtMostOnce, b"zero").await;
    assert_eq!(flow, ["PUBLISH 0"]);

    let p = sub.recv_publish().await;
    assert_eq!(
        summary(&p),
        ("q/zero".into(), b"zero".to_vec(), QoS::AtMostOnce, false)
    );
    assert!(!p.dup, "[MQTT-3.3.1-2] DUP is 0 for QoS 0");
}

/// QoS 1: PUBLISH → PUBACK with the same packet id on the publisher
/// ([MQTT-4.3.2-2], [MQTT-2.3.1-6]); delivered at QoS 1 with a non-zero
/// packet id ([MQTT-2.3.1-1]).
#[tokio::test]
async fn qos1_round_trip_with_puback() {
    let broker = TestBroker::start();
    let (mut sub, _) = Client::connect(&broker, "v4-q1-sub").await;
    assert_eq!(
        sub.subscribe("q/one", QoS::AtLeastOnce).await,
        granted(QoS::AtLeastOnce)
    );
    let (mut publisher, _) = Client::connect(&broker, "v4-q1-pub").await;

    let flow = publish_flow(&mut publisher, "q/one", QoS::AtLeastOnce, b"one").await;
    assert_eq!(flow, ["PUBLISH 1", "PUBACK 1"]);

    let p = sub.recv_publish().await;
    assert_eq!(
        summary(&p),
        ("q/one".into(), b"one".to_vec(), QoS::AtLeastOnce, false)
    );
    assert_ne!(p.pkid, 0);
}

/// QoS 2: PUBLISH → PUBREC → PUBREL → PUBCOMP on the publisher
/// ([MQTT-4.3.3-2]); the subscriber side completes the same flow and gets
/// the message exactly once ([MQTT-4.3.3-3]).
#[tokio::test]
async fn qos2_round_trip_exactly_once() {
    let broker = TestBroker::start();
    let (mut sub, _) = Client::connect(&broker, "v4-q2-sub").await;
    assert_eq!(
        sub.subscribe("q/two", QoS::ExactlyOnce).await,
        granted(QoS::ExactlyOnce)
    );
    let (mut publisher, _) = Client::connect(&broker, "v4-q2-pub").await;

    let flow = publish_flow(&mut publisher, "q/two", QoS::ExactlyOnce, b"two").await;
    assert_eq!(flow, ["PUBLISH 1", "PUBREC 1", "PUBREL 1", "PUBCOMP 1"]);

    let p = sub.recv_publish().await;
    assert_eq!(
        summary(&p),
        ("q/two".into(), b"two".to_vec(), QoS::ExactlyOnce, false)
    );
    // The subscriber's half of the flow: PUBREC out, PUBREL in, PUBCOMP out.
    let pkid = p.pkid;
    sub.until("PUBREL", |e| {
        matches!(e, Event::Incoming(Packet::PubRel(r)) if r.pkid == pkid).then_some(())
    })
    .await;
    sub.until("PUBCOMP sent", |e| {
        matches!(e, Event::Outgoing(Outgoing::PubComp(id)) if *id == pkid).then_some(())
    })
    .await;

    publisher
        .publish("q/two", QoS::ExactlyOnce, false, b"end")
        .await;
    assert!(
        sub.publishes_until(b"end").await.is_empty(),
        "QoS 2 message delivered twice"
    );
}

/// Each subscriber gets min(published QoS, granted QoS) ([MQTT-3.8.4-6]).
#[tokio::test]
async fn delivered_qos_is_min_of_published_and_granted() {
    let broker = TestBroker::start();
    let mut subs = Vec::new();
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        let (mut sub, _) = Client::connect(&broker, &format!("v4-min-sub{i}")).await;
        assert_eq!(sub.subscribe("min/t", qos).await, granted(qos));
        subs.push((sub, qos));
    }
    let (mut publisher, _) = Client::connect(&broker, "v4-min-pub").await;
    let levels = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
    for qos in levels {
        publisher.publish("min/t", qos, false, &[qos as u8]).await;
    }
    for (sub, granted) in &mut subs {
        let mut got = Vec::new();
        for _ in levels {
            let p = sub.recv_publish().await;
            got.push((p.payload[0], p.qos));
        }
        // Ordering is only guaranteed per QoS level ([MQTT-4.6.0-5]).
        got.sort_by_key(|(published, _)| *published);
        let expected: Vec<_> = levels
            .iter()
            .map(|&q| (q as u8, min_qos(q, *granted)))
            .collect();
        assert_eq!(got, expected, "subscriber granted {granted:?}");
    }
}

// ---------------------------------------------------------------- wildcards

/// `+` matches one level, `#` any number including the parent level
/// ([MQTT-4.7.1-2], [MQTT-4.7.1-3]); topics are delivered unchanged.
#[tokio::test]
async fn wildcards_plus_and_hash() {
    let broker = TestBroker::start();
    let filters = ["sport/+/player", "sport/#", "+/tennis/#"];
    let mut subs = Vec::new();
    for (i, filter) in filters.iter().enumerate() {
        let (mut sub, _) = Client::connect(&broker, &format!("v4-wild-sub{i}")).await;
        sub.subscribe(filter, QoS::AtLeastOnce).await;
        sub.subscribe("end", QoS::AtLeastOnce).await;
        subs.push(sub);
    }
    let (mut publisher, _) = Client::connect(&broker, "v4-wild-pub").await;
    let topics = [
        "sport",
        "sport/tennis/player",
        "sport/tennis/player/x",
        "sport/golf/player",
        "other/tennis",
    ];
    for topic in topics {
        publisher
            .publish(topic, QoS::AtLeastOnce, false, topic.as_bytes())
            .await;
    }
    publisher
        .publish("end", QoS::AtLeastOnce, false, b"end")
        .await;

    let expected: [&[&str]; 3] = [
        &["sport/tennis/player", "sport/golf/player"],
        &[
            "sport",
            "sport/tennis/player",
            "sport/tennis/player/x",
            "sport/golf/player",
        ],
        &[
            "sport/tennis/player",
            "sport/tennis/player/x",
            "other/tennis",
        ],
    ];
    for ((sub, filter), expected) in subs.iter_mut().zip(filters).zip(expected) {
        let got: Vec<String> = sub
            .publishes_until(b"end")
            .await
            .iter()
            .map(|p| p.topic.clone())
            .collect();
        assert_eq!(got, expected, "filter {filter}");
    }
}

/// Topics starting with `$` are not matched by filters starting with a
/// wildcard ([MQTT-4.7.2-1]), but are by `$foo/#`. Clients may publish to
/// such a topic (Mosquitto only forbids `$SYS`-style reserved ones in ACLs).
#[tokio::test]
async fn dollar_topics_not_matched_by_leading_wildcards() {
    let broker = TestBroker::start();
    let (mut hash, _) = Client::connect(&broker, "v4-dollar-hash").await;
    hash.subscribe("#", QoS::AtLeastOnce).await;
    let (mut plus, _) = Client::connect(&broker, "v4-dollar-plus").await;
    plus.subscribe("+/bar", QoS::AtLeastOnce).await;
    let (mut dollar, _) = Client::connect(&broker, "v4-dollar-dollar").await;
    dollar.subscribe("$foo/#", QoS::AtLeastOnce).await;
    let (mut publisher, _) = Client::connect(&broker, "v4-dollar-pub").await;

    publisher
        .publish("$foo/bar", QoS::AtLeastOnce, false, b"dollar")
        .await;
    let p = dollar.recv_publish().await;
    assert_eq!(
        summary(&p),
        (
            "$foo/bar".into(),
            b"dollar".to_vec(),
            QoS::AtLeastOnce,
            false
        )
    );

    publisher
        .publish("plain/bar", QoS::AtLeastOnce, false, b"end")
        .await;
    for sub in [&mut hash, &mut plus] {
        let got: Vec<String> = sub
            .publishes_until(b"end")
            .await
            .iter()
            .map(|p| p.topic.clone())
            .collect();
        assert!(got.is_empty(), "{}: got {got:?}", sub.id);
    }
}

/// Overlapping subscriptions: one delivery at the highest matching QoS
/// ([MQTT-3.3.5-1]). Hornet sends a single copy; Mosquitto sends one per
/// matching subscription (also allowed by 3.1.1), hence Hornet-only.
#[tokio::test]
async fn overlapping_subscriptions_delivered_once_at_max_qos() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::start();
    let (mut sub, _) = Client::connect(&broker, "v4-overlap-sub").await;
    sub.subscribe("a/+", QoS::AtMostOnce).await;
    sub.subscribe("a/#", QoS::ExactlyOnce).await;
    let (mut publisher, _) = Client::connect(&broker, "v4-overlap-pub").await;
    publisher
        .publish("a/b", QoS::ExactlyOnce, false, b"once")
        .await;
    publisher
        .publish("a/b", QoS::ExactlyOnce, false, b"end")
        .await;

    let got = summaries_until(&mut sub, b"end").await;
    assert_eq!(
        got,
        [("a/b".into(), b"once".to_vec(), QoS::ExactlyOnce, false)]
    );
}

// ---------------------------------------------------------------- retained

/// A retained message is stored ([MQTT-3.3.1-5]) and sent to a new
/// subscriber ([MQTT-3.3.1-6]) with RETAIN 1 ([MQTT-3.3.1-8]) at
/// min(stored, granted) QoS; the live copy to an existing subscriber has
/// RETAIN 0 ([MQTT-3.3.1-9]).
#[tokio::test]
async fn retained_sent_on_subscribe_with_retain_1_live_with_retain_0() {
    let broker = TestBroker::start();
    let (mut live, _) = Client::connect(&broker, "v4-ret-live").await;
    live.subscribe("ret/a", QoS::ExactlyOnce).await;
    let (mut publisher, _) = Client::connect(&broker, "v4-ret-pub").await;
    publisher
        .publish("ret/a", QoS::AtLeastOnce, true, b"kept")
        .await;

    let p = live.recv_publish().await;
    assert_eq!(
        summary(&p),
        ("ret/a".into(), b"kept".to_vec(), QoS::AtLeastOnce, false)
    );

    let (mut late, _) = Client::connect(&broker, "v4-ret-late").await;
    late.subscribe("ret/+", QoS::ExactlyOnce).await;
    let p = late.recv_publish().await;
    assert_eq!(
        summary(&p),
        ("ret/a".into(), b"kept".to_vec(), QoS::AtLeastOnce, true)
    );

    let (mut late0, _) = Client::connect(&broker, "v4-ret-late0").await;
    late0.subscribe("ret/#", QoS::AtMostOnce).await;
    let p = late0.recv_publish().await;
    assert_eq!(
        summary(&p),
        ("ret/a".into(), b"kept".to_vec(), QoS::AtMostOnce, true)
    );
}

/// A newer retained message replaces the stored one ([MQTT-3.3.1-5]); a
/// non-retained publish neither replaces nor removes it ([MQTT-3.3.1-12]).
#[tokio::test]
async fn retained_replaced_by_retained_not_by_plain_publish() {
    let broker = TestBroker::start();
    let (mut publisher, _) = Client::connect(&broker, "v4-rep-pub").await;
    publisher
        .publish("rep/t", QoS::AtLeastOnce, true, b"v1")
        .await;
    publisher
        .publish("rep/t", QoS::AtLeastOnce, true, b"v2")
        .await;
    publisher
        .publish("rep/t", QoS::AtLeastOnce, false, b"v3")
        .await;

    let (mut sub, _) = Client::connect(&broker, "v4-rep-sub").await;
    sub.subscribe("rep/t", QoS::AtLeastOnce).await;
    publisher
        .publish("rep/t", QoS::AtLeastOnce, false, b"end")
        .await;
    let got = summaries_until(&mut sub, b"end").await;
    assert_eq!(
        got,
        [("rep/t".into(), b"v2".to_vec(), QoS::AtLeastOnce, true)]
    );
}

/// A retained PUBLISH with an empty payload is delivered normally with
/// RETAIN 0 to existing subscribers, removes the retained message and is
/// not itself stored ([MQTT-3.3.1-10], [MQTT-3.3.1-11]).
#[tokio::test]
async fn retained_deleted_by_empty_payload() {
    let broker = TestBroker::start();
    let (mut live, _) = Client::connect(&broker, "v4-del-live").await;
    live.subscribe("del/t", QoS::AtLeastOnce).await;
    let (mut publisher, _) = Client::connect(&broker, "v4-del-pub").await;
    publisher
        .publish("del/t", QoS::AtLeastOnce, true, b"doomed")
        .await;
    publisher
        .publish("del/t", QoS::AtLeastOnce, true, b"")
        .await;

    let got: Vec<_> = [live.recv_publish().await, live.recv_publish().await]
        .iter()
        .map(summary)
        .collect();
    assert_eq!(
        got,
        [
            ("del/t".into(), b"doomed".to_vec(), QoS::AtLeastOnce, false),
            ("del/t".into(), Vec::new(), QoS::AtLeastOnce, false),
        ]
    );

    let (mut late, _) = Client::connect(&broker, "v4-del-late").await;
    late.subscribe("del/#", QoS::AtLeastOnce).await;
    publisher
        .publish("del/t", QoS::AtLeastOnce, false, b"end")
        .await;
    let got = summaries_until(&mut late, b"end").await;
    assert!(
        got.is_empty(),
        "retained message survived deletion: {got:?}"
    );
}

// ---------------------------------------------------------------- wills

/// The will is published when the connection closes without DISCONNECT
/// ([MQTT-3.1.2-8]), at the will QoS ([MQTT-3.1.2-9]) and not retained
/// when Will Retain is 0 ([MQTT-3.1.2-16]).
#[tokio::test]
async fn will_published_when_socket_drops() {
    let broker = TestBroker::start();
    let (mut sub, _) = Client::connect(&broker, "v4-will-sub").await;
    sub.subscribe("will/#", QoS::ExactlyOnce).await;

    let will = Will {
        topic: "will/abrupt",
        payload: b"gone",
        qos: 1,
        retain: false,
    };
    let raw = RawClient::connect(broker.addr(), "v4-will-raw", 60, Some(&will)).await;
    raw.drop_abruptly();

    let p = sub.recv_publish().await;
    assert_eq!(
        summary(&p),
        (
            "will/abrupt".into(),
            b"gone".to_vec(),
            QoS::AtLeastOnce,
            false
        )
    );
}

/// No will after a DISCONNECT ([MQTT-3.1.2-10], [MQTT-3.14.4-3]).
#[tokio::test]
async fn will_not_published_after_disconnect() {
    let broker = TestBroker::start();
    let (mut sub, _) = Client::connect(&broker, "v4-nowill-sub").await;
    sub.subscribe("will/#", QoS::AtLeastOnce).await;

    let will = Will {
        topic: "will/clean",
        payload: b"should not",
        qos: 1,
        retain: false,
    };
    let raw = RawClient::connect(broker.addr(), "v4-nowill-raw", 60, Some(&will)).await;
    raw.disconnect().await; // returns once the broker has closed the connection

    // Also through rumqttc's own DISCONNECT.
    let mut opts = options(&broker, "v4-nowill-rumqttc");
    opts.set_last_will(LastWill::new(
        "will/clean",
        "should not either",
        QoS::AtLeastOnce,
        false,
    ));
    let (client, _) = Client::connect_with(opts).await;
    client.disconnect().await;

    let (mut publisher, _) = Client::connect(&broker, "v4-nowill-pub").await;
    publisher
        .publish("will/clean", QoS::AtLeastOnce, false, b"end")
        .await;
    let got = summaries_until(&mut sub, b"end").await;
    assert!(got.is_empty(), "will published after DISCONNECT: {got:?}");
}

/// Will QoS 2 and Will Retain 1 are honoured: the live copy arrives at QoS 2
/// (RETAIN 0, [MQTT-3.3.1-9]) and the will is stored as a retained message
/// for later subscribers ([MQTT-3.1.2-17]).
#[tokio::test]
async fn will_retain_and_qos2_honoured() {
    let broker = TestBroker::start();
    let (mut sub, _) = Client::connect(&broker, "v4-rwill-sub").await;
    sub.subscribe("will/#", QoS::ExactlyOnce).await;

    let will = Will {
        topic: "will/retained",
        payload: b"last words",
        qos: 2,
        retain: true,
    };
    let raw = RawClient::connect(broker.addr(), "v4-rwill-raw", 60, Some(&will)).await;
    raw.drop_abruptly();

    let p = sub.recv_publish().await;
    assert_eq!(
        summary(&p),
        (
            "will/retained".into(),
            b"last words".to_vec(),
            QoS::ExactlyOnce,
            false
        )
    );

    let (mut late, _) = Client::connect(&broker, "v4-rwill-late").await;
    late.subscribe("will/retained", QoS::ExactlyOnce).await;
    let p = late.recv_publish().await;
    assert_eq!(
        summary(&p),
        (
            "will/retained".into(),
            b"last words".to_vec(),
            QoS::ExactlyOnce,
            true
        )
    );
}

// ---------------------------------------------------------------- keep-alive

/// A client with keep-alive 1 s that sends nothing is disconnected after
/// 1.5 × keep-alive ([MQTT-3.1.2-24]), as if the network failed: its will is
/// published.
#[tokio::test]
async fn keepalive_silent_client_disconnected_and_will_published() {
    let broker = TestBroker::start();
    let (mut sub, _) = Client::connect(&broker, "v4-ka-sub").await;
    sub.subscribe("will/#", QoS::AtLeastOnce).await;

    let will = Will {
        topic: "will/keepalive",
        payload: b"timed out",
        qos: 1,
        retain: false,
    };
    let mut raw = RawClient::connect(broker.addr(), "v4-ka-raw", 1, Some(&will)).await;
    let elapsed = raw.wait_closed().await;
    // Not before the keep-alive itself. Hornet: 1.5 s plus scheduling slack
    // on a loaded machine. Mosquitto 2.0.11 only checks keep-alives every few
    // seconds (5-6 s measured for keep-alive 1), so against it only "well
    // before TIMEOUT" is checked.
    let bound = if common::against_mosquitto() {
        Duration::from_secs(8)
    } else {
        Duration::from_millis(1500 + 1000)
    };
    assert!(
        elapsed >= Duration::from_millis(1000),
        "disconnected too early: {elapsed:?}"
    );
    assert!(
        elapsed <= bound,
        "disconnected after {elapsed:?}, more than {bound:?}"
    );

    let p = sub.recv_publish().await;
    assert_eq!(
        summary(&p),
        (
            "will/keepalive".into(),
            b"timed out".to_vec(),
            QoS::AtLeastOnce,
            false
        )
    );
}

/// A client that pings every keep-alive period stays connected: the broker
/// answers each PINGREQ ([MQTT-3.12.4-1]) and never closes the connection
/// (three periods, twice the 1.5 × grace).
#[tokio::test]
async fn keepalive_pinging_client_stays_connected() {
    let broker = TestBroker::start();
    let mut opts = options(&broker, "v4-ping");
    opts.set_keep_alive(Duration::from_secs(1));
    let (mut client, _) = Client::connect_with(opts).await;
    let mut pongs = 0;
    client
        .until("three PINGRESPs", |e| {
            if matches!(e, Event::Incoming(Packet::PingResp)) {
                pongs += 1;
            }
            (pongs == 3).then_some(())
        })
        .await;
}

// ---------------------------------------------------------------- sessions

/// Clean session 0: subscriptions and QoS 1 messages published while the
/// client is offline are kept ([MQTT-3.1.2-4], [MQTT-3.1.2-5]); on reconnect
/// CONNACK has Session Present 1 ([MQTT-3.2.2-2]) and the messages arrive in
/// order. The first connection had no session: Session Present 0
/// ([MQTT-3.2.2-3]).
#[tokio::test]
async fn persistent_session_keeps_qos1_messages_while_offline() {
    let broker = TestBroker::start();
    let (mut sub, present) = connect_persistent(&broker, "v4-ps-sub").await;
    assert!(!present, "[MQTT-3.2.2-3] no session yet");
    sub.subscribe("ps/t", QoS::AtLeastOnce).await;
    sub.disconnect().await;

    let (mut publisher, _) = Client::connect(&broker, "v4-ps-pub").await;
    for payload in [b"m1", b"m2", b"m3"] {
        publisher
            .publish("ps/t", QoS::AtLeastOnce, false, payload)
            .await;
    }

    let (mut sub, present) = connect_persistent(&broker, "v4-ps-sub").await;
    assert!(present, "[MQTT-3.2.2-2] session present");
    for payload in [b"m1", b"m2", b"m3"] {
        let p = sub.recv_publish().await;
        assert_eq!(
            summary(&p),
            ("ps/t".into(), payload.to_vec(), QoS::AtLeastOnce, false)
        );
    }
    // The subscription survived too: a live message arrives.
    publisher
        .publish("ps/t", QoS::AtLeastOnce, false, b"live")
        .await;
    assert_eq!(sub.recv_publish().await.payload.as_ref(), b"live");
}

/// Clean session 1 discards the previous session ([MQTT-3.1.2-6]): Session
/// Present 0 ([MQTT-3.2.2-1]), no queued messages, no subscriptions; and
/// the clean session is not kept after it ends either.
#[tokio::test]
async fn clean_session_discards_stored_session() {
    let broker = TestBroker::start();
    let (mut sub, _) = connect_persistent(&broker, "v4-cs-sub").await;
    sub.subscribe("cs/t", QoS::AtLeastOnce).await;
    sub.disconnect().await;

    let (mut publisher, _) = Client::connect(&broker, "v4-cs-pub").await;
    publisher
        .publish("cs/t", QoS::AtLeastOnce, false, b"lost")
        .await;

    let (mut sub, connack) = Client::connect(&broker, "v4-cs-sub").await;
    assert!(!connack.session_present, "[MQTT-3.2.2-1]");
    // Old subscription gone: a live message does not arrive; the stale queued
    // one does not either (it would come first).
    publisher
        .publish("cs/t", QoS::AtLeastOnce, false, b"not subscribed")
        .await;
    sub.subscribe("cs/t", QoS::AtLeastOnce).await;
    publisher
        .publish("cs/t", QoS::AtLeastOnce, false, b"end")
        .await;
    let got = summaries_until(&mut sub, b"end").await;
    assert!(
        got.is_empty(),
        "state of the discarded session delivered: {got:?}"
    );
    sub.disconnect().await;

    let (_sub, present) = connect_persistent(&broker, "v4-cs-sub").await;
    assert!(!present, "[MQTT-3.1.2-6] a clean session is not reused");
}

/// QoS 0 messages are not queued for an offline persistent session
/// (Mosquitto's and Hornet's default `queue_qos0_messages false`;
/// [MQTT-3.1.2-5] makes it optional).
#[tokio::test]
async fn qos0_not_queued_for_offline_session() {
    let broker = TestBroker::start();
    let (mut sub, _) = connect_persistent(&broker, "v4-q0q-sub").await;
    sub.subscribe("q0q/t", QoS::AtLeastOnce).await;
    sub.disconnect().await;

    let (mut publisher, _) = Client::connect(&broker, "v4-q0q-pub").await;
    publisher
        .publish("q0q/t", QoS::AtMostOnce, false, b"qos0")
        .await;
    publisher
        .publish("q0q/t", QoS::AtLeastOnce, false, b"end")
        .await;

    let (mut sub, present) = connect_persistent(&broker, "v4-q0q-sub").await;
    assert!(present);
    let got = summaries_until(&mut sub, b"end").await;
    assert!(got.is_empty(), "QoS 0 message queued: {got:?}");
}

/// `max_queued_messages 5`: of 20 QoS 1 messages for an offline session, the
/// first 5 are kept and the newer ones dropped (Mosquitto's behaviour, see
/// docs/configuration.md "When a client's queue is full").
#[tokio::test]
async fn queue_limit_keeps_oldest_messages() {
    let broker = TestBroker::with_conf("max_queued_messages 5");
    let (mut sub, _) = connect_persistent(&broker, "v4-ql-sub").await;
    sub.subscribe("ql/t", QoS::AtLeastOnce).await;
    sub.disconnect().await;

    let (mut publisher, _) = Client::connect(&broker, "v4-ql-pub").await;
    for i in 0..20 {
        publisher
            .publish("ql/t", QoS::AtLeastOnce, false, format!("{i}").as_bytes())
            .await;
    }

    let (mut sub, present) = connect_persistent(&broker, "v4-ql-sub").await;
    assert!(present);
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(String::from_utf8(sub.recv_publish().await.payload.to_vec()).unwrap());
    }
    assert_eq!(got, ["0", "1", "2", "3", "4"]);
    // Nothing else was queued: the next message is a live one.
    publisher
        .publish("ql/t", QoS::AtLeastOnce, false, b"end")
        .await;
    let rest = summaries_until(&mut sub, b"end").await;
    assert!(rest.is_empty(), "more than 5 messages queued: {rest:?}");
}

/// A second connection with the same client id closes the first
/// ([MQTT-3.1.4-2]) and takes over its session: Session Present 1
/// ([MQTT-3.2.2-2]) and the subscription keeps delivering to the new one.
#[tokio::test]
async fn session_takeover_closes_first_connection() {
    let broker = TestBroker::start();
    let (mut first, _) = connect_persistent(&broker, "v4-take").await;
    first.subscribe("take/t", QoS::AtLeastOnce).await;

    let (mut second, present) = connect_persistent(&broker, "v4-take").await;
    assert!(present, "[MQTT-3.2.2-2] the session was taken over");
    let error = first.closed().await;
    eprintln!("first connection closed: {error:?}");
    drop(first); // it would reconnect (and take the session back) if polled

    let (mut publisher, _) = Client::connect(&broker, "v4-take-pub").await;
    publisher
        .publish("take/t", QoS::AtLeastOnce, false, b"to second")
        .await;
    assert_eq!(second.recv_publish().await.payload.as_ref(), b"to second");
}
