//! Offline queue policies over real sockets: with `queue_policy latest` a
//! rumqttc MQTT 5 client that comes back gets the newest message of each
//! topic, not the history; `drop_oldest` keeps the newest messages when
//! the queue is full; the admin API shows the policy in the client's
//! detail.
//!
//! Hornet only: Mosquitto always drops the newest message.

mod common;
mod support;

use common::TestBroker;
use rumqttc::v5::mqttbytes::QoS;
use serde_json::Value;
use support::v5::{options, Client};

/// Subscribes `id` with a persistent session to `filter` and goes away.
async fn offline_subscriber(broker: &TestBroker, id: &str, filter: &str) {
    let mut opts = options(broker, id);
    opts.set_clean_start(false);
    opts.set_session_expiry_interval(Some(600));
    let (mut sub, _) = Client::connect_with(opts).await;
    sub.subscribe(filter, QoS::AtLeastOnce).await;
    sub.disconnect().await;
}

/// Reconnects `id`, publishes a sentinel on `sentinel_topic`, and returns
/// `topic=payload` of what arrived before it.
async fn come_back(broker: &TestBroker, id: &str, sentinel_topic: &str) -> Vec<String> {
    let mut opts = options(broker, id);
    opts.set_clean_start(false);
    opts.set_session_expiry_interval(Some(600));
    let (mut sub, connack) = Client::connect_with(opts).await;
    assert!(connack.session_present);
    let (mut p, _) = Client::connect(broker, &format!("{id}-sentinel")).await;
    p.publish(sentinel_topic, QoS::AtLeastOnce, false, b"sentinel")
        .await;
    sub.publishes_until(b"sentinel")
        .await
        .iter()
        .map(|m| {
            format!(
                "{}={}",
                String::from_utf8_lossy(&m.topic),
                String::from_utf8_lossy(&m.payload)
            )
        })
        .collect()
}

#[tokio::test]
async fn latest_delivers_only_the_newest_message_per_topic_after_a_reconnect() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf("queue_policy latest");
    offline_subscriber(&broker, "qp-device", "home/#").await;
    let (mut p, _) = Client::connect(&broker, "qp-pub").await;
    for (topic, payload) in [
        ("home/temp", "20"),
        ("home/door", "open"),
        ("home/temp", "21"),
        ("home/door", "closed"),
        ("home/temp", "22"),
    ] {
        p.publish(topic, QoS::AtLeastOnce, false, payload.as_bytes())
            .await;
    }
    assert_eq!(
        come_back(&broker, "qp-device", "home/end").await,
        ["home/door=closed", "home/temp=22"]
    );

    // The admin API shows the session's queue policy.
    let detail: Value = reqwest::get(format!("{}/api/v1/clients/qp-device", broker.admin_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["queue_policy"]["default"], "latest", "{detail}");
    assert_eq!(detail["queue_policy"]["rules"], serde_json::json!([]));
}

#[tokio::test]
async fn drop_oldest_keeps_the_newest_messages_of_a_full_queue() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf("queue_policy drop_oldest\nmax_queued_messages 2");
    offline_subscriber(&broker, "qo-device", "log/#").await;
    let (mut p, _) = Client::connect(&broker, "qo-pub").await;
    for n in 1..=4 {
        p.publish(
            "log/line",
            QoS::AtLeastOnce,
            false,
            n.to_string().as_bytes(),
        )
        .await;
    }
    // The queue held 2; the sentinel, published after the reconnect, follows.
    assert_eq!(
        come_back(&broker, "qo-device", "log/end").await,
        ["log/line=3", "log/line=4"]
    );
}
