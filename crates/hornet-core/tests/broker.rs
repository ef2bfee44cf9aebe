//! The broker core driven without sockets: scripted clients and a virtual
//! clock, one test per rule, each naming the normative statement it checks.

mod support;

use std::time::Duration;

use hornet_codec::{
    Ack, Connect, Disconnect, LastWill, Packet, PacketId, Property, Protocol, Publish, QoS,
    ReasonCode, RetainHandling, Subscribe, SubscribeFilter, SubscriptionOptions,
};
use hornet_core::{Anonymous, QueueState, Settings};
use support::{pid, publishes, Harness};

#[test]
fn qos1_flow_acks_the_publisher_and_delivers_with_a_packet_id() {
    // [MQTT-4.3.2-1] [MQTT-4.3.2-4]
    let mut w = Harness::new();
    let sub = w.connect("sub", Protocol::V3_1_1, true);
    w.subscribe(sub, "a/b", QoS::AtLeastOnce);
    let publisher = w.connect("pub", Protocol::V3_1_1, true);
    w.publish(publisher, "a/b", "hi", QoS::AtLeastOnce, false);
    assert_eq!(w.take(publisher), vec![Packet::PubAck(Ack::new(pid(100)))]);
    let got = w.take(sub);
    let p = &publishes(&got)[0];
    assert_eq!(
        (p.qos, &p.payload[..], p.packet_id.is_some()),
        (QoS::AtLeastOnce, &b"hi"[..], true)
    );
}

#[test]
fn qos2_inbound_is_delivered_exactly_once_until_pubrel() {
    // [MQTT-4.3.3-10]: a resent PUBLISH with the same id is not delivered again.
    let mut w = Harness::new();
    let sub = w.connect("sub", Protocol::V5, true);
    w.subscribe(sub, "x", QoS::ExactlyOnce);
    let publisher = w.connect("pub", Protocol::V5, true);
    w.publish(publisher, "x", "1", QoS::ExactlyOnce, false);
    w.publish(publisher, "x", "1", QoS::ExactlyOnce, false);
    assert_eq!(
        w.take(publisher),
        vec![Packet::PubRec(Ack::new(pid(100))); 2]
    );
    assert_eq!(publishes(&w.take(sub)).len(), 1);
    w.send(publisher, Packet::PubRel(Ack::new(pid(100))));
    assert_eq!(w.take(publisher), vec![Packet::PubComp(Ack::new(pid(100)))]);
    // After PUBREL the id is free: the same id is a new message.
    w.publish(publisher, "x", "2", QoS::ExactlyOnce, false);
    assert_eq!(publishes(&w.take(sub)).len(), 1);
}

#[test]
fn qos2_outbound_runs_pubrec_pubrel_pubcomp() {
    // [MQTT-4.3.3-3] [MQTT-4.3.3-5]
    let mut w = Harness::new();
    let sub = w.connect("sub", Protocol::V3_1_1, true);
    w.subscribe(sub, "x", QoS::ExactlyOnce);
    let publisher = w.connect("pub", Protocol::V3_1_1, true);
    w.publish(publisher, "x", "1", QoS::ExactlyOnce, false);
    let got = w.take(sub);
    let id = publishes(&got)[0].packet_id.unwrap();
    w.send(sub, Packet::PubRec(Ack::new(id)));
    assert_eq!(w.take(sub), vec![Packet::PubRel(Ack::new(id))]);
    w.send(sub, Packet::PubComp(Ack::new(id)));
    assert!(w.take(sub).is_empty());
}

/// Two overlapping subscriptions of one MQTT 5 session, each with an
/// identifier, subscribed with QoS 0 and 2.
fn overlapping(settings: Settings) -> Vec<hornet_codec::Publish> {
    let mut w = Harness::with(settings);
    let sub = w.connect("sub", Protocol::V5, true);
    for (filter, qos, ident) in [("a/+", QoS::AtMostOnce, 1), ("a/#", QoS::ExactlyOnce, 2)] {
        let mut s = Subscribe::new(pid(1), filter, qos);
        s.properties.push(Property::SubscriptionIdentifier(ident));
        w.send(sub, s);
    }
    w.take(sub);
    let publisher = w.connect("pub", Protocol::V5, true);
    w.publish(publisher, "a/b", "x", QoS::ExactlyOnce, false);
    let got = w.take(sub);
    publishes(&got)
}

