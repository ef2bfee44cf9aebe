//! Shared subscriptions over real sockets: `$share/{group}/{filter}` (MQTT
//! 5.0 §4.8.2) for MQTT 5 and 3.1.1 clients, EMQX's `$queue/{filter}` as
//! the seeds' users type it with `mosquitto_sub`, the strategies, and what
//! happens to a member's messages when it leaves.
//!
//! Each test names the statements of MQTT 5.0 it checks. Absence is shown
//! with a sentinel message published after the messages that must not
//! arrive. Tests of Hornet's own choices (strategies, `$queue/`,
//! redistribution) return early against Mosquitto.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/process.rs"]
mod process;
mod support;

use std::collections::BTreeSet;
use std::process::Command;

use common::{TestBroker, TIMEOUT};
use process::Proc;
use rumqttc::v5::mqttbytes::v5::{DisconnectReasonCode, Filter, SubscribeReasonCode};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{ConnectionError, StateError};
use support::v5::{options, Client};

/// Payloads of every PUBLISH `client` receives before `sentinel`.
async fn payloads_until(client: &mut Client, sentinel: &[u8]) -> Vec<String> {
    client
        .publishes_until(sentinel)
        .await
        .iter()
        .map(|p| String::from_utf8(p.payload.to_vec()).unwrap())
        .collect()
}

/// Receives `n` messages on `client` and returns their payloads.
async fn take(client: &mut Client, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let p = client.recv_publish().await;
        out.push(String::from_utf8(p.payload.to_vec()).unwrap());
    }
    out
}

/// Two MQTT 5 members of one group share the messages: each message goes
/// to exactly one of them, and round robin (the default) alternates
/// ([MQTT-4.8.2-?] §4.8.2 "each message is sent to only one").
#[tokio::test]
async fn shared_group_delivers_each_message_to_one_member_v5() {
    let broker = TestBroker::start();
    let (mut a, _) = Client::connect(&broker, "sh5-a").await;
    let (mut b, _) = Client::connect(&broker, "sh5-b").await;
    for c in [&mut a, &mut b] {
        let code = c.subscribe("$share/workers/jobs/+", QoS::AtLeastOnce).await;
        assert_eq!(code, SubscribeReasonCode::Success(QoS::AtLeastOnce));
    }
    let (mut publisher, _) = Client::connect(&broker, "sh5-pub").await;
    for i in 0..10 {
        publisher
            .publish(
                "jobs/x",
                QoS::AtLeastOnce,
                false,
                format!("m{i}").as_bytes(),
            )
            .await;
    }
    let got_a = take(&mut a, 5).await;
    let got_b = take(&mut b, 5).await;
    let all: BTreeSet<_> = got_a.iter().chain(&got_b).cloned().collect();
    assert_eq!(
        all.len(),
        10,
        "every message exactly once: {got_a:?} {got_b:?}"
    );
    if common::hornet_only() {
        return;
    }
    // Round robin: a gets the even ones, b the odd ones.
    assert_eq!(got_a, ["m0", "m2", "m4", "m6", "m8"]);
    // Nothing more: a sentinel on a plain subscription arrives next.
    a.subscribe("sh5/end", QoS::AtLeastOnce).await;
    publisher
        .publish("sh5/end", QoS::AtLeastOnce, false, b"end")
        .await;
    assert!(payloads_until(&mut a, b"end").await.is_empty());
}

/// MQTT 3.1.1 clients use `$share/` too (Hornet offers shared
/// subscriptions to every protocol version).
#[tokio::test]
async fn shared_group_works_for_mqtt_3_1_1_clients() {
    use rumqttc::QoS as Q4;
    use support::v4::Client as V4;
    let broker = TestBroker::start();
    let (mut a, _) = V4::connect(&broker, "sh4-a").await;
    let (mut b, _) = V4::connect(&broker, "sh4-b").await;
    for c in [&mut a, &mut b] {
        assert_eq!(
            c.subscribe("$share/g4/t4", Q4::AtLeastOnce).await,
            rumqttc::SubscribeReasonCode::Success(Q4::AtLeastOnce)
        );
    }
    let (mut publisher, _) = V4::connect(&broker, "sh4-pub").await;
    for i in 0..4 {
        publisher
            .publish("t4", Q4::AtLeastOnce, false, format!("m{i}").as_bytes())
            .await;
    }
    let mut seen = BTreeSet::new();
    for c in [&mut a, &mut b] {
        for _ in 0..2 {
            seen.insert(c.recv_publish().await.payload.to_vec());
        }
    }
    assert_eq!(seen.len(), 4);
}

