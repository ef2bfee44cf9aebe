//! Client ids of persistent sessions owned through etcd, on the virtual
//! clock: the core parks a persistent CONNECT while the shell claims the
//! client id (`Action::Claim`), and the answers (`claim_result`), the
//! other nodes' claims (`client_claimed`, etcd's watch) and the lease
//! watchdog (`cluster_cut_off`) are fed here in the orders a real cluster
//! can produce them (`crates/hornet/tests/cluster_sessions.rs` runs the
//! real processes with a real etcd).

mod support;

use hornet_codec::{Connect, Packet, Property, Protocol, QoS, ReasonCode, Subscribe};
use hornet_core::{Action, ClaimResult, ConnId, OrphanSessions};
use support::Harness;

fn node(name: &str) -> Harness {
    let mut h = Harness::new();
    h.broker.enable_cluster(name, 1);
    h
}

/// A CONNECT for a persistent session (MQTT 5: expiry 3600; 3.x: clean
/// session 0) sent on a new connection; nothing answered yet.
fn persistent(h: &mut Harness, client_id: &str, protocol: Protocol) -> ConnId {
    let mut c = Connect::new(protocol, client_id);
    c.clean_start = false;
    if protocol.is_v5() {
        c.properties.push(Property::SessionExpiryInterval(3600));
    }
    let id = h.open_loopback();
    h.send(id, c);
    id
}

/// The claims `h` asked for since `mark`: (connection, client id, over).
fn claims(h: &Harness, mark: usize) -> Vec<(ConnId, String, Option<u64>)> {
    h.since(mark)
        .into_iter()
        .filter_map(|a| match a {
            Action::Claim {
                conn,
                client_id,
                over,
            } => Some((conn, client_id.to_string(), over)),
            _ => None,
        })
        .collect()
}

/// The releases `h` asked for since `mark`: (client id, revision).
fn releases(h: &Harness, mark: usize) -> Vec<(String, u64)> {
    h.since(mark)
        .into_iter()
        .filter_map(|a| match a {
            Action::Release {
                client_id,
                revision,
            } => Some((client_id.to_string(), revision)),
            _ => None,
        })
        .collect()
}

fn won(h: &mut Harness, conn: ConnId, revision: u64) {
    let now = h.now;
    h.broker.claim_result(
        now,
        conn,
        ClaimResult::Won {
            revision,
            from: None,
        },
    );
    h.pump();
}

/// The CONNACK `conn` got (the first packet), the rest left in its inbox.
fn connack(h: &mut Harness, conn: ConnId) -> hornet_codec::ConnAck {
    let mut got = h.take(conn);
    assert!(!got.is_empty(), "no CONNACK for {conn}");
    let Packet::ConnAck(ack) = got.remove(0) else {
        panic!("not a CONNACK first: {got:?}")
    };
    h.put_back(conn, got);
    ack
}

#[test]
fn a_persistent_connect_waits_for_its_claim_and_its_later_packets_wait_too() {
    let mut h = node("n1");
    let mark = h.mark();
    let c = persistent(&mut h, "dev", Protocol::V5);
    assert_eq!(claims(&h, mark), vec![(c, "dev".to_string(), None)]);
    assert!(h.take(c).is_empty(), "no CONNACK before the claim");
    // A SUBSCRIBE sent right behind the CONNECT waits with it.
    h.send(
        c,
        Subscribe::new(
            hornet_codec::PacketId::new(1).unwrap(),
            "t",
            QoS::AtLeastOnce,
        ),
    );
    assert!(h.take(c).is_empty());
    won(&mut h, c, 7);
    let got = h.take(c);
    assert!(
        matches!(&got[..], [Packet::ConnAck(a), Packet::SubAck(_)] if a.reason_code == ReasonCode::Success),
        "CONNACK, then the parked SUBSCRIBE's SUBACK: {got:?}"
    );
    assert_eq!(h.broker.cluster_owned_sessions(), 1);

    // A clean session is not claimed: no etcd on its path.
    let mark = h.mark();
    let clean = h.connect("clean", Protocol::V5, true);
    assert!(claims(&h, mark).is_empty());
    assert!(!h.is_closed(clean));
    // Nor is any CONNECT of a single broker.
    let mut single = Harness::new();
    let mark = single.mark();
    single.connect("dev", Protocol::V5, false);
    assert!(claims(&single, mark).is_empty());
}