#[test]
fn mqtt_3_3_4_5_overlapping_subscriptions_with_identifiers_get_a_copy_each() {
    // [MQTT-3.3.4-5]: "If the Server sends multiple PUBLISH packets it MUST
    // send, in each of them, the Subscription Identifier of the matching
    // subscription". A copy per subscription, each at its own QoS
    // ([MQTT-3.3.4-2]), as Mosquitto does and Node-RED needs.
    let mut copies: Vec<(QoS, Vec<u32>)> = overlapping(Settings {
        sys_interval: None,
        ..Settings::default()
    })
    .iter()
    .map(|p| (p.qos, p.properties.subscription_identifiers().collect()))
    .collect();
    copies.sort_by_key(|(_, ids)| ids.clone());
    assert_eq!(
        copies,
        vec![(QoS::AtMostOnce, vec![1]), (QoS::ExactlyOnce, vec![2])]
    );
}

#[test]
fn overlapping_subscriptions_deliver_once_at_the_highest_qos_with_every_identifier() {
    // [MQTT-3.3.5-1], [MQTT-3.3.4-4]: with `subscription_identifier_copies`
    // off, one copy at the highest QoS carrying every identifier.
    let ps = overlapping(Settings {
        sys_interval: None,
        subscription_identifier_copies: false,
        ..Settings::default()
    });
    assert_eq!(ps.len(), 1);
    assert_eq!(ps[0].qos, QoS::ExactlyOnce);
    let mut ids: Vec<u32> = ps[0].properties.subscription_identifiers().collect();
    ids.sort();
    assert_eq!(ids, vec![1, 2]);
}

#[test]
fn overlapping_subscriptions_without_identifiers_deliver_once() {
    // [MQTT-3.3.5-1]: no identifier, one copy at the highest QoS.
    let mut w = Harness::new();
    let sub = w.connect("sub", Protocol::V5, true);
    w.subscribe(sub, "a/+", QoS::AtMostOnce);
    w.subscribe(sub, "a/#", QoS::AtLeastOnce);
    let publisher = w.connect("pub", Protocol::V5, true);
    w.publish(publisher, "a/b", "x", QoS::ExactlyOnce, false);
    let ps = publishes(&w.take(sub));
    assert_eq!(ps.len(), 1);
    assert_eq!(ps[0].qos, QoS::AtLeastOnce);
}

#[test]
fn dollar_topics_are_not_matched_by_leading_wildcards() {
    // [MQTT-4.7.2-1]
    let mut w = Harness::with(Settings::default());
    let all = w.connect("all", Protocol::V3_1_1, true);
    w.subscribe(all, "#", QoS::AtMostOnce);
    let sys = w.connect("sys", Protocol::V3_1_1, true);
    w.subscribe(sys, "$SYS/#", QoS::AtMostOnce);
    w.advance(Duration::from_secs(11));
    assert!(publishes(&w.take(all)).is_empty());
    let got = w.take(sys);
    let topics: Vec<String> = publishes(&got)
        .iter()
        .map(|p| p.topic.to_string())
        .collect();
    assert!(
        topics.contains(&"$SYS/broker/uptime".to_string()),
        "{topics:?}"
    );
    assert!(topics.contains(&"$SYS/broker/clients/connected".to_string()));
}

#[test]
fn clients_may_not_publish_to_sys() {
    let mut w = Harness::new();
    let sub = w.connect("sub", Protocol::V5, true);
    w.subscribe(sub, "$SYS/#", QoS::AtMostOnce);
    let publisher = w.connect("pub", Protocol::V5, true);
    w.publish(
        publisher,
        "$SYS/broker/uptime",
        "fake",
        QoS::AtLeastOnce,
        false,
    );
    let mut expected = Ack::with_reason(pid(100), ReasonCode::NotAuthorized);
    expected.properties.push(Property::ReasonString(
        "clients may not publish to $SYS topics".into(),
    ));
    assert_eq!(w.take(publisher), vec![Packet::PubAck(expected)]);
    assert!(w.take(sub).is_empty());
}

