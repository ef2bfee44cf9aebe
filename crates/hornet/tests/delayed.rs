//! Delayed publish (`$delayed/{seconds}/{topic}`, EMQX's) over real
//! sockets: a rumqttc MQTT 5 subscriber gets the message on its topic no
//! sooner than the delay; the admin API lists held messages and cancels
//! one; a held message survives SIGKILL of the `hornet` binary and is
//! published after the restart.
//!
//! Hornet only: Mosquitto declined delayed publish (`$delayed/1/t` is an
//! ordinary topic there).

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/process.rs"]
mod process;
#[path = "support/site.rs"]
mod site;
mod support;

use std::time::{Duration, Instant};

use common::TestBroker;
use rumqttc::v5::mqttbytes::QoS;
use serde_json::Value;
use support::v5::Client;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(common::TIMEOUT)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_delayed_message_arrives_on_its_topic_after_its_delay() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::start();
    let (mut sub, _) = Client::connect(&broker, "dl-sub").await;
    sub.subscribe("dl/#", QoS::AtLeastOnce).await;
    let (mut publisher, _) = Client::connect(&broker, "dl-pub").await;
    let sent = Instant::now();
    publisher
        .publish("$delayed/1/dl/wake", QoS::AtLeastOnce, false, b"ring")
        .await;
    let got = sub.recv_publish().await;
    let waited = sent.elapsed();
    assert_eq!(got.topic.as_ref(), b"dl/wake");
    assert_eq!(got.payload.as_ref(), b"ring");
    assert!(waited >= Duration::from_secs(1), "arrived after {waited:?}");
}

#[tokio::test]
async fn the_admin_api_lists_held_messages_and_cancels_one() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::start();
    let url = broker.admin_url();
    let (mut sub, _) = Client::connect(&broker, "dla-sub").await;
    sub.subscribe("dla/t", QoS::AtMostOnce).await;
    let (mut publisher, _) = Client::connect(&broker, "dla-pub").await;
    publisher
        .publish("$delayed/2/dla/t", QoS::AtLeastOnce, false, b"cancelled")
        .await;
    publisher
        .publish("$delayed/3/dla/t", QoS::AtLeastOnce, false, b"sentinel")
        .await;
    let list: Value = http()
        .get(format!("{url}/api/v1/delayed"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let data = list["data"].as_array().expect("a page");
    assert_eq!(data.len(), 2, "{list}");
    assert_eq!(data[0]["topic"], "dla/t");
    assert_eq!(data[0]["payload"], "cancelled");
    assert_eq!(data[0]["from"], "dla-pub");
    assert_eq!(data[0]["qos"], 1);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let due = data[0]["due_at"].as_u64().unwrap();
    assert!(
        due > now.saturating_sub(1) && due <= now + 3,
        "{due} vs {now}"
    );
    let id = data[0]["id"].as_u64().unwrap();

    let cancel = |id: u64| http().delete(format!("{url}/api/v1/delayed/{id}")).send();
    assert_eq!(cancel(id).await.unwrap().status(), 204);
    assert_eq!(cancel(id).await.unwrap().status(), 404, "once");
    // Only the sentinel arrives.
    let before: Vec<_> = sub.publishes_until(b"sentinel").await;
    assert!(before.is_empty(), "{before:?}");
}

/// A held QoS 1 message is acknowledged once its record is on disk; the
/// binary is killed before it is due, and the restarted broker publishes
/// it to the persistent subscriber when due.
#[test]
fn a_held_message_survives_sigkill_and_is_published_after_the_restart() {
    use codec_client::Raw;
    use hornet_codec::{Connect, Packet, PacketId, Property, Protocol, Publish, Subscribe};
    if common::hornet_only() {
        return;
    }
    let pid = |n| PacketId::new(n).unwrap();
    let connect = |site: &site::Site, id: &str, expiry: u32| {
        let mut c = Connect::new(Protocol::V5, id);
        c.clean_start = expiry == 0;
        if expiry > 0 {
            c.properties.push(Property::SessionExpiryInterval(expiry));
        }
        let mut raw = Raw::connect_to(site.addr(), c);
        assert!(matches!(raw.recv(), Some(Packet::ConnAck(_))), "{id}");
        raw
    };
    let site = site::Site::new();
    let broker = site.start();
    let mut sub = connect(&site, "dlr-sub", 600);
    sub.send(Subscribe::new(pid(1), "dlr/#", hornet_codec::QoS::AtLeastOnce).into());
    assert!(matches!(sub.recv(), Some(Packet::SubAck(_))));
    let mut publisher = connect(&site, "dlr-pub", 0);
    let mut p = Publish::new("$delayed/3/dlr/x", "kept");
    p.qos = hornet_codec::QoS::AtLeastOnce;
    p.packet_id = Some(pid(5));
    let sent = Instant::now();
    publisher.send(p.into());
    assert!(
        matches!(publisher.recv(), Some(Packet::PubAck(a)) if a.packet_id == pid(5)),
        "PUBACK after the record is durable"
    );
    drop(broker); // SIGKILL
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "killed before it was due"
    );

    let _broker = site.start();
    let mut sub = connect(&site, "dlr-sub", 600);
    let got = loop {
        match sub.recv() {
            Some(Packet::Publish(p)) => break p,
            Some(_) => {}
            None => panic!("closed while waiting for the delayed message"),
        }
    };
    assert_eq!(&*got.topic, "dlr/x");
    assert_eq!(got.payload.as_ref(), b"kept");
    assert!(sent.elapsed() >= Duration::from_secs(3));
}
