//! Topic rewrite rules (`[mqtt] rewrite`, EMQX's) over real sockets:
//! rumqttc clients subscribe to and publish on `x/y/...`, and the broker
//! routes them as `z/y/...`; an UNSUBSCRIBE with the client's own filter
//! ends the rewritten subscription.
//!
//! Hornet only (Mosquitto has no rewrite rules).

mod common;
mod support;

use common::TestBroker;
use rumqttc::v5::mqttbytes::QoS;
use support::v5::Client;

const CONF: &str = r#"
[mqtt]
rewrite = [
  { action = "all", source_topic = "x/#", re = "^x/y/(.+)$", dest_topic = "z/y/$1" },
]
"#;

#[tokio::test]
async fn publish_subscribe_and_unsubscribe_are_rewritten() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_toml(CONF);
    let (mut sub, _) = Client::connect(&broker, "rw-sub").await;
    sub.subscribe("x/y/+", QoS::AtLeastOnce).await;
    let (mut p, _) = Client::connect(&broker, "rw-pub").await;
    p.publish("x/y/1", QoS::AtLeastOnce, false, b"rewritten")
        .await;
    let got = sub.recv_publish().await;
    assert_eq!(got.topic.as_ref(), b"z/y/1");
    assert_eq!(got.payload.as_ref(), b"rewritten");
    // A publisher on the destination topic reaches the rewritten filter.
    p.publish("z/y/2", QoS::AtLeastOnce, false, b"direct").await;
    assert_eq!(sub.recv_publish().await.payload.as_ref(), b"direct");

    sub.client.unsubscribe("x/y/+").await.unwrap();
    sub.until("UNSUBACK", |e| match e {
        rumqttc::v5::Event::Incoming(rumqttc::v5::mqttbytes::v5::Packet::UnsubAck(a)) => {
            Some(a.reasons.clone())
        }
        _ => None,
    })
    .await;
    let subscriptions = broker.inspect(|b| b.subscription_count()).expect("hornet");
    assert_eq!(subscriptions, 0, "the rewritten subscription is gone");
}