#[test]
fn retained_messages_are_stored_replaced_deleted_and_sent_on_subscribe() {
    // [MQTT-3.3.1-5] store, [MQTT-3.3.1-6]/[MQTT-3.3.1-10] empty deletes,
    // [MQTT-3.3.1-8] RETAIN 1 on subscribe, [MQTT-3.3.1-9] RETAIN 0 live.
    let mut w = Harness::new();
    let publisher = w.connect("pub", Protocol::V3_1_1, true);
    w.publish(publisher, "r/1", "old", QoS::AtMostOnce, true);
    w.publish(publisher, "r/1", "new", QoS::AtMostOnce, true);
    w.publish(publisher, "r/2", "two", QoS::AtMostOnce, true);
    w.publish(publisher, "r/2", "", QoS::AtMostOnce, true);
    assert_eq!(w.broker.retained_count(), 1);
    let sub = w.connect("sub", Protocol::V3_1_1, true);
    w.subscribe(sub, "r/+", QoS::AtLeastOnce);
    let got = w.take(sub);
    let ps = publishes(&got);
    assert_eq!(ps.len(), 1);
    assert_eq!(
        (&ps[0].payload[..], ps[0].retain, ps[0].qos),
        (&b"new"[..], true, QoS::AtMostOnce)
    );
    w.publish(publisher, "r/1", "live", QoS::AtMostOnce, true);
    let got = w.take(sub);
    assert!(!publishes(&got)[0].retain, "[MQTT-3.3.1-9]");
}

#[test]
fn retain_handling_2_sends_no_retained_and_1_only_for_new_subscriptions() {
    let mut w = Harness::new();
    let publisher = w.connect("pub", Protocol::V5, true);
    w.publish(publisher, "r", "v", QoS::AtMostOnce, true);
    let sub = w.connect("sub", Protocol::V5, true);
    for (handling, expect) in [
        (RetainHandling::Never, 0),
        (RetainHandling::OnNewSubscribe, 0),
        (RetainHandling::OnSubscribe, 1),
    ] {
        let mut options = SubscriptionOptions::qos(QoS::AtMostOnce);
        options.retain_handling = handling;
        let s = Subscribe {
            packet_id: pid(1),
            properties: Default::default(),
            filters: vec![SubscribeFilter {
                filter: "r".into(),
                options,
            }],
        };
        w.send(sub, s);
        assert_eq!(publishes(&w.take(sub)).len(), expect, "{handling:?}");
    }
}

#[test]
fn will_is_published_on_keep_alive_timeout_at_one_and_a_half_times_the_interval() {
    // [MQTT-3.1.2-24] [MQTT-3.1.2-8]
    let mut w = Harness::new();
    let watcher = w.connect("watcher", Protocol::V3_1_1, true);
    w.subscribe(watcher, "will/#", QoS::AtLeastOnce);
    let mut c = Connect::new(Protocol::V3_1_1, "dev");
    c.keep_alive = 10;
    c.will = Some(LastWill {
        topic: "will/dev".into(),
        payload: "gone".into(),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: Default::default(),
    });
    let (dev, _) = w.connect_with(c);
    w.advance(Duration::from_millis(14_900));
    assert!(!w.is_closed(dev));
    w.send(dev, Packet::PingReq);
    assert_eq!(w.take(dev), vec![Packet::PingResp]);
    w.advance(Duration::from_millis(14_900));
    assert!(!w.is_closed(dev), "activity resets the timer");
    w.advance(Duration::from_millis(200));
    assert!(w.is_closed(dev), "closed after 1.5 x keep-alive");
    let got = w.take(watcher);
    let ps = publishes(&got);
    assert_eq!(
        (&ps[0].topic[..], ps[0].qos),
        ("will/dev", QoS::AtLeastOnce)
    );
    assert_eq!(w.broker.retained_count(), 1, "will retain honoured");
}

#[test]
fn will_is_not_published_after_disconnect() {
    // [MQTT-3.1.2-10]
    let mut w = Harness::new();
    let watcher = w.connect("watcher", Protocol::V3_1_1, true);
    w.subscribe(watcher, "will", QoS::AtMostOnce);
    let mut c = Connect::new(Protocol::V3_1_1, "dev");
    c.will = Some(LastWill {
        topic: "will".into(),
        payload: "gone".into(),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: Default::default(),
    });
    let (dev, _) = w.connect_with(c.clone());
    w.send(dev, Disconnect::new(ReasonCode::Success));
    assert!(w.is_closed(dev));
    assert!(w.take(watcher).is_empty());
    // And it is published when the socket just drops.
    let (dev, _) = w.connect_with(c);
    w.close(dev);
    assert_eq!(publishes(&w.take(watcher)).len(), 1);
}

