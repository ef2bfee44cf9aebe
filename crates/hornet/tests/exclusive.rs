//! Exclusive subscriptions (`$exclusive/{filter}`, EMQX's) over real
//! sockets with rumqttc: the first client holds the filter, a second is
//! refused (MQTT 5 SUBACK 0x97, 3.1.1 0x80), and the filter is free again
//! once the holder unsubscribes or its session ends.
//!
//! Hornet only: Mosquitto has no exclusive subscriptions (`$exclusive/t`
//! is an ordinary filter there).

mod common;
mod support;

use common::TestBroker;
use rumqttc::v5::mqttbytes::v5::SubscribeReasonCode;
use rumqttc::v5::mqttbytes::QoS;

#[tokio::test]
async fn a_second_mqtt5_subscriber_gets_0x97_until_the_holder_unsubscribes() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::start();
    let (mut holder, _) = support::v5::Client::connect(&broker, "ex5-holder").await;
    let (mut other, _) = support::v5::Client::connect(&broker, "ex5-other").await;
    assert_eq!(
        holder
            .subscribe("$exclusive/jobs/#", QoS::AtLeastOnce)
            .await,
        SubscribeReasonCode::Success(QoS::AtLeastOnce)
    );
    assert_eq!(
        other.subscribe("$exclusive/jobs/#", QoS::AtLeastOnce).await,
        SubscribeReasonCode::QuotaExceeded
    );
    // The holder receives what is published to the plain topic.
    let (mut publisher, _) = support::v5::Client::connect(&broker, "ex5-pub").await;
    publisher
        .publish("jobs/1", QoS::AtLeastOnce, false, b"one")
        .await;
    assert_eq!(holder.recv_publish().await.payload.as_ref(), b"one");

    holder
        .client
        .unsubscribe("$exclusive/jobs/#")
        .await
        .expect("queue UNSUBSCRIBE");
    holder
        .until("UNSUBACK", |e| match e {
            rumqttc::v5::Event::Incoming(rumqttc::v5::mqttbytes::v5::Packet::UnsubAck(_)) => {
                Some(())
            }
            _ => None,
        })
        .await;
    assert_eq!(
        other.subscribe("$exclusive/jobs/#", QoS::AtLeastOnce).await,
        SubscribeReasonCode::Success(QoS::AtLeastOnce)
    );
    publisher
        .publish("jobs/2", QoS::AtLeastOnce, false, b"two")
        .await;
    assert_eq!(other.recv_publish().await.payload.as_ref(), b"two");
}

#[tokio::test]
async fn an_mqtt311_subscriber_gets_0x80_until_the_holders_session_ends() {
    use rumqttc::{QoS, SubscribeReasonCode};
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::start();
    let (holder, _) = support::v4::Client::connect(&broker, "ex4-holder").await;
    let (mut other, _) = support::v4::Client::connect(&broker, "ex4-other").await;
    let mut holder = holder;
    assert_eq!(
        holder.subscribe("$exclusive/state", QoS::AtMostOnce).await,
        SubscribeReasonCode::Success(QoS::AtMostOnce)
    );
    assert_eq!(
        other.subscribe("$exclusive/state", QoS::AtMostOnce).await,
        SubscribeReasonCode::Failure
    );
    // A clean session ends with its connection, and its claim with it.
    holder.disconnect().await;
    assert_eq!(
        other.subscribe("$exclusive/state", QoS::AtMostOnce).await,
        SubscribeReasonCode::Success(QoS::AtMostOnce)
    );
}