/// Two nodes, one client id, the same moment: etcd orders the two writes
/// of the key; the later one wins whichever answer arrives first.
#[test]
fn concurrent_claims_on_two_nodes_leave_the_later_revision_connected() {
    // Order A: n1's answer first, then n2's claim in n1's watch.
    let (mut n1, mut n2) = (node("n1"), node("n2"));
    let a = persistent(&mut n1, "dev", Protocol::V5);
    let b = persistent(&mut n2, "dev", Protocol::V5);
    won(&mut n1, a, 10);
    won(&mut n2, b, 11);
    assert_eq!(connack(&mut n1, a).reason_code, ReasonCode::Success);
    assert_eq!(connack(&mut n2, b).reason_code, ReasonCode::Success);
    let now = n1.now;
    n1.broker.client_claimed(now, "dev", "n2", 11);
    n1.pump();
    // [MQTT-3.1.4-3]: the older connection is taken over.
    n1.expect_disconnect(a, ReasonCode::SessionTakenOver);
    assert_eq!(n1.broker.cluster_owned_sessions(), 0, "the session left n1");
    // n2 sees its own claim in its watch: nothing changes.
    let now = n2.now;
    n2.broker.client_claimed(now, "dev", "n2", 11);
    n2.broker.client_claimed(now, "dev", "n1", 10);
    n2.pump();
    assert!(
        !n2.is_closed(b),
        "an older claim does not take over a newer one"
    );

    // Order B: n2's claim arrives in n1's watch before n1's own answer:
    // n1's CONNECT lost before its CONNACK and is answered as taken over.
    let (mut n1, mut n2) = (node("n1"), node("n2"));
    let a = persistent(&mut n1, "dev", Protocol::V5);
    let b = persistent(&mut n2, "dev", Protocol::V5);
    let now = n1.now;
    n1.broker.client_claimed(now, "dev", "n2", 21);
    won(&mut n1, a, 20);
    let ack = connack(&mut n1, a);
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert!(!ack.session_present);
    n1.expect_disconnect(a, ReasonCode::SessionTakenOver);
    assert_eq!(n1.broker.cluster_owned_sessions(), 0);
    won(&mut n2, b, 21);
    assert_eq!(connack(&mut n2, b).reason_code, ReasonCode::Success);
    assert_eq!(n2.broker.cluster_owned_sessions(), 1);
}

#[test]
fn two_connections_on_one_node_resolve_by_revision_too() {
    let mut h = node("n1");
    let first = persistent(&mut h, "dev", Protocol::V3_1_1);
    let second = persistent(&mut h, "dev", Protocol::V3_1_1);
    // The later write's answer comes back first.
    won(&mut h, second, 8);
    assert_eq!(connack(&mut h, second).reason_code, ReasonCode::Success);
    won(&mut h, first, 7);
    // 3.x: CONNACK 0 and closed, as a takeover right after connecting.
    assert_eq!(connack(&mut h, first).reason_code, ReasonCode::Success);
    assert!(h.is_closed(first));
    assert!(!h.is_closed(second));
}

#[test]
fn a_session_held_here_is_kept_against_an_older_claim_and_released_when_it_ends() {
    let mut h = node("n1");
    let mut c = Connect::new(Protocol::V5, "dev");
    c.properties.push(Property::SessionExpiryInterval(10));
    let id = h.open_loopback();
    h.send(id, c);
    won(&mut h, id, 5);
    assert_eq!(connack(&mut h, id).reason_code, ReasonCode::Success);
    let now = h.now;
    h.broker.client_claimed(now, "dev", "n2", 4);
    h.pump();
    assert!(!h.is_closed(id), "revision 4 is older than the claim at 5");
    // Its session expires 10 s after the connection ends: the key goes if
    // nobody wrote it since (the shell compares the revision).
    h.close(id);
    let mark = h.mark();
    h.advance(std::time::Duration::from_secs(11));
    assert_eq!(releases(&h, mark), vec![("dev".to_string(), 5)]);
    assert_eq!(h.broker.cluster_owned_sessions(), 0);
}

