//! Per-listener settings: `max_connections` on one listener next to an
//! unlimited one, `max_connection_rate` against a reconnect storm, the
//! anonymous policy per listener, and several listeners of different
//! kinds in one broker sharing one set of sessions. Each limit is checked
//! by what a client sees (the socket closed before CONNACK) and by the
//! listener's counters.
//!
//! Hornet-only: the suite's Mosquitto run has one listener.

mod common;
#[path = "support/transports.rs"]
mod transports;

use std::time::{Duration, Instant};

use bytes::Bytes;
use hornet::config::{AllowAnonymous, ListenerKind};
use hornet_codec::{Packet, PacketId, Publish, QoS, ReasonCode, Subscribe};
use tokio::net::TcpStream;

use common::TIMEOUT;
use transports::{connack_code, connect, listener, tls_connect, Broker, Mqtt, Pki};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Connects over TCP to listener `i` and returns the client and the answer.
async fn try_connect(broker: &Broker, i: usize, id: &str) -> (Mqtt<TcpStream>, Option<Packet>) {
    let tcp = TcpStream::connect(broker.addr(i)).await.unwrap();
    Mqtt::connect(tcp, connect(id)).await
}

/// `max_connections 2` on one listener: the third client there is closed
/// without CONNACK and counted, while the other listener takes more; when
/// one leaves, the listener admits again.
#[test]
fn per_listener_max_connections() {
    if common::hornet_only() {
        return;
    }
    let mut limited = listener(ListenerKind::Tcp, None);
    limited.max_connections = Some(2);
    let broker = Broker::start(vec![limited, listener(ListenerKind::Tcp, None)], "");
    runtime().block_on(async {
        let (first, a) = try_connect(&broker, 0, "l1").await;
        assert_eq!(connack_code(a), ReasonCode::Success);
        let (_second, a) = try_connect(&broker, 0, "l2").await;
        assert_eq!(connack_code(a), ReasonCode::Success);
        let (_, a) = try_connect(&broker, 0, "l3").await;
        assert_eq!(
            a, None,
            "the third client on the limited listener is closed"
        );
        let mut others = Vec::new();
        for n in 0..3 {
            let (c, a) = try_connect(&broker, 1, &format!("o{n}")).await;
            assert_eq!(connack_code(a), ReasonCode::Success);
            others.push(c);
        }
        drop(first);
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let (_c, a) = try_connect(&broker, 0, "l4").await;
            if a.is_some() {
                assert_eq!(connack_code(a), ReasonCode::Success);
                break;
            }
            assert!(Instant::now() < deadline, "a freed slot is given again");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let stats = broker.server().listener_stats();
    assert!(stats[0].refused_max_connections >= 1, "{stats:?}");
    assert_eq!(stats[1].refused_max_connections, 0, "{stats:?}");
}

/// `max_connection_rate 5`: of a burst of 20 connections, the first 5 are
/// served and the rest closed at once and counted; after a second the
/// bucket has refilled.
#[test]
fn connection_rate_limit_closes_a_reconnect_storm() {
    if common::hornet_only() {
        return;
    }
    let mut limited = listener(ListenerKind::Tcp, None);
    limited.max_connection_rate = Some(5);
    let broker = Broker::start(vec![limited], "");
    runtime().block_on(async {
        let mut served = 0;
        let mut clients = Vec::new();
        for n in 0..20 {
            let (c, a) = try_connect(&broker, 0, &format!("storm{n}")).await;
            if a.is_some() {
                assert_eq!(connack_code(a), ReasonCode::Success);
                served += 1;
                clients.push(c);
            }
        }
        // 5 saved up, plus at most what refilled during the burst.
        assert!((5..=8).contains(&served), "served {served} of 20");
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (_c, a) = try_connect(&broker, 0, "after").await;
        assert_eq!(connack_code(a), ReasonCode::Success);
    });
    let stats = &broker.server().listener_stats()[0];
    assert!(stats.refused_rate >= 12, "{stats:?}");
}

/// A listener's own `allow_anonymous` overrides the global one: `false`
/// on one listener refuses an anonymous loopback client there
/// ([MQTT-3.2.2-5]: CONNACK with a refusal, then the close), while the
/// default listener lets it in.
#[test]
fn anonymous_policy_per_listener() {
    if common::hornet_only() {
        return;
    }
    let mut closed = listener(ListenerKind::Tcp, None);
    closed.allow_anonymous = Some(AllowAnonymous::Never);
    let broker = Broker::start(vec![listener(ListenerKind::Tcp, None), closed], "");
    runtime().block_on(async {
        let (_c, a) = try_connect(&broker, 0, "open").await;
        assert_eq!(connack_code(a), ReasonCode::Success);
        let (mut c, a) = try_connect(&broker, 1, "closed").await;
        assert_eq!(connack_code(a), ReasonCode::NotAuthorized);
        assert_eq!(c.recv().await, None);
    });
}

/// tcp, tls, ws listeners in one broker share the sessions: a message
/// published over TCP reaches a TLS subscriber.
#[test]
fn listeners_of_every_kind_share_one_broker() {
    if common::hornet_only() {
        return;
    }
    let pki = Pki::new();
    let broker = Broker::start(
        vec![
            listener(ListenerKind::Tcp, None),
            listener(ListenerKind::Tls, Some(pki.tls())),
            listener(ListenerKind::Ws, None),
            listener(ListenerKind::Wss, Some(pki.tls())),
        ],
        "",
    );
    let kinds: Vec<_> = broker
        .server()
        .listener_stats()
        .iter()
        .map(|s| s.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            ListenerKind::Tcp,
            ListenerKind::Tls,
            ListenerKind::Ws,
            ListenerKind::Wss
        ]
    );
    runtime().block_on(async {
        let tls = tls_connect(broker.addr(1), pki.client_config(None))
            .await
            .unwrap();
        let (mut sub, a) = Mqtt::connect(tls, connect("tls-sub")).await;
        assert_eq!(connack_code(a), ReasonCode::Success);
        sub.send(Subscribe::new(PacketId::new(1).unwrap(), "x/#", QoS::AtLeastOnce).into())
            .await;
        assert!(matches!(sub.recv().await, Some(Packet::SubAck(_))));
        let (mut publisher, a) = try_connect(&broker, 0, "tcp-pub").await;
        assert_eq!(connack_code(a), ReasonCode::Success);
        publisher
            .send(Publish::new("x/y", Bytes::from_static(b"across")).into())
            .await;
        match sub.recv().await {
            Some(Packet::Publish(p)) => assert_eq!(&p.payload[..], b"across"),
            other => panic!("expected the PUBLISH, got {other:?}"),
        }
    });
}

/// A TLS listener whose certificate cannot be read does not start, and
/// the error names the file.
#[test]
fn unreadable_certificate_is_a_start_error_naming_the_file() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tls = hornet::config::Tls::new(dir.path().join("missing.crt"), dir.path().join("k.key"));
    let err = match Broker::try_start(vec![listener(ListenerKind::Tls, Some(tls))], "") {
        Ok(_) => panic!("a TLS listener without its certificate must not start"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("missing.crt"), "{err}");
}
