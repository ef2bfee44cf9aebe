//! `Broker::send_many`: a fan-out's plain QoS 0 copies leave as one
//! `Action::SendMany` (the message once, the connections in a list), and
//! every connection receives exactly what it receives with one `Send` per
//! copy, in the same order, with the same counters. The same script runs
//! on two brokers, one with it off and one with it on, over subscribers of
//! every kind a copy can differ for (protocol versions, a Subscription
//! Identifier, Retain As Published, overlapping filters, Maximum Packet
//! Size, outbound topic aliases, a queue already waiting, offline).

mod support;

use std::collections::BTreeMap;

use hornet_codec::{
    Ack, Connect, Packet, Property, Protocol, QoS, RetainHandling, Subscribe, SubscribeFilter,
    SubscriptionOptions,
};
use hornet_core::{Action, ConnId, Settings};
use support::*;

/// Subscribes `conn` to `filter` with `options` and an optional identifier.
fn subscribe(
    w: &mut Harness,
    conn: ConnId,
    filter: &str,
    options: SubscriptionOptions,
    identifier: Option<u32>,
) {
    let mut s = Subscribe::new(pid(1), filter, options.qos);
    s.filters = vec![SubscribeFilter {
        filter: filter.into(),
        options,
    }];
    if let Some(i) = identifier {
        s.properties.push(Property::SubscriptionIdentifier(i));
    }
    w.send(conn, s);
    w.take(conn);
}

fn options(qos: QoS, retain_as_published: bool) -> SubscriptionOptions {
    SubscriptionOptions {
        qos,
        no_local: false,
        retain_as_published,
        retain_handling: RetainHandling::OnSubscribe,
    }
}

/// Runs the script; what every connection received, the actions that
/// carried it, and the broker's counters.
fn script(
    send_many: bool,
) -> (
    BTreeMap<ConnId, Vec<Packet>>,
    Vec<Action>,
    hornet_core::Stats,
) {
    let mut w = Harness::with(Settings {
        sys_interval: None,
        // Small enough that the QoS 1 subscriber's window and the budget
        // of unwritten packets fill during the script.
        max_inflight_messages: 2,
        max_unwritten_packets: 6,
        ..Settings::default()
    });
    w.broker.send_many(send_many);
    let mut subs = Vec::new();
    // Plain subscribers of each protocol version.
    for (i, protocol) in [Protocol::V3_1, Protocol::V3_1_1, Protocol::V5]
        .into_iter()
        .enumerate()
    {
        let c = w.connect(&format!("plain-{i}"), protocol, true);
        subscribe(&mut w, c, "t/#", options(QoS::AtMostOnce, false), None);
        subs.push(c);
    }
    // A Subscription Identifier, Retain As Published, QoS 1, and two
    // overlapping filters.
    let c = w.connect("ident", Protocol::V5, true);
    subscribe(&mut w, c, "t/#", options(QoS::AtMostOnce, false), Some(9));
    subs.push(c);
    let c = w.connect("rap", Protocol::V5, true);
    subscribe(&mut w, c, "t/#", options(QoS::AtMostOnce, true), None);
    subs.push(c);
    let c = w.connect("qos1", Protocol::V3_1_1, true);
    subscribe(&mut w, c, "t/#", options(QoS::AtLeastOnce, false), None);
    subs.push(c);
    let c = w.connect("overlap", Protocol::V3_1_1, true);
    subscribe(&mut w, c, "t/#", options(QoS::AtMostOnce, false), None);
    subscribe(&mut w, c, "t/+", options(QoS::AtMostOnce, false), None);
    subs.push(c);
    // A Maximum Packet Size that lets only short messages through, and
    // outbound topic aliases.
    let mut small = Connect::new(Protocol::V5, "small");
    small.properties.push(Property::MaximumPacketSize(40));
    let (c, _) = w.connect_with(small);
    subscribe(&mut w, c, "t/#", options(QoS::AtMostOnce, false), None);
    subs.push(c);
    let mut aliases = Connect::new(Protocol::V5, "aliases");
    aliases.properties.push(Property::TopicAliasMaximum(4));
    let (c, _) = w.connect_with(aliases);
    subscribe(&mut w, c, "t/#", options(QoS::AtMostOnce, false), None);
    subs.push(c);
    // An offline persistent session.
    let gone = w.connect_v5("gone", 3600);
    subscribe(&mut w, gone, "t/#", options(QoS::AtLeastOnce, false), None);
    w.close(gone);

    let publisher = w.connect("pub", Protocol::V3_1_1, true);
    let mark = w.mark();
    for i in 0..8 {
        let retain = i % 3 == 0;
        let long = "x".repeat(if i % 2 == 0 { 4 } else { 60 });
        w.publish(
            publisher,
            "t/a",
            &format!("{i}{long}"),
            QoS::AtMostOnce,
            retain,
        );
        if i == 4 {
            // One with a property: every copy goes the usual way.
            let mut p = message("t/a", "props", QoS::AtMostOnce);
            p.properties
                .push(Property::UserProperty("k".into(), "v".into()));
            w.send(publisher, p);
            // A QoS 1 message.
            w.publish_flow(publisher, message("t/b", "q1", QoS::AtLeastOnce));
        }
        if i == 5 {
            // Half the subscribers report their packets written: the
            // budget frees up for them, the others stay queued.
            for &c in subs.iter().step_by(2) {
                w.broker.packets_written(c, 6, 0);
                w.pump();
            }
        }
    }
    let actions = w.since(mark);
    let mut got = BTreeMap::new();
    for &c in &subs {
        let packets = w.take(c);
        // QoS 1 deliveries are acknowledged, so the window moves.
        for p in &packets {
            if let Packet::Publish(p) = p {
                if let Some(id) = p.packet_id {
                    w.send(c, Packet::PubAck(Ack::new(id)));
                }
            }
        }
        got.insert(c, packets);
    }
    (got, actions, w.broker.stats().clone())
}

#[test]
fn every_connection_receives_the_same_with_send_many_on_and_off() {
    let (each, each_actions, each_stats) = script(false);
    let (many, many_actions, many_stats) = script(true);
    assert!(
        !each_actions
            .iter()
            .any(|a| matches!(a, Action::SendMany { .. })),
        "off by default"
    );
    let batched = many_actions
        .iter()
        .filter_map(|a| match a {
            Action::SendMany { conns, .. } => Some(conns.len()),
            _ => None,
        })
        .collect::<Vec<_>>();
    assert!(
        batched.iter().any(|&n| n >= 3),
        "plain copies went together: {batched:?}"
    );
    for (conn, packets) in &each {
        assert!(!packets.is_empty(), "{conn} received something");
        assert_eq!(
            Some(packets),
            many.get(conn),
            "what {conn} received, in order"
        );
    }
    assert_eq!(each_stats, many_stats, "the counters");
}