#[test]
fn a_dead_owners_session_is_refused_by_default_or_replaced_when_asked() {
    let mut h = node("n1");
    for protocol in [Protocol::V5, Protocol::V3_1_1] {
        let c = persistent(&mut h, "orphan", protocol);
        let now = h.now;
        h.broker.claim_result(
            now,
            c,
            ClaimResult::Orphaned {
                node: "n9".into(),
                revision: 4,
            },
        );
        h.pump();
        // MQTT 5 0x88 Server unavailable; 3.1.1 return code 0x03, which
        // the client's decoder reads back as the same reason.
        assert_eq!(
            connack(&mut h, c).reason_code,
            ReasonCode::ServerUnavailable
        );
        assert!(h.is_closed(c));
    }

    h.broker.set_orphan_sessions(OrphanSessions::Fresh);
    let mark = h.mark();
    let c = persistent(&mut h, "orphan", Protocol::V5);
    let now = h.now;
    h.broker.claim_result(
        now,
        c,
        ClaimResult::Orphaned {
            node: "n9".into(),
            revision: 4,
        },
    );
    h.pump();
    // Claimed again over the dead owner's write, and only over it.
    assert_eq!(
        claims(&h, mark),
        vec![
            (c, "orphan".to_string(), None),
            (c, "orphan".to_string(), Some(4))
        ]
    );
    won(&mut h, c, 6);
    let ack = connack(&mut h, c);
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert!(!ack.session_present, "a new session [MQTT-3.2.2-2]");
}

#[test]
fn etcd_not_answering_refuses_the_persistent_connect_with_0x88() {
    let mut h = node("n1");
    let c = persistent(&mut h, "dev", Protocol::V5);
    let now = h.now;
    h.broker.claim_result(now, c, ClaimResult::Unavailable);
    h.pump();
    assert_eq!(
        connack(&mut h, c).reason_code,
        ReasonCode::ServerUnavailable
    );
    assert!(h.is_closed(c));
}

#[test]
fn cut_off_from_etcd_closes_claimed_sessions_refuses_new_ones_and_serves_clean_ones() {
    let mut h = node("n1");
    let v5 = persistent(&mut h, "a", Protocol::V5);
    won(&mut h, v5, 3);
    let v3 = persistent(&mut h, "b", Protocol::V3_1_1);
    won(&mut h, v3, 4);
    let clean = h.connect("c", Protocol::V5, true);
    h.take(v5);
    h.take(v3);
    let now = h.now;
    h.broker.cluster_cut_off(now, true, false);
    h.pump();
    assert!(h.broker.cluster_is_cut_off());
    // DISCONNECT may not carry 0x88: 0x9C Use another server says "go to
    // another node" (MQTT 5 §3.14.2.1).
    h.expect_disconnect(v5, ReasonCode::UseAnotherServer);
    assert!(h.is_closed(v3));
    assert!(!h.is_closed(clean), "clean sessions keep working");

    // New persistent sessions are refused at once, without asking etcd.
    let mark = h.mark();
    let refused = persistent(&mut h, "a", Protocol::V5);
    assert!(claims(&h, mark).is_empty());
    assert_eq!(
        connack(&mut h, refused).reason_code,
        ReasonCode::ServerUnavailable
    );
    let refused3 = persistent(&mut h, "b", Protocol::V3_1_1);
    assert_eq!(
        connack(&mut h, refused3).reason_code,
        ReasonCode::ServerUnavailable
    );
    h.connect("d", Protocol::V3_1_1, true);

    // A claim that etcd granted just before the cut is refused too.
    let now = h.now;
    h.broker.cluster_cut_off(now, false, false);
    let late = persistent(&mut h, "e", Protocol::V5);
    let now = h.now;
    h.broker.cluster_cut_off(now, true, false);
    won(&mut h, late, 9);
    assert_eq!(
        connack(&mut h, late).reason_code,
        ReasonCode::ServerUnavailable
    );

    // After the heal persistent sessions are claimed again.
    let now = h.now;
    h.broker.cluster_cut_off(now, false, false);
    let mark = h.mark();
    let back = persistent(&mut h, "a", Protocol::V5);
    assert_eq!(claims(&h, mark).len(), 1);
    won(&mut h, back, 12);
    let ack = connack(&mut h, back);
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert!(ack.session_present, "its session stayed on this node");
}