#[test]
fn persistent_session_queues_while_offline_and_resends_unacknowledged_with_dup() {
    // [MQTT-3.2.2-2] session present, [MQTT-4.4.0-1] resend with DUP.
    let mut w = Harness::new();
    let sub = w.connect("sub", Protocol::V3_1_1, false);
    w.subscribe(sub, "q", QoS::AtLeastOnce);
    let publisher = w.connect("pub", Protocol::V3_1_1, true);
    w.publish(publisher, "q", "inflight", QoS::AtLeastOnce, false);
    let first = publishes(&w.take(sub))[0].packet_id;
    w.close(sub);
    w.publish(publisher, "q", "queued", QoS::AtLeastOnce, false);
    w.publish(publisher, "q", "qos0 not kept", QoS::AtMostOnce, false);
    let mut c = Connect::new(Protocol::V3_1_1, "sub");
    c.clean_start = false;
    let (sub, ack) = w.connect_with(c);
    assert!(ack.session_present);
    let got = w.take(sub);
    let ps = publishes(&got);
    assert_eq!(ps.len(), 2, "{ps:?}");
    assert_eq!(
        (ps[0].dup, ps[0].packet_id, &ps[0].payload[..]),
        (true, first, &b"inflight"[..])
    );
    assert_eq!((ps[1].dup, &ps[1].payload[..]), (false, &b"queued"[..]));
}

#[test]
fn clean_session_discards_the_old_session() {
    // [MQTT-3.1.2-6] [MQTT-3.2.2-1]
    let mut w = Harness::new();
    let sub = w.connect("c", Protocol::V3_1_1, false);
    w.subscribe(sub, "q", QoS::AtLeastOnce);
    w.close(sub);
    let mut c = Connect::new(Protocol::V3_1_1, "c");
    c.clean_start = true;
    let (_, ack) = w.connect_with(c);
    assert!(!ack.session_present);
    assert_eq!(w.broker.subscription_count(), 0);
}

#[test]
fn a_full_queue_drops_the_newest_and_counts_it() {
    let mut w = Harness::with(Settings {
        max_queued_messages: 3,
        sys_interval: None,
        ..Settings::default()
    });
    let sub = w.connect("sub", Protocol::V3_1_1, false);
    w.subscribe(sub, "q", QoS::AtLeastOnce);
    w.close(sub);
    let publisher = w.connect("pub", Protocol::V3_1_1, true);
    for i in 0..10 {
        w.publish(publisher, "q", &i.to_string(), QoS::AtLeastOnce, false);
    }
    assert_eq!(w.broker.dropped_for("sub"), Some(7));
    let sub = w.connect("sub", Protocol::V3_1_1, false);
    let got = w.take(sub);
    let ps = publishes(&got);
    let payloads: Vec<&[u8]> = ps.iter().map(|p| &p.payload[..]).collect();
    assert_eq!(payloads, vec![&b"0"[..], b"1", b"2"]);
}

#[test]
fn inflight_window_holds_further_messages_until_acknowledged() {
    let mut w = Harness::with(Settings {
        max_inflight_messages: 2,
        sys_interval: None,
        ..Settings::default()
    });
    let sub = w.connect("sub", Protocol::V3_1_1, true);
    w.subscribe(sub, "q", QoS::AtLeastOnce);
    let publisher = w.connect("pub", Protocol::V3_1_1, true);
    for i in 0..3 {
        w.publish(publisher, "q", &i.to_string(), QoS::AtLeastOnce, false);
    }
    let got = w.take(sub);
    let ps = publishes(&got);
    assert_eq!(ps.len(), 2);
    let first = ps[0].packet_id.unwrap();
    w.send(sub, Packet::PubAck(Ack::new(first)));
    let got = w.take(sub);
    assert_eq!(&publishes(&got)[0].payload[..], b"2");
}

#[test]
fn receive_maximum_of_the_client_caps_the_window() {
    // MQTT 5 [MQTT-3.3.4-9]: never more unacknowledged than the client's Receive Maximum.
    let mut w = Harness::new();
    let mut c = Connect::new(Protocol::V5, "sub");
    c.properties.push(Property::ReceiveMaximum(1));
    let (sub, _) = w.connect_with(c);
    w.subscribe(sub, "q", QoS::AtLeastOnce);
    let publisher = w.connect("pub", Protocol::V5, true);
    w.publish(publisher, "q", "1", QoS::AtLeastOnce, false);
    w.publish(publisher, "q", "2", QoS::AtLeastOnce, false);
    assert_eq!(publishes(&w.take(sub)).len(), 1);
}

