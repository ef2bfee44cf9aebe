//! Sessions made through the admin API for client ids that never
//! connected: messages wait in them, the client resumes them (Session
//! Present 1, [MQTT-3.2.2-2]) and receives what waited; they expire and
//! are recorded like any persistent session.

mod support;

use std::time::Duration;

use hornet_codec::{Connect, Property, Protocol, QoS};
use hornet_core::persist::StoreOp;
use hornet_core::{AckPolicy, AdminError, PresetSession};
use support::{payloads, Harness};

fn preset(client_id: &str, expiry: u32, subs: &[(&str, QoS)]) -> PresetSession {
    PresetSession {
        client_id: client_id.into(),
        expiry_interval: expiry,
        subscriptions: subs.iter().map(|(f, q)| (f.to_string(), *q)).collect(),
    }
}

#[test]
fn messages_wait_for_a_client_that_never_connected() {
    let mut h = Harness::new();
    let now = h.now;
    h.broker
        .admin_create_session(
            now,
            preset("sensor-9", 3600, &[("cmd/sensor-9", QoS::AtLeastOnce)]),
        )
        .unwrap();
    let p = h.connect_v5("app", 0);
    h.publish(p, "cmd/sensor-9", "calibrate", QoS::AtLeastOnce, false);
    assert_eq!(h.broker.queue_state("sensor-9").unwrap().queued, 1);

    let mut c = Connect::new(Protocol::V5, "sensor-9");
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(3600));
    let (id, ack) = h.connect_with(c);
    assert!(ack.session_present, "the session was waiting");
    assert_eq!(payloads(&h.take(id)), ["calibrate"]);
}

#[test]
fn a_31_client_resumes_it_with_clean_session_0() {
    let mut h = Harness::new();
    let now = h.now;
    h.broker
        .admin_create_session(now, preset("old", u32::MAX, &[("a/#", QoS::ExactlyOnce)]))
        .unwrap();
    let p = h.connect_v5("app", 0);
    h.publish(p, "a/b", "kept", QoS::ExactlyOnce, false);
    let id = h.connect("old", Protocol::V3_1_1, false);
    let got = h.receive(id);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].qos, QoS::ExactlyOnce);
}

#[test]
fn refusals_and_expiry() {
    let mut h = Harness::new();
    let now = h.now;
    h.connect_v5("live", 0);
    assert_eq!(
        h.broker.admin_create_session(now, preset("live", 60, &[])),
        Err(AdminError::SessionExists("live".into()))
    );
    assert!(matches!(
        h.broker
            .admin_create_session(now, preset("x", 60, &[("a/#/b", QoS::AtMostOnce)])),
        Err(AdminError::InvalidTopic(_))
    ));
    assert!(matches!(
        h.broker.admin_create_session(now, preset("x", 0, &[])),
        Err(AdminError::NotAllowed(_))
    ));
    h.broker
        .admin_create_session(now, preset("brief", 10, &[("t", QoS::AtLeastOnce)]))
        .unwrap();
    assert_eq!(h.broker.session_count(), 2);
    h.advance(Duration::from_secs(10));
    assert_eq!(h.broker.session_count(), 1, "expired unclaimed");
    assert_eq!(h.broker.subscription_count(), 0);
}

#[test]
fn the_session_is_recorded_for_the_store() {
    let mut h = Harness::persistent(AckPolicy::AfterDurable);
    let now = h.now;
    h.broker
        .admin_create_session(now, preset("dev", 600, &[("t", QoS::AtLeastOnce)]))
        .unwrap();
    let ops = h.take_records();
    let record = ops
        .iter()
        .find_map(|op| match op {
            StoreOp::Session(r) => Some(r),
            _ => None,
        })
        .expect("a session record");
    assert_eq!(record.client_id, "dev");
    assert_eq!(record.subscriptions.len(), 1);
    assert_eq!(record.expiry, 600);
}