/// A clean-session client connected here, with a will.
fn clean_with_will(h: &mut Harness, client_id: &str, protocol: Protocol) -> ConnId {
    let mut c = Connect::new(protocol, client_id);
    c.clean_start = true;
    c.will = Some(hornet_codec::LastWill {
        topic: format!("wills/{client_id}").into(),
        payload: "gone".into(),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
    });
    let (id, ack) = h.connect_with(c);
    assert_eq!(ack.reason_code, ReasonCode::Success);
    id
}

/// A node whose lease expired (paused, or cut off from etcd, longer than
/// `lease_ttl`) was counted dead, and a survivor published the wills of
/// its connected clients. When it finds out (it joined again), it closes
/// the clean-session connections of that time too, and does not publish
/// their wills a second time; a client that connected after the cut-off
/// stays, and a normal close still publishes a will [MQTT-3.1.2-8].
#[test]
fn a_node_whose_lease_expired_closes_its_clients_of_then_without_their_wills() {
    let mut h = node("n1");
    let now = h.now;
    h.broker.node_alive(now, "n2");
    let v5 = clean_with_will(&mut h, "c5", Protocol::V5);
    let v3 = clean_with_will(&mut h, "c3", Protocol::V3_1_1);
    let owned = persistent(&mut h, "p", Protocol::V5);
    won(&mut h, owned, 3);
    h.take(owned);
    let now = h.now;
    h.broker.cluster_cut_off(now, true, false);
    h.pump();
    assert!(h.is_closed(owned), "the cut-off closes persistent sessions");
    assert!(
        !h.is_closed(v5) && !h.is_closed(v3),
        "clean ones are served"
    );
    // Connected after the cut-off: its will never reached the others.
    let later = clean_with_will(&mut h, "later", Protocol::V5);
    let watcher = h.connect("watcher", Protocol::V5, true);
    h.subscribe(watcher, "wills/#", QoS::AtLeastOnce);

    let now = h.now;
    assert_eq!(h.broker.cluster_lease_expired(now), 2);
    h.pump();
    h.expect_disconnect(v5, ReasonCode::UseAnotherServer);
    assert!(h.is_closed(v3));
    assert!(!h.is_closed(later) && !h.is_closed(watcher));
    assert!(h.receive(watcher).is_empty(), "no will published again");
    // The connection that came later still has its will.
    h.close(later);
    let got = h.receive(watcher);
    assert_eq!(got.len(), 1);
    assert_eq!(&*got[0].topic, "wills/later");
    // The node joined again: a later expiry starts from nothing.
    let now = h.now;
    h.broker.cluster_cut_off(now, false, false);
    assert_eq!(h.broker.cluster_lease_expired(now), 1, "the watcher only");
    // Alone in the cluster, nobody published its clients' wills: they
    // keep their connections.
    let alone = clean_with_will(&mut h, "alone", Protocol::V5);
    let now = h.now;
    h.broker.node_dead(now, "n2");
    assert_eq!(h.broker.cluster_lease_expired(now), 0);
    assert!(!h.is_closed(alone));
}