#[test]
fn a_slow_reader_gets_no_more_than_its_unwritten_budget_and_resumes_when_written() {
    let mut w = Harness::with(Settings {
        max_unwritten_packets: 4,
        sys_interval: None,
        ..Settings::default()
    });
    let sub = w.connect("sub", Protocol::V3_1_1, true);
    w.subscribe(sub, "q", QoS::AtMostOnce);
    let fast = w.connect("fast", Protocol::V3_1_1, true);
    w.subscribe(fast, "q", QoS::AtMostOnce);
    w.written(fast, 2); // CONNACK + SUBACK written
    let publisher = w.connect("pub", Protocol::V3_1_1, true);
    let mut fast_got = 0;
    for i in 0..10 {
        w.publish(publisher, "q", &i.to_string(), QoS::AtMostOnce, false);
        let n = publishes(&w.take(fast)).len();
        w.written(fast, n);
        fast_got += n;
    }
    assert_eq!(fast_got, 10, "the fast subscriber is not held up");
    let got = w.take(sub);
    assert_eq!(
        publishes(&got).len(),
        2,
        "CONNACK + SUBACK + 2 = budget of 4"
    );
    w.written(sub, 4);
    assert_eq!(publishes(&w.take(sub)).len(), 4, "resumes when written");
}

#[test]
fn takeover_closes_the_old_connection_with_0x8e_and_keeps_the_session() {
    // [MQTT-3.1.4-3]
    let mut w = Harness::new();
    let old = w.connect("dup", Protocol::V5, false);
    w.subscribe(old, "t", QoS::AtLeastOnce);
    let mut c = Connect::new(Protocol::V5, "dup");
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(60));
    let (new, ack) = w.connect_with(c);
    assert!(ack.session_present);
    assert!(w.is_closed(old));
    assert_eq!(
        w.take(old),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::SessionTakenOver
        ))]
    );
    let publisher = w.connect("pub", Protocol::V5, true);
    w.publish(publisher, "t", "x", QoS::AtLeastOnce, false);
    assert_eq!(publishes(&w.take(new)).len(), 1);
    // The old socket's late EOF changes nothing.
    w.close(old);
    w.publish(publisher, "t", "y", QoS::AtLeastOnce, false);
    assert_eq!(publishes(&w.take(new)).len(), 1);
}

#[test]
fn empty_client_ids_follow_each_version() {
    // [MQTT-3.1.3-8]: 3.1.1 needs clean session; MQTT 5 gets an Assigned Client Identifier.
    let mut w = Harness::new();
    let mut c = Connect::new(Protocol::V3_1_1, "");
    c.clean_start = false;
    let (id, ack) = w.connect_with(c);
    assert_eq!(ack.reason_code, ReasonCode::ClientIdentifierNotValid);
    assert!(w.is_closed(id));
    let (_, ack) = w.connect_with(Connect::new(Protocol::V3_1_1, ""));
    assert_eq!(ack.reason_code, ReasonCode::Success);
    let (_, ack) = w.connect_with(Connect::new(Protocol::V5, ""));
    assert!(ack.properties.assigned_client_identifier().is_some());
}

#[test]
fn a_second_connect_is_a_protocol_error() {
    // [MQTT-3.1.0-2]
    let mut w = Harness::new();
    let id = w.connect("c", Protocol::V5, true);
    w.send(id, Connect::new(Protocol::V5, "c"));
    w.expect_disconnect(id, ReasonCode::ProtocolError);
}

#[test]
fn anonymous_clients_from_the_network_are_refused_by_default() {
    let mut w = Harness::new();
    let id = w.open("10.0.0.5:51234");
    w.send(id, Connect::new(Protocol::V5, "phone"));
    let got = w.take(id);
    assert!(matches!(&got[0], Packet::ConnAck(a) if a.reason_code == ReasonCode::NotAuthorized));
    assert!(w.is_closed(id));
    let mut w = Harness::with(Settings {
        anonymous: Anonymous::Always,
        ..Settings::default()
    });
    let id = w.open("10.0.0.5:51234");
    w.send(id, Connect::new(Protocol::V3_1_1, "phone"));
    assert!(matches!(&w.take(id)[0], Packet::ConnAck(a) if a.reason_code == ReasonCode::Success));
}

