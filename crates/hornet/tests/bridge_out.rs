//! Outgoing bridges against a real Mosquitto as the remote (issue 19):
//! a mosquitto.conf `connection` block with `out`, `in` and `both` topics
//! and prefixes, for MQTT 3.1.1 and 5; numbered QoS 1 messages; the state
//! notifications on both sides; no echo on `both`; and Hornet to Hornet.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/http.rs"]
mod http;
#[path = "support/process.rs"]
mod process;
#[path = "support/remote.rs"]
mod remote;

use common::TestBroker;
use hornet_codec::Protocol;
use http::http_get;
use remote::{client, next_publish, publish, publish_qos1, subscribe, wait_for, Remote};

const STATE: &str = "$SYS/broker/connection/hornet-b1/state";

fn bridge_conf(port: u16, version: &str) -> String {
    format!(
        "connection b1\naddress 127.0.0.1:{port}\nbridge_protocol_version {version}\n\
         remote_clientid hornet-b1\nrestart_timeout 1 2\ncleansession true\n\
         topic sensors/# out 1 \"\" edge/\n\
         topic cmd/# in 1 local/ remote/\n\
         topic chat/# both 1\n"
    )
}

fn out_in_both(version: &str, protocol: Protocol) {
    let remote = Remote::start("");
    // The remote's subscriber first, so it sees the notification arrive.
    let mut far = client(remote.port, "far", protocol, true);
    subscribe(&mut far, &["edge/sensors/#", "chat/#", STATE]);
    let hornet = TestBroker::with_conf(&bridge_conf(remote.port, version));
    let mut near = client(hornet.port(), "near", protocol, true);
    subscribe(&mut near, &["local/cmd/#", "chat/#", STATE]);

    // Notifications: retained "1" on both sides once connected (locally,
    // "0" may come first while the bridge connects).
    wait_for(&mut far, STATE, "1");
    wait_for(&mut near, STATE, "1");

    // out, with the remote prefix added: numbered QoS 1 messages in order.
    let mut near_pub = client(hornet.port(), "near-pub", protocol, true);
    for n in 1..=50u16 {
        publish_qos1(
            &mut near_pub,
            &format!("sensors/{}", n % 3),
            &n.to_string(),
            n,
        );
    }
    let mut got = Vec::new();
    while got.len() < 50 {
        let p = next_publish(&mut far);
        assert!(p.topic.starts_with("edge/sensors/"), "{}", p.topic);
        assert_eq!(p.qos, hornet_codec::QoS::AtLeastOnce);
        got.push(String::from_utf8(p.payload.to_vec()).unwrap());
    }
    let expected: Vec<String> = (1..=50).map(|n: u16| n.to_string()).collect();
    assert_eq!(got, expected, "every message once, in order");

    // in: the remote prefix removed, the local prefix added.
    let mut far_pub = client(remote.port, "far-pub", protocol, true);
    publish_qos1(&mut far_pub, "remote/cmd/light", "on", 1);
    let seen = wait_for(&mut near, "local/cmd/light", "on");
    assert!(seen.is_empty(), "{seen:?}");

    // both: a local message reaches the remote once and never comes back;
    // a remote one reaches here once and never goes back.
    publish(&mut near_pub, "chat/from-near", "a");
    publish(&mut far_pub, "chat/from-far", "b");
    let seen_far = wait_for(&mut far, "chat/from-far", "b");
    let seen_near = wait_for(&mut near, "chat/from-far", "b");
    // Markers sent after: an echo would arrive before them.
    publish(&mut near_pub, "chat/marker-near", "m");
    publish(&mut far_pub, "chat/marker-far", "m");
    let mut far_all: Vec<String> = seen_far.iter().map(|p| p.topic.to_string()).collect();
    far_all.extend(
        wait_for(&mut far, "chat/marker-far", "m")
            .iter()
            .map(|p| p.topic.to_string()),
    );
    let mut near_all: Vec<String> = seen_near.iter().map(|p| p.topic.to_string()).collect();
    near_all.extend(
        wait_for(&mut near, "chat/marker-far", "m")
            .iter()
            .map(|p| p.topic.to_string()),
    );
    assert_eq!(
        far_all.iter().filter(|t| *t == "chat/from-near").count(),
        1,
        "{far_all:?}"
    );
    assert_eq!(
        near_all.iter().filter(|t| *t == "chat/from-near").count(),
        1,
        "{near_all:?}"
    );
    assert_eq!(
        near_all.iter().filter(|t| *t == "chat/from-far").count(),
        0,
        "{near_all:?}"
    );
    assert!(
        !far_all.contains(&"chat/from-far".to_string()),
        "echo: {far_all:?}"
    );

    let [b] = &hornet.bridges()[..] else { panic!() };
    assert!(b.connected, "{b:?}");
    assert_eq!(b.address, format!("127.0.0.1:{}", remote.port));
    assert!(b.sent >= 51 && b.received >= 3, "{b:?}");
    assert_eq!((b.dropped, b.reconnects), (0, 0), "{b:?}");
    let metrics = http_get(hornet.admin_url().trim_start_matches("http://"), "/metrics");
    assert!(
        metrics.contains("hornet_bridge_connected{bridge=\"b1\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hornet_bridge_messages_received_total{bridge=\"b1\"} 3\n"),
        "{metrics}"
    );
    // The same in the admin API's JSON.
    let text = http_get(
        hornet.admin_url().trim_start_matches("http://"),
        "/api/v1/bridges",
    );
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    let bridges: serde_json::Value = serde_json::from_str(body).expect(&text);
    assert_eq!(bridges[0]["name"], "b1", "{bridges}");
    assert_eq!(bridges[0]["connected"], true, "{bridges}");
    assert_eq!(bridges[0]["received"], 3, "{bridges}");
    assert_eq!(
        bridges[0]["address"],
        format!("127.0.0.1:{}", remote.port),
        "{bridges}"
    );
}