#[test]
fn a_clean_start_reconnect_releases_only_the_old_claim() {
    let mut h = node("n1");
    let first = persistent(&mut h, "dev", Protocol::V5);
    won(&mut h, first, 5);
    h.take(first);
    let mut c = Connect::new(Protocol::V5, "dev");
    c.clean_start = true;
    c.properties.push(Property::SessionExpiryInterval(60));
    let second = h.open_loopback();
    let mark = h.mark();
    h.send(second, c);
    assert_eq!(claims(&h, mark).len(), 1, "expiry > 0: persistent");
    won(&mut h, second, 9);
    // The old session goes (clean start): its release names revision 5,
    // which the key no longer has, so the new claim stays in etcd.
    assert_eq!(releases(&h, mark), vec![("dev".to_string(), 5)]);
    h.expect_disconnect(first, ReasonCode::SessionTakenOver);
    assert_eq!(connack(&mut h, second).reason_code, ReasonCode::Success);
    assert_eq!(h.broker.cluster_owned_sessions(), 1);
}

/// The session moves sent since `mark`.
fn moves(h: &Harness, mark: usize) -> Vec<(String, hornet_core::SessionMove)> {
    h.since(mark)
        .into_iter()
        .filter_map(|a| match a {
            Action::MoveSession { node, session } => Some((node.to_string(), *session)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_persistent_session_moves_to_the_node_that_claimed_its_client_id() {
    let (mut n1, mut n2) = (node("n1"), node("n2"));
    // On n1: a session with a subscription and two messages queued while
    // its client is away.
    let c = persistent(&mut n1, "dev", Protocol::V5);
    won(&mut n1, c, 5);
    n1.take(c);
    n1.subscribe(c, "t/#", QoS::AtLeastOnce);
    n1.close(c);
    let p = n1.connect("pub", Protocol::V5, true);
    n1.publish(p, "t/1", "one", QoS::AtLeastOnce, false);
    n1.publish(p, "t/2", "two", QoS::AtLeastOnce, false);

    // On n2 the client connects again: its claim takes the id from n1,
    // which is alive, so the CONNECT waits for the session.
    let again = persistent(&mut n2, "dev", Protocol::V5);
    let now = n2.now;
    n2.broker.claim_result(
        now,
        again,
        ClaimResult::Won {
            revision: 9,
            from: Some("n1".into()),
        },
    );
    n2.pump();
    assert!(n2.take(again).is_empty(), "no CONNACK before the session");

    // n1 sees the claim in its watch and sends the session.
    let mark = n1.mark();
    let now = n1.now;
    n1.broker.client_claimed(now, "dev", "n2", 9);
    n1.pump();
    let sent = moves(&n1, mark);
    assert_eq!(sent.len(), 1);
    let (to, moved) = sent.into_iter().next().unwrap();
    assert_eq!((to.as_str(), moved.revision), ("n2", 9));
    assert_eq!(moved.subscriptions.len(), 1);
    assert_eq!(moved.messages.len(), 2);
    assert_eq!(n1.broker.cluster_owned_sessions(), 0, "it left n1");

    // A session for another claim is not taken.
    let now = n2.now;
    let mut stale = moved.clone();
    stale.revision = 8;
    n2.broker.node_session(now, "n1", stale);
    n2.pump();
    assert!(n2.take(again).is_empty());
    n2.broker.node_session(now, "n1", moved);
    n2.pump();
    let ack = connack(&mut n2, again);
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert!(ack.session_present, "the session came along [MQTT-3.2.2-2]");
    let got = n2.receive(again);
    let payloads: Vec<&[u8]> = got.iter().map(|p| &p.payload[..]).collect();
    assert_eq!(payloads, vec![&b"one"[..], &b"two"[..]]);
    // Its subscription is n2's now.
    let p2 = n2.connect("pub2", Protocol::V5, true);
    n2.publish(p2, "t/3", "three", QoS::AtLeastOnce, false);
    assert_eq!(n2.receive(again).len(), 1);
}

#[test]
fn a_session_that_does_not_arrive_in_time_leaves_a_new_one() {
    let mut n2 = node("n2");
    let c = persistent(&mut n2, "dev", Protocol::V5);
    let now = n2.now;
    n2.broker.claim_result(
        now,
        c,
        ClaimResult::Won {
            revision: 3,
            from: Some("n1".into()),
        },
    );
    n2.pump();
    assert!(n2.take(c).is_empty());
    n2.advance(std::time::Duration::from_secs(2));
    let ack = connack(&mut n2, c);
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert!(!ack.session_present);
    // Arriving late, it is merged into the new session: its message is
    // delivered (the client was told it has no session, but an accepted
    // message is never dropped silently).
    let now = n2.now;
    n2.broker.node_session(
        now,
        "n1",
        hornet_core::SessionMove {
            client_id: "dev".into(),
            revision: 3,
            expiry_interval: 60,
            subscriptions: Vec::new(),
            messages: vec![hornet_codec::Publish::new("t", "late")],
            incoming_qos2: Vec::new(),
        },
    );
    n2.pump();
    let got = n2.receive(c);
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].payload[..], b"late");
}

/// A session that arrives after its CONNECT stopped waiting
/// (`MOVE_WAIT`, 2 s) is merged into the session the CONNECT started: its
/// queued and unacknowledged messages are delivered (QoS kept), its
/// subscriptions the new session lacks are added (the client's own, made
/// since, keep their options), its QoS 2 ids awaiting PUBREL are kept
/// [MQTT-4.3.3-11]. Once that session has ended a late one is dropped
/// (logged), as it has nowhere to go.
#[test]
fn a_session_arriving_after_the_wait_is_merged_into_the_new_one() {
    let mut n2 = node("n2");
    let c = persistent(&mut n2, "dev", Protocol::V5);
    let now = n2.now;
    n2.broker.claim_result(
        now,
        c,
        ClaimResult::Won {
            revision: 3,
            from: Some("n1".into()),
        },
    );
    n2.pump();
    n2.advance(std::time::Duration::from_secs(2));
    assert!(!connack(&mut n2, c).session_present);
    // The client subscribes again on its own meanwhile, at QoS 0.
    n2.subscribe(c, "mine/#", QoS::AtMostOnce);
    let sub = |filter: &str, qos| hornet_core::MovedSubscription {
        filter: filter.into(),
        options: hornet_codec::SubscriptionOptions {
            qos,
            ..Default::default()
        },
        identifier: None,
        local: false,
    };
    let mut queued = hornet_codec::Publish::new("t/1", "queued");
    queued.qos = QoS::AtLeastOnce;
    let now = n2.now;
    n2.broker.node_session(
        now,
        "n1",
        hornet_core::SessionMove {
            client_id: "dev".into(),
            revision: 3,
            expiry_interval: 60,
            subscriptions: vec![
                sub("t/#", QoS::AtLeastOnce),
                sub("mine/#", QoS::ExactlyOnce),
            ],
            messages: vec![queued],
            incoming_qos2: vec![7],
        },
    );
    n2.pump();
    let got = n2.receive(c);
    assert_eq!(got.len(), 1);
    assert_eq!(
        (&got[0].payload[..], got[0].qos),
        (&b"queued"[..], QoS::AtLeastOnce)
    );
    // Its subscription is the session's now; the client's own kept QoS 0.
    let p = n2.connect("pub", Protocol::V5, true);
    n2.publish(p, "t/2", "two", QoS::AtLeastOnce, false);
    n2.publish(p, "mine/1", "own", QoS::AtLeastOnce, false);
    let got = n2.receive(c);
    let seen: Vec<(&[u8], QoS)> = got.iter().map(|m| (&m.payload[..], m.qos)).collect();
    assert_eq!(
        seen,
        vec![
            (&b"two"[..], QoS::AtLeastOnce),
            (&b"own"[..], QoS::AtMostOnce)
        ]
    );
    // The QoS 2 exchange the client began on n1 completes here: PUBCOMP
    // Success, not 0x92 Packet identifier not found.
    let pid = hornet_codec::PacketId::new(7).unwrap();
    n2.send(c, hornet_codec::Packet::PubRel(hornet_codec::Ack::new(pid)));
    let answer = n2.take(c);
    assert!(
        answer.iter().any(|p| matches!(p,
            hornet_codec::Packet::PubComp(a) if a.reason_code == ReasonCode::Success)),
        "{answer:?}"
    );

    // The session ends (Clean Start): a late copy has nowhere to go.
    n2.close(c);
    let mut clean = Connect::new(Protocol::V5, "dev");
    clean.clean_start = true;
    let (c2, _) = n2.connect_with(clean);
    let now = n2.now;
    n2.broker.node_session(
        now,
        "n1",
        hornet_core::SessionMove {
            client_id: "dev".into(),
            revision: 3,
            expiry_interval: 60,
            subscriptions: vec![sub("gone/#", QoS::AtLeastOnce)],
            messages: vec![hornet_codec::Publish::new("t/9", "nowhere")],
            incoming_qos2: Vec::new(),
        },
    );
    n2.pump();
    assert!(n2.receive(c2).is_empty());
}

/// A claimed CONNECT whose client id is still live on this node then
/// waits for the old connection's input, as on one node; the packets
/// parked behind it keep their order across both waits.
#[test]
fn a_claimed_connect_then_waits_for_the_takeover_drain_with_its_packets_in_order() {
    let mut h = node("n1");
    h.broker.drain_before_takeover(true);
    let old = persistent(&mut h, "dev", Protocol::V5);
    won(&mut h, old, 1);
    h.take(old);
    let new = persistent(&mut h, "dev", Protocol::V5);
    h.send(
        new,
        Subscribe::new(
            hornet_codec::PacketId::new(1).unwrap(),
            "a",
            QoS::AtLeastOnce,
        ),
    );
    won(&mut h, new, 2);
    assert_eq!(
        h.drain_requests,
        vec![old],
        "the old connection is drained first"
    );
    h.send(
        new,
        Subscribe::new(
            hornet_codec::PacketId::new(2).unwrap(),
            "b",
            QoS::AtLeastOnce,
        ),
    );
    assert!(h.take(new).is_empty(), "still waiting");
    h.input_drained(old);
    h.expect_disconnect(old, ReasonCode::SessionTakenOver);
    let got = h.take(new);
    let ids: Vec<u16> = got
        .iter()
        .filter_map(|p| match p {
            Packet::SubAck(a) => Some(a.packet_id.get()),
            _ => None,
        })
        .collect();
    assert!(matches!(got.first(), Some(Packet::ConnAck(_))), "{got:?}");
    assert_eq!(
        ids,
        vec![1, 2],
        "parked while claiming, then while draining"
    );
}

#[test]
fn cut_off_while_waiting_for_a_moved_session_refuses_the_connect() {
    let mut h = node("n2");
    let c = persistent(&mut h, "dev", Protocol::V5);
    let now = h.now;
    h.broker.claim_result(
        now,
        c,
        ClaimResult::Won {
            revision: 3,
            from: Some("n1".into()),
        },
    );
    h.broker.cluster_cut_off(now, true, false);
    h.pump();
    h.advance(std::time::Duration::from_secs(2));
    assert_eq!(
        connack(&mut h, c).reason_code,
        ReasonCode::ServerUnavailable
    );
}

/// A CONNECT that won, then waits (here for a moved session), loses when
/// another node's newer claim shows up in the watch meanwhile: it never
/// connects beside the newer one.
#[test]
fn a_won_connect_still_waiting_loses_to_a_newer_claim_seen_meanwhile() {
    let mut h = node("n1");
    let c = persistent(&mut h, "dev", Protocol::V5);
    let now = h.now;
    h.broker.claim_result(
        now,
        c,
        ClaimResult::Won {
            revision: 4,
            from: Some("n3".into()),
        },
    );
    h.pump();
    assert!(h.take(c).is_empty(), "waiting for the session from n3");
    h.broker.client_claimed(now, "dev", "n2", 6);
    h.pump();
    let ack = connack(&mut h, c);
    assert_eq!(ack.reason_code, ReasonCode::Success);
    h.expect_disconnect(c, ReasonCode::SessionTakenOver);
    // The session from n3 arriving now is not taken.
    h.broker.node_session(
        now,
        "n3",
        hornet_core::SessionMove {
            client_id: "dev".into(),
            revision: 4,
            expiry_interval: 60,
            subscriptions: Vec::new(),
            messages: Vec::new(),
            incoming_qos2: Vec::new(),
        },
    );
    h.pump();
    assert_eq!(h.broker.cluster_owned_sessions(), 0);
}

#[test]
fn owned_sessions_and_the_cut_off_are_published_under_sys() {
    // The default settings publish `$SYS` (the harness's own do not).
    let mut h = Harness::with(hornet_core::Settings::default());
    h.broker.enable_cluster("n1", 1);
    let c = persistent(&mut h, "dev", Protocol::V5);
    won(&mut h, c, 2);
    h.take(c);
    let now = h.now;
    h.broker.cluster_cut_off(now, true, false);
    h.pump();
    let s = h.connect("watcher", Protocol::V5, true);
    h.subscribe(s, "$SYS/broker/cluster/#", QoS::AtMostOnce);
    h.advance(std::time::Duration::from_secs(11));
    let topics: Vec<String> = h
        .take(s)
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some(format!(
                "{}={}",
                p.topic,
                String::from_utf8_lossy(&p.payload)
            )),
            _ => None,
        })
        .collect();
    for want in [
        "$SYS/broker/cluster/sessions/owned=1",
        "$SYS/broker/cluster/cut_off=1",
    ] {
        assert!(topics.iter().any(|t| t == want), "{want} in {topics:?}");
    }
}