/// `mosquitto_sub -t '$queue/topic'`, as the seeds teach for EMQX: two
/// such subscribers share the messages (each exits after its share).
#[test]
fn queue_prefix_with_mosquitto_sub_shares_messages() {
    if common::hornet_only() {
        return; // Mosquitto has no $queue/
    }
    let broker = TestBroker::start();
    let port = broker.port().to_string();
    let sub = |id: &str| {
        let mut cmd = Command::new("stdbuf");
        cmd.args(["-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", &port])
            .args([
                "-i",
                id,
                "-t",
                "$queue/orders",
                "-q",
                "1",
                "-C",
                "2",
                "-v",
                "-d",
            ]);
        let mut p = Proc::spawn(id, &mut cmd, "mosquitto-clients");
        p.wait_line(TIMEOUT, "SUBACK", |l| l.starts_with("Subscribed (mid:"));
        p
    };
    let mut first = sub("q-sub-1");
    let mut second = sub("q-sub-2");
    for i in 0..4 {
        let status = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port, "-q", "1", "-t", "orders"])
            .args(["-m", &format!("order-{i}")])
            .status()
            .expect("mosquitto_pub runs");
        assert!(status.success());
    }
    first.expect_success(TIMEOUT);
    second.expect_success(TIMEOUT);
    let lines: Vec<String> = [first.output(), second.output()]
        .iter()
        .flat_map(|o| {
            o.lines()
                .filter(|l| l.starts_with("orders "))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let distinct: BTreeSet<_> = lines.iter().collect();
    assert_eq!(distinct.len(), 4, "each order once: {lines:?}");
}

/// Retained messages are not sent on a shared subscribe (§4.8.2), while a
/// plain subscription to the same topic gets them.
#[tokio::test]
async fn no_retained_messages_on_shared_subscribe() {
    if common::hornet_only() {
        return; // Mosquitto 2.0.11 sends retained messages to shared subscriptions
    }
    let broker = TestBroker::start();
    let (mut publisher, _) = Client::connect(&broker, "shr-pub").await;
    publisher
        .publish("shr/state", QoS::AtLeastOnce, true, b"retained")
        .await;
    let (mut sub, _) = Client::connect(&broker, "shr-sub").await;
    sub.subscribe("$share/g/shr/state", QoS::AtLeastOnce).await;
    sub.subscribe("shr/end", QoS::AtLeastOnce).await;
    publisher
        .publish("shr/end", QoS::AtLeastOnce, false, b"end")
        .await;
    assert!(payloads_until(&mut sub, b"end").await.is_empty());
    // Clean up the retained message for other runs against one broker.
    publisher
        .publish("shr/state", QoS::AtLeastOnce, true, b"")
        .await;
}

/// No Local on a shared subscription is a Protocol Error
/// ([MQTT-3.8.3-4]): DISCONNECT 0x82.
#[tokio::test]
async fn mqtt_3_8_3_4_no_local_on_shared_subscription_is_a_protocol_error() {
    if common::hornet_only() {
        return; // Mosquitto 2.0.11 accepts it
    }
    let broker = TestBroker::start();
    let (mut c, _) = Client::connect(&broker, "sh-nolocal").await;
    let mut filter = Filter::new("$share/g/nl", QoS::AtMostOnce);
    filter.nolocal = true;
    c.client.subscribe_many(vec![filter]).await.unwrap();
    let error = c.closed().await;
    assert!(
        matches!(
            error,
            ConnectionError::MqttState(StateError::ServerDisconnect {
                reason_code: DisconnectReasonCode::ProtocolError,
                ..
            })
        ),
        "expected DISCONNECT 0x82, got {error:?}"
    );
}

/// A client with a shared and a plain subscription matching one message
/// gets two copies (§4.8.2), and the shared copy carries the shared
/// subscription's identifier (§3.3.4).
#[tokio::test]
async fn shared_and_plain_subscriptions_each_deliver_with_their_identifier() {
    let broker = TestBroker::start();
    let (mut c, _) = Client::connect(&broker, "sh-both").await;
    c.subscribe_with_id("$share/g/both/t", QoS::AtLeastOnce, 7)
        .await;
    c.subscribe_with_id("both/t", QoS::AtLeastOnce, 9).await;
    let (mut publisher, _) = Client::connect(&broker, "sh-both-pub").await;
    publisher
        .publish("both/t", QoS::AtLeastOnce, false, b"x")
        .await;
    let mut ids = BTreeSet::new();
    for _ in 0..2 {
        let p = c.recv_publish().await;
        let props = p.properties.expect("subscription identifier");
        ids.extend(props.subscription_identifiers);
    }
    assert_eq!(ids, BTreeSet::from([7, 9]));
}

/// A member that is offline with a persistent session does not receive new
/// messages while another member is online; when every member is offline,
/// the persistent one keeps them for later.
#[tokio::test]
async fn offline_member_gets_messages_only_when_nobody_else_is_online() {
    if common::hornet_only() {
        return; // Mosquitto 2.0.11 queues for the offline member too
    }
    let broker = TestBroker::start();
    let mut opts = options(&broker, "sh-off-a");
    opts.set_clean_start(false);
    opts.set_session_expiry_interval(Some(300));
    let (mut a, _) = Client::connect_with(opts.clone()).await;
    a.subscribe("$share/g/off/t", QoS::AtLeastOnce).await;
    a.disconnect().await;

    let (mut b, _) = Client::connect(&broker, "sh-off-b").await;
    b.subscribe("$share/g/off/t", QoS::AtLeastOnce).await;
    let (mut publisher, _) = Client::connect(&broker, "sh-off-pub").await;
    for i in 0..4 {
        let payload = format!("online-{i}");
        publisher
            .publish("off/t", QoS::AtLeastOnce, false, payload.as_bytes())
            .await;
    }
    assert_eq!(take(&mut b, 4).await.len(), 4, "the online member gets all");
    b.disconnect().await;

    publisher
        .publish("off/t", QoS::AtLeastOnce, false, b"while-all-away")
        .await;
    let (mut a, _) = Client::connect_with(opts).await;
    assert_eq!(take(&mut a, 1).await, ["while-all-away"]);
}

/// A member that leaves with messages it has not acknowledged: they go to
/// another member of the group (MQTT 5.0 §4.8.2 SHOULD; Mosquitto and
/// EMQX lose them). The leaving member here is a raw client that never
/// acknowledges; the other member receives its own share and then the
/// message taken back.
#[tokio::test]
async fn unacknowledged_messages_of_a_leaving_member_go_to_another_member() {
    use hornet_codec::{Connect, Packet, Protocol, QoS as Q, Subscribe};
    if common::hornet_only() {
        return; // Mosquitto 2.0.11 keeps them for the member that left
    }
    let broker = TestBroker::start();
    let addr = broker.addr();
    // The member that will leave: subscribed first, so round robin picks it first.
    let mut leaver = tokio::task::spawn_blocking(move || {
        let mut raw = codec_client::Raw::connect_to(addr, Connect::new(Protocol::V5, "sh-leaver"));
        assert!(matches!(raw.recv(), Some(Packet::ConnAck(_))));
        let sub = Subscribe::new(
            hornet_codec::PacketId::new(1).unwrap(),
            "$share/g/handover/t",
            Q::AtLeastOnce,
        );
        raw.send(sub.into());
        assert!(matches!(raw.recv(), Some(Packet::SubAck(_))));
        raw
    })
    .await
    .unwrap();
    let (mut stayer, _) = Client::connect(&broker, "sh-stayer").await;
    stayer
        .subscribe("$share/g/handover/t", QoS::AtLeastOnce)
        .await;
    let (mut publisher, _) = Client::connect(&broker, "sh-handover-pub").await;
    for i in 0..2 {
        publisher
            .publish(
                "handover/t",
                QoS::AtLeastOnce,
                false,
                format!("m{i}").as_bytes(),
            )
            .await;
    }
    // The leaver receives m0 and never acknowledges it, then goes away.
    leaver = tokio::task::spawn_blocking(move || {
        match leaver.recv() {
            Some(Packet::Publish(p)) => assert_eq!(&p.payload[..], b"m0"),
            other => panic!("leaver: expected m0, got {other:?}"),
        }
        leaver
    })
    .await
    .unwrap();
    drop(leaver);
    assert_eq!(take(&mut stayer, 2).await, ["m1", "m0"]);
}

/// The strategy is configurable per broker and per group
/// (`shared_subscription_strategy`, `shared_group_strategy GROUP NAME` in
/// mosquitto.conf): with `sticky`, one member gets every message while it
/// stays connected.
#[tokio::test]
async fn sticky_strategy_from_the_config_keeps_one_member() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf(
        "shared_subscription_strategy random\nshared_group_strategy pinned sticky",
    );
    let (mut a, _) = Client::connect(&broker, "sh-st-a").await;
    let (mut b, _) = Client::connect(&broker, "sh-st-b").await;
    for c in [&mut a, &mut b] {
        c.subscribe("$share/pinned/st/t", QoS::AtLeastOnce).await;
        c.subscribe("st/end", QoS::AtLeastOnce).await;
    }
    let (mut publisher, _) = Client::connect(&broker, "sh-st-pub").await;
    for i in 0..6 {
        publisher
            .publish("st/t", QoS::AtLeastOnce, false, format!("m{i}").as_bytes())
            .await;
    }
    publisher
        .publish("st/end", QoS::AtLeastOnce, false, b"end")
        .await;
    let got_a = payloads_until(&mut a, b"end").await;
    let got_b = payloads_until(&mut b, b"end").await;
    let (all, none) = if got_a.is_empty() {
        (got_b, got_a)
    } else {
        (got_a, got_b)
    };
    assert_eq!(all, ["m0", "m1", "m2", "m3", "m4", "m5"]);
    assert!(none.is_empty());
}

/// A bad strategy name stops the broker with the file, line and the names
/// it accepts.
#[test]
fn an_unknown_strategy_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.conf");
    std::fs::write(
        &path,
        "listener 1883\nshared_subscription_strategy fastest\n",
    )
    .unwrap();
    let err = hornet::config::load(&path).unwrap_err().to_string();
    assert!(err.contains("bad.conf:2"), "{err}");
    assert!(err.contains("round_robin, random, sticky"), "{err}");
}
