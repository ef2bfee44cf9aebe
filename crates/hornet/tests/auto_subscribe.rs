//! Auto-subscribe over real sockets: with `[mqtt] auto_subscribe`
//! templates, rumqttc clients (MQTT 5 and 3.1.1) that never send SUBSCRIBE
//! receive what is published to their own `devices/%c/cmd` as soon as
//! they are connected (the subscription is made with the CONNACK).
//!
//! Hornet only (Mosquitto has no auto-subscribe).

mod common;
mod support;

use common::TestBroker;

const CONF: &str = r#"
[mqtt]
auto_subscribe = [
  { topic = "devices/%c/cmd", qos = 1 },
  { topic = "broadcast" },
]
"#;

#[tokio::test]
async fn a_client_that_never_subscribes_receives_its_commands() {
    use rumqttc::v5::mqttbytes::QoS;
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_toml(CONF);
    let (mut device, _) = support::v5::Client::connect(&broker, "dev-5").await;
    let (mut app, _) = support::v5::Client::connect(&broker, "app-5").await;
    app.publish("devices/other/cmd", QoS::AtLeastOnce, false, b"not mine")
        .await;
    app.publish("devices/dev-5/cmd", QoS::AtLeastOnce, false, b"reboot")
        .await;
    app.publish("broadcast", QoS::AtMostOnce, false, b"hello all")
        .await;
    let first = device.recv_publish().await;
    assert_eq!(first.topic.as_ref(), b"devices/dev-5/cmd");
    assert_eq!(first.payload.as_ref(), b"reboot");
    assert_eq!(first.qos, QoS::AtLeastOnce);
    assert_eq!(device.recv_publish().await.payload.as_ref(), b"hello all");
}

#[tokio::test]
async fn an_mqtt311_client_is_subscribed_too() {
    use rumqttc::QoS;
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_toml(CONF);
    let (mut device, _) = support::v4::Client::connect(&broker, "dev-4").await;
    let (mut app, _) = support::v4::Client::connect(&broker, "app-4").await;
    app.publish("devices/dev-4/cmd", QoS::AtLeastOnce, false, b"update")
        .await;
    let got = device.recv_publish().await;
    assert_eq!(&got.topic, "devices/dev-4/cmd");
    assert_eq!(got.payload.as_ref(), b"update");
}