/// A session restored from the node's store after a restart, whose etcd
/// key still names the node, is held under that claim once the shell has
/// read the keys: its end deletes the key (at the key's revision), and an
/// older claim seen in the watch does not take it. A key naming the node
/// without a session here is released; a restored session whose key
/// names another node is dropped.
#[test]
fn sessions_restored_after_a_restart_are_held_under_their_etcd_claims() {
    use hornet_core::persist::{Restored, RestoredSession, SessionRecord};
    let mut h = Harness::persistent(hornet_core::AckPolicy::AfterDurable);
    let record = |key, client_id: &str| RestoredSession {
        record: SessionRecord {
            key,
            client_id: client_id.into(),
            protocol: Protocol::V5,
            expiry: 60,
            offline_since: 0,
            subscriptions: Vec::new(),
        },
        inflight: Vec::new(),
        queue: Vec::new(),
        incoming_qos2: Vec::new(),
        will: None,
        connected_will: None,
    };
    let now = h.now;
    h.broker.restore(
        now,
        Restored {
            sessions: vec![
                record(1, "kept"),
                record(2, "stale"),
                record(3, "unclaimed"),
            ],
            ..Restored::default()
        },
    );
    h.broker.enable_cluster("n1", 2);
    // A clean session connected before the keys are read, with a client
    // id whose persistent session another node holds: not claimed, kept.
    let live = h.connect("live", Protocol::V5, true);
    assert_eq!(h.broker.session_count(), 4);
    let mark = h.mark();
    let held = h.broker.cluster_claims_read(
        now,
        vec![
            ("kept".into(), "n1".into(), 40),
            ("stale".into(), "n2".into(), 41),
            ("ended".into(), "n1".into(), 42),
            ("live".into(), "n2".into(), 43),
        ],
    );
    h.pump();
    assert_eq!(held, 1);
    assert_eq!(h.broker.cluster_owned_sessions(), 1);
    assert_eq!(releases(&h, mark), vec![("ended".to_string(), 42)]);
    assert_eq!(h.broker.session_count(), 3, "the stale one went");
    // An older claim (before the restart) does not take it.
    h.broker.client_claimed(now, "kept", "n2", 39);
    h.pump();
    assert_eq!(h.broker.cluster_owned_sessions(), 1);
    // Its end deletes its key, at the revision read.
    let mark = h.mark();
    h.advance(std::time::Duration::from_secs(61));
    assert_eq!(h.broker.session_count(), 1, "both expired");
    assert!(!h.is_closed(live), "the connected clean session stays");
    assert_eq!(releases(&h, mark), vec![("kept".to_string(), 40)]);
    assert_eq!(h.broker.cluster_owned_sessions(), 0);
}
