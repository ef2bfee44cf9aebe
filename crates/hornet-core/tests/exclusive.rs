//! Exclusive subscriptions (`$exclusive/{filter}`, EMQX's): one session
//! per filter at a time; another gets SUBACK 0x97 (3.x 0x80) and a log
//! line naming both clients; the claim ends with an UNSUBSCRIBE or the
//! holder's session.

#[path = "support/logs.rs"]
mod logs;
mod support;

use hornet_codec::{Packet, Protocol, QoS, ReasonCode, SubAck, Unsubscribe};
use hornet_core::Settings;
use support::{message, payloads, pid, Harness};

fn unsubscribe(h: &mut Harness, conn: hornet_core::ConnId, filter: &str) -> Vec<ReasonCode> {
    h.send(conn, Unsubscribe::new(pid(2), filter));
    match h.take(conn).first() {
        Some(Packet::UnsubAck(a)) => a.reason_codes.clone(),
        other => panic!("no UNSUBACK: {other:?}"),
    }
}

#[test]
fn a_second_exclusive_subscriber_is_refused_with_0x97_and_a_line_naming_both() {
    let mut h = Harness::new();
    let a = h.connect_v5("holder", 0);
    let b = h.connect_v5("latecomer", 0);
    assert_eq!(
        h.subscribe(a, "$exclusive/jobs/+", QoS::AtLeastOnce),
        vec![ReasonCode::GrantedQos1]
    );
    let mut codes = Vec::new();
    let lines = logs::logged(|| codes = h.subscribe(b, "$exclusive/jobs/+", QoS::AtLeastOnce));
    assert_eq!(codes, vec![ReasonCode::QuotaExceeded]);
    let line = lines
        .iter()
        .find(|l| l.contains("exclusive"))
        .unwrap_or_else(|| panic!("no log line: {lines:?}"));
    assert!(
        line.contains("latecomer") && line.contains("holder") && line.contains("jobs/+"),
        "{line}"
    );
    // The holder receives on the plain topic; the refused client does not.
    let p = h.connect_v5("publisher", 0);
    h.publish(p, "jobs/1", "run", QoS::AtMostOnce, false);
    assert_eq!(payloads(&h.take(a)), vec!["run"]);
    assert!(h.take(b).is_empty());
}

#[test]
fn mqtt_3_refusal_is_0x80() {
    let mut h = Harness::new();
    let a = h.connect("one", Protocol::V3_1_1, true);
    let b = h.connect("two", Protocol::V3_1_1, true);
    assert_eq!(
        h.subscribe(a, "$exclusive/t", QoS::AtMostOnce),
        vec![ReasonCode::Success]
    );
    // The core says 0x97; the codec maps it to 3.x's only failure, 0x80
    // ([MQTT-3.9.3-2]).
    h.send(
        b,
        hornet_codec::Subscribe::new(pid(1), "$exclusive/t", QoS::AtMostOnce),
    );
    let got = h.take(b);
    let Some(Packet::SubAck(SubAck { reason_codes, .. })) = got.first() else {
        panic!("no SUBACK: {got:?}")
    };
    assert_eq!(reason_codes, &vec![ReasonCode::QuotaExceeded]);
    let mut bytes = hornet_codec::bytes::BytesMut::new();
    got[0]
        .encode(Protocol::V3_1_1, &mut bytes)
        .expect("encodes");
    assert_eq!(*bytes.last().unwrap(), 0x80, "{bytes:02x?}");
}

#[test]
fn the_claim_ends_when_the_holder_unsubscribes() {
    let mut h = Harness::new();
    let a = h.connect_v5("a", 0);
    let b = h.connect_v5("b", 0);
    h.subscribe(a, "$exclusive/t", QoS::AtMostOnce);
    assert_eq!(
        h.subscribe(b, "$exclusive/t", QoS::AtMostOnce),
        vec![ReasonCode::QuotaExceeded]
    );
    // The refused client had nothing to unsubscribe.
    assert_eq!(
        unsubscribe(&mut h, b, "$exclusive/t"),
        vec![ReasonCode::NoSubscriptionExisted]
    );
    assert_eq!(
        unsubscribe(&mut h, a, "$exclusive/t"),
        vec![ReasonCode::Success]
    );
    assert_eq!(
        h.subscribe(b, "$exclusive/t", QoS::AtMostOnce),
        vec![ReasonCode::Success]
    );
    let p = h.connect_v5("p", 0);
    h.publish(p, "t", "x", QoS::AtMostOnce, false);
    assert!(h.take(a).is_empty(), "unsubscribed");
    assert_eq!(payloads(&h.take(b)), vec!["x"]);
}