#[test]
fn max_keepalive_refuses_3x_clients_and_overrides_for_mqtt5() {
    let mut w = Harness::with(Settings {
        max_keepalive: 60,
        ..Settings::default()
    });
    let mut c = Connect::new(Protocol::V3_1_1, "old");
    c.keep_alive = 120;
    let (_, ack) = w.connect_with(c);
    assert_eq!(ack.reason_code, ReasonCode::ClientIdentifierNotValid);
    let mut c = Connect::new(Protocol::V5, "new");
    c.keep_alive = 0;
    let (_, ack) = w.connect_with(c);
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert_eq!(ack.properties.server_keep_alive(), Some(60));
}

#[test]
fn connect_must_arrive_within_the_connect_timeout() {
    let mut w = Harness::new();
    let id = w.open_loopback();
    w.advance(Duration::from_secs(11));
    assert!(w.is_closed(id));
}

#[test]
fn topic_aliases_are_resolved_and_bad_ones_refused() {
    // MQTT 5 §3.3.2.3.4, [MQTT-3.3.2-9]
    let mut w = Harness::new();
    let sub = w.connect("sub", Protocol::V5, true);
    w.subscribe(sub, "t/a", QoS::AtMostOnce);
    let publisher = w.connect("pub", Protocol::V5, true);
    let mut p = Publish::new("t/a", "1");
    p.properties.push(Property::TopicAlias(3));
    w.send(publisher, p);
    let mut p = Publish::new("", "2");
    p.properties.push(Property::TopicAlias(3));
    w.send(publisher, p);
    let got = w.take(sub);
    let ps = publishes(&got);
    assert_eq!(ps.len(), 2);
    assert_eq!(&ps[1].topic[..], "t/a");
    assert!(
        ps[1].properties.topic_alias().is_none(),
        "aliases are per connection"
    );
    let mut p = Publish::new("t/a", "3");
    p.properties.push(Property::TopicAlias(60000));
    w.send(publisher, p);
    w.expect_disconnect(publisher, ReasonCode::TopicAliasInvalid);
}

#[test]
fn session_expiry_removes_an_offline_mqtt5_session() {
    let mut w = Harness::new();
    let mut c = Connect::new(Protocol::V5, "s");
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(30));
    let (id, _) = w.connect_with(c);
    w.close(id);
    assert_eq!(w.broker.session_count(), 1);
    w.advance(Duration::from_secs(31));
    assert_eq!(w.broker.session_count(), 0);
}

#[test]
fn mqtt5_acks_say_when_nobody_was_subscribed() {
    // MQTT 5 §3.4.2.1: 0x10 No matching subscribers.
    let mut w = Harness::new();
    let publisher = w.connect("pub", Protocol::V5, true);
    w.publish(publisher, "nobody/here", "x", QoS::AtLeastOnce, false);
    assert_eq!(
        w.take(publisher),
        vec![Packet::PubAck(Ack::with_reason(
            pid(100),
            ReasonCode::NoMatchingSubscribers
        ))]
    );
    w.publish(publisher, "nobody/here", "x", QoS::ExactlyOnce, false);
    assert_eq!(
        w.take(publisher),
        vec![Packet::PubRec(Ack::with_reason(
            pid(100),
            ReasonCode::NoMatchingSubscribers
        ))]
    );
}

#[test]
fn a_will_matching_its_own_clients_subscription_is_queued_for_the_session() {
    // The will is published after the connection is gone ([MQTT-3.1.2-8]);
    // a persistent session subscribed to it gets it on return.
    let mut w = Harness::new();
    let mut c = Connect::new(Protocol::V3_1_1, "self");
    c.clean_start = false;
    c.will = Some(LastWill {
        topic: "status/self".into(),
        payload: "offline".into(),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
    });
    let (id, _) = w.connect_with(c);
    w.subscribe(id, "status/#", QoS::AtLeastOnce);
    w.close(id);
    let mut c = Connect::new(Protocol::V3_1_1, "self");
    c.clean_start = false;
    let (id, ack) = w.connect_with(c);
    assert!(ack.session_present);
    let got = w.take(id);
    assert_eq!(&publishes(&got)[0].payload[..], b"offline");
}

