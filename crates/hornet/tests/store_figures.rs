//! The durable store's figures where users look: `/metrics` (with the
//! `hornet_store_fsync_seconds` histogram), `GET /api/v1/broker` and
//! `$SYS/broker/store/...`, through real HTTP (reqwest) and a real MQTT
//! client, moving after durable QoS 1 publishes. Hornet-only: Mosquitto
//! has neither the admin API nor these topics.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;

use std::collections::BTreeMap;
use std::time::Instant;

use codec_client::Raw;
use common::TestBroker;
use hornet_codec::{Connect, Packet, PacketId, Protocol, Publish, QoS, ReasonCode, Subscribe};
use serde_json::Value;

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn connect(broker: &TestBroker, id: &str, clean: bool) -> Raw {
    let mut c = Connect::new(Protocol::V3_1_1, id);
    c.clean_start = clean;
    let mut raw = Raw::connect_to(broker.addr(), c);
    assert!(matches!(raw.recv(), Some(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success));
    raw
}

fn http_get(rt: &tokio::runtime::Runtime, url: String) -> String {
    rt.block_on(async move {
        let r = reqwest::Client::builder()
            .timeout(common::TIMEOUT)
            .build()
            .unwrap()
            .get(url)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.text().await.unwrap()
    })
}

/// The value of the unlabelled sample `name` in a Prometheus text page.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Polls `check` (bounded by `common::TIMEOUT`): the store thread publishes
/// its counters after each commit.
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + common::TIMEOUT;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// [Issue 7 follow-up] After 20 QoS 1 messages stored for an offline
/// persistent subscriber, `/metrics`, `/api/v1/broker` and `$SYS` show
/// messages written, fsyncs, commits, a non-empty fsync histogram and a
/// store size on disk.
#[test]
fn store_figures_move_after_durable_qos1_publishes() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::with_conf(&format!(
        "persistence true\npersistence_location {}\nsys_interval 1\n",
        dir.path().join("data").display()
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let metrics_url = format!("{}/metrics", broker.admin_url());
    let broker_url = format!("{}/api/v1/broker", broker.admin_url());

    // Before: the families exist (persistence is on) and nothing was written.
    let before = http_get(&rt, metrics_url.clone());
    assert!(
        before.contains("# TYPE hornet_store_fsync_seconds histogram"),
        "{before}"
    );
    let written_before = sample(&before, "hornet_store_messages_written_total").unwrap();
    assert_eq!(written_before, 0.0);

    // A persistent subscriber goes offline: its messages must be stored.
    let mut sub = connect(&broker, "figures-sub", false);
    sub.send(Subscribe::new(pid(1), "fig/#", QoS::AtLeastOnce).into());
    assert!(matches!(sub.recv(), Some(Packet::SubAck(_))));
    drop(sub);
    let mut publisher = connect(&broker, "figures-pub", true);
    for n in 1..=20u16 {
        let mut p = Publish::new("fig/t", format!("m{n}"));
        p.qos = QoS::AtLeastOnce;
        p.packet_id = Some(pid(n));
        publisher.send(p.into());
        // PUBACK waits for the fsync: each one is a durable message.
        assert!(matches!(publisher.recv(), Some(Packet::PubAck(a)) if a.packet_id == pid(n)));
    }

    // /metrics
    let text = eventually("/metrics to count 20 messages", || {
        let text = http_get(&rt, metrics_url.clone());
        (sample(&text, "hornet_store_messages_written_total")? >= 20.0).then_some(text)
    });
    let fsyncs = sample(&text, "hornet_store_fsyncs_total").unwrap();
    assert!(fsyncs >= 1.0, "{text}");
    assert!(sample(&text, "hornet_store_commits_total").unwrap() >= 1.0);
    assert!(sample(&text, "hornet_store_records_written_total").unwrap() >= 40.0);
    assert!(sample(&text, "hornet_store_disk_bytes").unwrap() > 0.0);
    assert!(sample(&text, "hornet_store_live_bytes").unwrap() > 0.0);
    assert!(sample(&text, "hornet_store_messages_per_fsync").unwrap() > 0.0);
    assert_eq!(sample(&text, "hornet_store_failures_total"), Some(0.0));
    let count = sample(&text, "hornet_store_fsync_seconds_count").unwrap();
    assert!(count >= fsyncs, "every fsync is timed: {text}");
    assert!(sample(&text, "hornet_store_fsync_seconds_sum").unwrap() > 0.0);
    assert_eq!(
        sample(&text, "hornet_store_fsync_seconds_bucket{le=\"+Inf\"}"),
        Some(count)
    );

    // GET /api/v1/broker
    let body: Value = serde_json::from_str(&http_get(&rt, broker_url)).unwrap();
    let store = &body["store"];
    assert!(store["messages_written"].as_u64().unwrap() >= 20, "{body}");
    assert!(store["fsyncs"].as_u64().unwrap() >= 1);
    assert!(store["disk_bytes"].as_u64().unwrap() > 0);
    assert!(store["fsync_seconds"]["count"].as_u64().unwrap() >= 1);
    assert!(!store["fsync_seconds"]["buckets"]
        .as_array()
        .unwrap()
        .is_empty());

    // $SYS/broker/store/...
    let mut watcher = connect(&broker, "figures-sys", true);
    watcher.send(Subscribe::new(pid(1), "$SYS/broker/store/#", QoS::AtMostOnce).into());
    let mut seen = BTreeMap::<String, String>::new();
    let value = |seen: &BTreeMap<String, String>, topic: &str| {
        seen.get(&format!("$SYS/broker/store/{topic}"))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // One publication carries every changed value: wait for all to catch up.
    while value(&seen, "messages/written") < 20
        || value(&seen, "fsyncs") < 1
        || value(&seen, "bytes") == 0
    {
        match watcher.recv() {
            Some(Packet::Publish(p)) => {
                seen.insert(
                    p.topic.to_string(),
                    String::from_utf8_lossy(&p.payload).into_owned(),
                );
            }
            Some(_) => {}
            None => panic!("closed; saw {seen:?}"),
        }
    }
    for topic in [
        "bytes",
        "live_bytes",
        "records/written",
        "commits",
        "fsyncs",
        "messages_per_fsync",
        "fsync/average_ms",
        "compactions",
        "failures",
    ] {
        let topic = format!("$SYS/broker/store/{topic}");
        assert!(seen.contains_key(&topic), "{topic} missing from {seen:?}");
    }
    assert!(seen["$SYS/broker/store/messages_per_fsync"]
        .parse::<f64>()
        .is_ok());
}

/// Without persistence the store's families are absent (never faked) and
/// `/api/v1/broker` says `"store": null`.
#[test]
fn without_persistence_there_are_no_store_figures() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf("persistence false\n");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let text = http_get(&rt, format!("{}/metrics", broker.admin_url()));
    assert!(!text.contains("hornet_store_"), "{text}");
    let body: Value = serde_json::from_str(&http_get(
        &rt,
        format!("{}/api/v1/broker", broker.admin_url()),
    ))
    .unwrap();
    assert!(body["store"].is_null(), "{body}");
}