#[test]
fn the_claim_ends_with_the_holders_session_not_with_its_connection() {
    let mut h = Harness::new();
    let a = h.connect_v5("a", 60);
    let b = h.connect_v5("b", 0);
    h.subscribe(a, "$exclusive/t", QoS::AtLeastOnce);
    h.close(a);
    // The session lives on offline: it still holds the filter.
    assert_eq!(
        h.subscribe(b, "$exclusive/t", QoS::AtMostOnce),
        vec![ReasonCode::QuotaExceeded]
    );
    h.advance(std::time::Duration::from_secs(61));
    assert_eq!(h.broker.session_count(), 1, "a's session expired");
    assert_eq!(
        h.subscribe(b, "$exclusive/t", QoS::AtMostOnce),
        vec![ReasonCode::Success]
    );
    // A clean session's claim ends with its connection.
    let c = h.connect_v5("c", 0);
    h.subscribe(c, "$exclusive/u", QoS::AtMostOnce);
    h.close(c);
    assert_eq!(
        h.subscribe(b, "$exclusive/u", QoS::AtMostOnce),
        vec![ReasonCode::Success]
    );
}

#[test]
fn a_plain_subscription_to_the_same_filter_is_not_affected_and_replaces_ones_own() {
    let mut h = Harness::new();
    let a = h.connect_v5("a", 0);
    let b = h.connect_v5("b", 0);
    h.subscribe(a, "$exclusive/t", QoS::AtMostOnce);
    assert_eq!(
        h.subscribe(b, "t", QoS::AtMostOnce),
        vec![ReasonCode::Success]
    );
    let p = h.connect_v5("p", 0);
    h.publish(p, "t", "1", QoS::AtMostOnce, false);
    assert_eq!(payloads(&h.take(a)), vec!["1"]);
    assert_eq!(payloads(&h.take(b)), vec!["1"]);
    // a's plain subscription to `t` replaces its exclusive one
    // ([MQTT-3.8.4-3]): one copy, and the claim is gone.
    h.subscribe(a, "t", QoS::AtMostOnce);
    h.publish(p, "t", "2", QoS::AtMostOnce, false);
    assert_eq!(payloads(&h.take(a)), vec!["2"]);
    assert_eq!(payloads(&h.take(b)), vec!["2"]);
    assert_eq!(
        h.subscribe(b, "$exclusive/t", QoS::AtMostOnce),
        vec![ReasonCode::Success]
    );
    assert_eq!(h.broker.subscription_count(), 2);
}

#[test]
fn an_exclusive_filter_gets_retained_messages_and_an_empty_one_is_refused() {
    let mut h = Harness::new();
    let p = h.connect_v5("p", 0);
    h.send(p, {
        let mut m = message("state/x", "on", QoS::AtMostOnce);
        m.retain = true;
        m
    });
    let a = h.connect_v5("a", 0);
    h.subscribe(a, "$exclusive/state/#", QoS::AtMostOnce);
    assert_eq!(payloads(&h.take(a)), vec!["on"]);
    assert_eq!(
        h.subscribe(a, "$exclusive/", QoS::AtMostOnce),
        vec![ReasonCode::TopicFilterInvalid]
    );
}

#[test]
fn switched_off_the_prefix_is_an_ordinary_filter() {
    let mut h = Harness::with(Settings {
        sys_interval: None,
        exclusive_subscriptions: false,
        ..Settings::default()
    });
    let a = h.connect_v5("a", 0);
    let b = h.connect_v5("b", 0);
    h.subscribe(a, "$exclusive/t", QoS::AtMostOnce);
    assert_eq!(
        h.subscribe(b, "$exclusive/t", QoS::AtMostOnce),
        vec![ReasonCode::Success]
    );
    let p = h.connect_v5("p", 0);
    h.publish(p, "t", "plain", QoS::AtMostOnce, false);
    assert!(h.take(a).is_empty(), "not the filter `t`");
}