#[test]
fn an_unsupported_authentication_method_is_refused_with_0x8c() {
    // MQTT 5 §4.12: the server may refuse a method it does not support.
    let mut w = Harness::new();
    let mut c = Connect::new(Protocol::V5, "scram");
    c.properties
        .push(Property::AuthenticationMethod("SCRAM-SHA-1".into()));
    let (id, ack) = w.connect_with(c);
    assert_eq!(ack.reason_code, ReasonCode::BadAuthenticationMethod);
    assert!(w.is_closed(id));
}

#[test]
fn a_drop_episode_lasts_until_the_queue_is_empty() {
    // One warning per episode: the session stays "dropping" while any
    // backlog is left, and a new episode starts only after it drained.
    let mut w = Harness::with(Settings {
        max_queued_messages: 2,
        max_inflight_messages: 1,
        sys_interval: None,
        ..Settings::default()
    });
    let sub = w.connect("sub", Protocol::V3_1_1, true);
    w.subscribe(sub, "q", QoS::AtLeastOnce);
    let publisher = w.connect("pub", Protocol::V3_1_1, true);
    for i in 0..5 {
        w.publish(publisher, "q", &i.to_string(), QoS::AtLeastOnce, false);
    }
    // 1 inflight, 2 queued, 2 dropped: one episode.
    let state = |w: &Harness| w.broker.queue_state("sub").unwrap();
    assert_eq!(
        state(&w),
        QueueState {
            queued: 2,
            dropped: 2,
            dropping: true
        }
    );
    let mut acked = 0;
    while let Some(id) = publishes(&w.take(sub)).first().and_then(|p| p.packet_id) {
        w.send(sub, Packet::PubAck(Ack::new(id)));
        acked += 1;
        if acked == 1 {
            assert!(state(&w).dropping, "still a backlog: the same episode");
        }
    }
    assert_eq!(acked, 3, "the inflight message and both queued ones");
    assert_eq!(
        state(&w),
        QueueState {
            queued: 0,
            dropped: 2,
            dropping: false
        }
    );
}

#[test]
fn a_client_publish_with_a_subscription_identifier_is_a_protocol_error() {
    // [MQTT-3.3.4-6]
    let mut w = Harness::new();
    let publisher = w.connect("pub", Protocol::V5, true);
    let mut p = Publish::new("t", "x");
    p.properties.push(Property::SubscriptionIdentifier(7));
    w.send(publisher, p);
    w.expect_disconnect(publisher, ReasonCode::ProtocolError);
}

#[test]
fn emqx_local_prefix_subscribes_to_the_plain_filter() {
    // The seeds' `mosquitto_sub -t '$local/topic'` + `mosquitto_pub -t topic`.
    let mut w = Harness::new();
    let sub = w.connect("sub", Protocol::V3_1_1, true);
    w.subscribe(sub, "$local/topic", QoS::AtMostOnce);
    let publisher = w.connect("pub", Protocol::V3_1_1, true);
    w.publish(publisher, "topic", "x", QoS::AtMostOnce, false);
    assert_eq!(publishes(&w.take(sub)).len(), 1);
    w.send(sub, hornet_codec::Unsubscribe::new(pid(2), "$local/topic"));
    w.take(sub);
    assert_eq!(w.broker.subscription_count(), 0);
    // Nothing after the prefix is not a filter.
    w.send(sub, Subscribe::new(pid(3), "$local/", QoS::AtMostOnce));
    assert!(
        matches!(&w.take(sub)[0], Packet::SubAck(a) if a.reason_codes == vec![ReasonCode::TopicFilterInvalid])
    );
}

#[test]
fn every_qos_flow_completes_and_each_acknowledgement_frees_the_window() {
    // [MQTT-4.3.2-4] [MQTT-4.3.3-8]: PUBACK and PUBCOMP end an outbound
    // message; with a window of one the next goes out only then.
    let mut w = Harness::with(Settings {
        max_inflight_messages: 1,
        sys_interval: None,
        ..Settings::default()
    });
    let sub = w.connect("sub", Protocol::V5, true);
    assert_eq!(
        w.subscribe(sub, "q", QoS::ExactlyOnce),
        [ReasonCode::GrantedQos2]
    );
    let publisher = w.connect("pub", Protocol::V5, true);
    for (payload, qos) in [
        ("0", QoS::AtMostOnce),
        ("1", QoS::AtLeastOnce),
        ("2", QoS::ExactlyOnce),
        ("1b", QoS::AtLeastOnce),
        ("2b", QoS::ExactlyOnce),
    ] {
        let p = support::message("q", payload, qos);
        assert_eq!(w.publish_flow(publisher, p), ReasonCode::Success);
    }
    assert!(w.take(publisher).is_empty(), "nothing beyond the flows");
    assert_eq!(w.broker.queue_state("sub").map(|q| q.queued), Some(3));
    let got = w.receive(sub);
    let order: Vec<(&[u8], QoS)> = got.iter().map(|p| (&p.payload[..], p.qos)).collect();
    assert_eq!(
        order,
        [
            (&b"0"[..], QoS::AtMostOnce),
            (b"1", QoS::AtLeastOnce),
            (b"2", QoS::ExactlyOnce),
            (b"1b", QoS::AtLeastOnce),
            (b"2b", QoS::ExactlyOnce),
        ]
    );
    assert_eq!(w.broker.queue_state("sub").map(|q| q.queued), Some(0));
}

