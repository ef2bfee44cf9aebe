//! Takeover without a race (`takeover` in the core): a CONNECT for a client
//! id that is live on another connection waits until the shell has fed
//! what that connection already received, so a DISCONNECT sent just before
//! the reconnect discards the will ([MQTT-3.1.2-10]) instead of the
//! takeover publishing it ([MQTT-3.1.4-3]), and the old connection gets no
//! 0x8E. Driven on the virtual clock, with the shell's side (answering
//! `DrainInput`) played by the test.

mod support;

use std::time::Duration;

use hornet_codec::{
    Connect, Disconnect, LastWill, Packet, Property, Protocol, QoS, ReasonCode, Subscribe,
};
use hornet_core::ConnId;
use support::*;

/// A broker whose shell drains on request, a watcher on `will`, and `dev`
/// connected over `protocol` with a will on `will`.
fn world(protocol: Protocol) -> (Harness, ConnId, ConnId, Connect) {
    let mut h = Harness::new();
    h.broker.drain_before_takeover(true);
    let watcher = h.connect("watcher", Protocol::V5, true);
    h.subscribe(watcher, "will", QoS::AtMostOnce);
    let connect = dev_connect(protocol);
    let (dev, ack) = h.connect_with(connect.clone());
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert!(h.drain_requests.is_empty(), "nothing to take over yet");
    (h, watcher, dev, connect)
}

fn dev_connect(protocol: Protocol) -> Connect {
    let mut c = Connect::new(protocol, "dev");
    c.clean_start = false;
    if protocol.is_v5() {
        c.properties.push(Property::SessionExpiryInterval(60));
    }
    c.will = Some(LastWill {
        topic: "will".into(),
        payload: "gone".into(),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: Default::default(),
    });
    c
}

/// Opens a connection and sends `connect` on it; returns it and what it
/// was sent at once.
fn reconnect(h: &mut Harness, connect: Connect) -> (ConnId, Vec<Packet>) {
    let id = h.open_loopback();
    h.send(id, connect);
    let got = h.take(id);
    (id, got)
}

fn connack_present(packets: &[Packet]) -> bool {
    match packets.first() {
        Some(Packet::ConnAck(ack)) => {
            assert_eq!(ack.reason_code, ReasonCode::Success);
            ack.session_present
        }
        other => panic!("expected CONNACK first, got {other:?}"),
    }
}

#[test]
fn a_disconnect_read_while_the_new_connect_waits_discards_the_will() {
    // [MQTT-3.1.2-10]: a DISCONNECT deletes the will, even when the
    // reconnect's CONNECT was read first.
    for protocol in [Protocol::V3_1_1, Protocol::V5] {
        let (mut h, watcher, old, connect) = world(protocol);
        let (new, got) = reconnect(&mut h, connect);
        assert!(got.is_empty(), "{protocol:?}: no CONNACK before the drain");
        assert_eq!(h.drain_requests, vec![old], "the old connection is drained");
        // The shell reads the old socket: its DISCONNECT.
        h.send(old, Disconnect::new(ReasonCode::Success));
        assert!(h.is_closed(old));
        assert!(
            h.take(old).is_empty(),
            "{protocol:?}: no DISCONNECT 0x8E to a client that left"
        );
        let got = h.take(new);
        assert!(connack_present(&got), "{protocol:?}: the session resumes");
        h.input_drained(old); // late: ignored
        assert!(
            publishes(&h.take(watcher)).is_empty(),
            "{protocol:?}: no will"
        );
    }
}

#[test]
fn with_nothing_pending_the_takeover_goes_on_after_the_drain() {
    // [MQTT-3.1.4-3]: the old connection is closed, MQTT 5 with 0x8E, and
    // (it did not DISCONNECT) its will is published ([MQTT-3.1.2-8]).
    let (mut h, watcher, old, connect) = world(Protocol::V5);
    let (new, got) = reconnect(&mut h, connect);
    assert!(got.is_empty());
    assert!(
        !h.is_closed(old),
        "the old connection lives while it drains"
    );
    h.input_drained(old);
    assert!(connack_present(&h.take(new)));
    assert!(h.is_closed(old));
    assert_eq!(
        disconnect_reason(&h.take(old)),
        Some(ReasonCode::SessionTakenOver)
    );
    assert_eq!(payloads(&h.take(watcher)), vec!["gone".to_string()]);
}

#[test]
fn a_shell_that_never_answers_delays_the_takeover_by_one_second_only() {
    let (mut h, watcher, old, connect) = world(Protocol::V3_1_1);
    let (new, got) = reconnect(&mut h, connect);
    assert!(got.is_empty());
    h.advance(Duration::from_millis(900));
    assert!(h.take(new).is_empty(), "still waiting");
    h.advance(Duration::from_millis(200));
    assert!(connack_present(&h.take(new)));
    assert!(h.is_closed(old));
    assert_eq!(payloads(&h.take(watcher)), vec!["gone".to_string()]);
}

#[test]
fn packets_after_the_waiting_connect_are_handled_after_its_connack_in_order() {
    let (mut h, _watcher, old, connect) = world(Protocol::V5);
    let (new, _) = reconnect(&mut h, connect);
    h.send(new, Subscribe::new(pid(7), "later", QoS::AtLeastOnce));
    h.send(new, message("later", "x", QoS::AtMostOnce));
    assert!(h.take(new).is_empty(), "parked with the CONNECT");
    h.input_drained(old);
    let got = h.take(new);
    assert!(connack_present(&got));
    assert!(
        matches!(&got[1], Packet::SubAck(ack) if ack.packet_id == pid(7)),
        "then the SUBACK: {got:?}"
    );
    assert_eq!(payloads(&got[2..]), vec!["x".to_string()]);
}

#[test]
fn a_waiting_connect_whose_socket_closes_leaves_the_old_connection_alone() {
    let (mut h, watcher, old, connect) = world(Protocol::V5);
    let (new, _) = reconnect(&mut h, connect);
    h.close(new);
    h.input_drained(old);
    assert!(!h.is_closed(old), "nobody took it over");
    assert!(publishes(&h.take(watcher)).is_empty());
    h.advance(Duration::from_secs(2));
    assert!(!h.is_closed(old));
}

#[test]
fn two_waiting_connects_resume_in_order_and_the_last_one_wins() {
    let (mut h, _watcher, old, connect) = world(Protocol::V5);
    let (first, _) = reconnect(&mut h, connect.clone());
    let (second, _) = reconnect(&mut h, connect);
    assert_eq!(h.drain_requests, vec![old], "drained once");
    h.input_drained(old);
    assert!(h.is_closed(old));
    let got = h.take(first);
    assert!(connack_present(&got));
    assert!(h.is_closed(first), "taken over by the second");
    assert_eq!(disconnect_reason(&got), Some(ReasonCode::SessionTakenOver));
    assert!(connack_present(&h.take(second)));
    assert!(!h.is_closed(second));
}

#[test]
fn without_drain_before_takeover_the_takeover_is_immediate() {
    let mut h = Harness::new();
    let old = h.connect("dev", Protocol::V5, false);
    let (_new, ack) = h.connect_with(dev_connect(Protocol::V5));
    assert!(ack.session_present);
    assert!(h.is_closed(old));
    assert!(h.drain_requests.is_empty());
}