#[test]
fn out_in_both_with_prefixes_mqtt311() {
    out_in_both("mqttv311", Protocol::V3_1_1);
}

#[test]
fn out_in_both_with_prefixes_mqtt5() {
    out_in_both("mqttv50", Protocol::V5);
}

#[test]
fn hornet_to_hornet() {
    let far = TestBroker::start();
    let mut far_sub = client(far.port(), "far", Protocol::V5, true);
    subscribe(&mut far_sub, &["up/#", STATE]);
    // MQTT 3.1.1 with try_private: the far Hornet knows the bridge as one
    // and lets it publish its state under $SYS/broker/connection/.
    let near = TestBroker::with_conf(&format!(
        "connection b1\naddress 127.0.0.1:{}\nbridge_protocol_version mqttv311\n\
         remote_clientid hornet-b1\nrestart_timeout 1\ntopic data/# out 1 \"\" up/\n",
        far.port()
    ));
    wait_for(&mut far_sub, STATE, "1");
    let mut near_pub = client(near.port(), "near-pub", Protocol::V5, true);
    for n in 1..=20u16 {
        publish_qos1(&mut near_pub, "data/x", &n.to_string(), n);
    }
    for n in 1..=20u16 {
        let p = next_publish(&mut far_sub);
        assert_eq!(p.topic, "up/data/x");
        assert_eq!(&p.payload[..], n.to_string().as_bytes());
    }
}

/// Publishes a retained message at QoS 1 (`""` clears the topic).
fn publish_retained(c: &mut codec_client::Raw, topic: &str, payload: &str, n: u16) {
    let mut p = hornet_codec::Publish::new(topic, payload.to_string());
    p.qos = hornet_codec::QoS::AtLeastOnce;
    p.retain = true;
    p.packet_id = Some(remote::pid(n));
    c.send(p.into());
    loop {
        if let Some(hornet_codec::Packet::PubAck(_)) = c.recv() {
            return;
        }
    }
}

/// What a fresh subscriber to `filter` gets as retained within a moment:
/// (topic, payload) pairs until a quiet half second.
fn retained_on(port: u16, filter: &str, protocol: Protocol) -> Vec<(String, String)> {
    let mut c = client(port, "retained-probe", protocol, true);
    subscribe(&mut c, &[filter]);
    let mut out = Vec::new();
    while let Ok(Some(p)) = c.recv_within(std::time::Duration::from_millis(500)) {
        if let hornet_codec::Packet::Publish(p) = p {
            assert!(p.retain, "{p:?}");
            out.push((
                p.topic.to_string(),
                String::from_utf8(p.payload.to_vec()).unwrap(),
            ));
        }
    }
    out
}

fn retained_cross(version: &str, protocol: Protocol) {
    let remote = Remote::start("");
    let mut far = client(remote.port, "far", protocol, true);
    subscribe(&mut far, &["edge/sensors/#", STATE]);
    let hornet = TestBroker::with_conf(&bridge_conf(remote.port, version));
    let mut near = client(hornet.port(), "near", protocol, true);
    subscribe(&mut near, &["local/cmd/#", STATE]);
    wait_for(&mut far, STATE, "1");
    wait_for(&mut near, STATE, "1");
    let mut near_pub = client(hornet.port(), "near-pub", protocol, true);
    let mut far_pub = client(remote.port, "far-pub", protocol, true);

    // Retained both ways, the flag kept across the bridge: a subscriber
    // that comes later gets it as retained ([MQTT-3.3.1-6]; live copies to
    // existing subscribers carry RETAIN 0, [MQTT-3.3.1-9]).
    publish_retained(&mut near_pub, "sensors/r", "out-kept", 1);
    publish_retained(&mut far_pub, "remote/cmd/r", "in-kept", 1);
    wait_for(&mut far, "edge/sensors/r", "out-kept");
    wait_for(&mut near, "local/cmd/r", "in-kept");
    assert_eq!(
        retained_on(remote.port, "edge/sensors/r", protocol),
        vec![("edge/sensors/r".into(), "out-kept".into())]
    );
    assert_eq!(
        retained_on(hornet.port(), "local/cmd/r", protocol),
        vec![("local/cmd/r".into(), "in-kept".into())]
    );
    // And their deletes (an empty retained message) too.
    publish_retained(&mut near_pub, "sensors/r", "", 2);
    publish_retained(&mut far_pub, "remote/cmd/r", "", 2);
    wait_for(&mut far, "edge/sensors/r", "");
    wait_for(&mut near, "local/cmd/r", "");
    assert_eq!(retained_on(remote.port, "edge/sensors/r", protocol), vec![]);
    assert_eq!(retained_on(hornet.port(), "local/cmd/r", protocol), vec![]);
}

#[test]
fn retained_messages_and_deletes_cross_mqtt311() {
    retained_cross("mqttv311", Protocol::V3_1_1);
}

#[test]
fn retained_messages_and_deletes_cross_mqtt5() {
    retained_cross("mqttv50", Protocol::V5);
}
