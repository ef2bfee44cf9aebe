//! Sessions made through the admin API (`POST /api/v1/sessions`) for a
//! client id that has never connected: a message published meanwhile
//! waits, and the rumqttc client that then connects without Clean Start
//! gets Session Present 1 ([MQTT-3.2.2-2]) and the message.
//!
//! Hornet only (Mosquitto has no admin API).

mod common;
mod support;

use common::TestBroker;
use rumqttc::v5::mqttbytes::QoS;
use serde_json::{json, Value};
use support::v5::{options, Client};

async fn post(broker: &TestBroker, body: &Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/sessions", broker.admin_url()))
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn a_message_waits_in_a_session_made_before_the_client_ever_connected() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::start();
    let body = json!({
        "client_id": "never-seen",
        "expiry_interval": 3600,
        "subscriptions": [{"filter": "cmd/never-seen", "qos": 1}],
    });
    let (status, answer) = post(&broker, &body).await;
    assert_eq!(status, 201, "{answer}");
    let (status, answer) = post(&broker, &body).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"], "session_exists");

    let (mut app, _) = Client::connect(&broker, "ps-app").await;
    app.publish("cmd/never-seen", QoS::AtLeastOnce, false, b"configure")
        .await;

    let mut opts = options(&broker, "never-seen");
    opts.set_clean_start(false);
    opts.set_session_expiry_interval(Some(3600));
    let (mut device, connack) = Client::connect_with(opts).await;
    assert!(connack.session_present, "the session was waiting for it");
    let got = device.recv_publish().await;
    assert_eq!(got.topic.as_ref(), b"cmd/never-seen");
    assert_eq!(got.payload.as_ref(), b"configure");
}