/// A subscriber that acknowledges a delivery with a packet of the wrong
/// kind for its packet id's state breaks the protocol (3.1.1
/// [MQTT-4.8.0-1], MQTT 5 [MQTT-4.13.1-1]): PUBREC or PUBCOMP for a QoS 1
/// PUBLISH, PUBACK or PUBCOMP for a QoS 2 PUBLISH, PUBACK for a PUBREL.
/// MQTT 5 gets DISCONNECT 0x82, 3.1.1 a close; as Mosquitto does.
#[test]
fn mqtt_4_13_1_1_an_acknowledgement_of_the_wrong_kind_closes_the_connection() {
    type Ack2 = fn(PacketId) -> Packet;
    let pubrec: Ack2 = |id| Packet::PubRec(Ack::new(id));
    let pubcomp: Ack2 = |id| Packet::PubComp(Ack::new(id));
    let puback: Ack2 = |id| Packet::PubAck(Ack::new(id));
    // (QoS delivered, answer after PUBREC/PUBREL steps, answer)
    let cases: [(QoS, bool, Ack2, &str); 5] = [
        (QoS::AtLeastOnce, false, pubrec, "PUBREC for QoS 1"),
        (QoS::AtLeastOnce, false, pubcomp, "PUBCOMP for QoS 1"),
        (QoS::ExactlyOnce, false, puback, "PUBACK for QoS 2"),
        (QoS::ExactlyOnce, false, pubcomp, "PUBCOMP for QoS 2"),
        (QoS::ExactlyOnce, true, puback, "PUBACK for PUBREL"),
    ];
    for protocol in [Protocol::V5, Protocol::V3_1_1] {
        for (qos, released, answer, what) in cases {
            let mut w = Harness::new();
            let sub = w.connect("sub", protocol, true);
            w.subscribe(sub, "t", qos);
            let publisher = w.connect("pub", protocol, true);
            w.publish(publisher, "t", "x", qos, false);
            let id = publishes(&w.take(sub))[0].packet_id.expect("QoS 1/2");
            if released {
                w.send(sub, Packet::PubRec(Ack::new(id)));
                assert_eq!(w.take(sub), vec![Packet::PubRel(Ack::new(id))]);
            }
            w.send(sub, answer(id));
            if protocol.is_v5() {
                w.expect_disconnect(sub, ReasonCode::ProtocolError);
            } else {
                assert!(w.take(sub).is_empty(), "{what}: 3.1.1 is closed silently");
                assert!(w.is_closed(sub), "{what}: closed");
            }
        }
    }
}

/// An acknowledgement for a packet id that is not in flight (answered
/// twice) is not a violation: PUBACK ignored, PUBREC answered PUBREL 0x92.
#[test]
fn acknowledgements_for_unknown_packet_ids_are_tolerated() {
    let mut w = Harness::new();
    let sub = w.connect("sub", Protocol::V5, true);
    w.send(sub, Packet::PubAck(Ack::new(pid(9))));
    w.send(sub, Packet::PubComp(Ack::new(pid(9))));
    assert!(w.take(sub).is_empty());
    w.send(sub, Packet::PubRec(Ack::new(pid(9))));
    match &w.take(sub)[..] {
        [Packet::PubRel(a)] => {
            assert_eq!(a.packet_id, pid(9));
            assert_eq!(a.reason_code, ReasonCode::PacketIdentifierNotFound);
        }
        other => panic!("{other:?}"),
    }
    assert!(!w.is_closed(sub));
}
