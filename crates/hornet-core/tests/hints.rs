//! First-time hints driven through the broker: one hint per cause across
//! clients, each right after the refusal it explains, while every refusal
//! keeps its own log line.

#[path = "support/logs.rs"]
mod logs;
use hornet_core::{Anonymous, Broker, ConnId, ConnInfo, Settings};
use logs::logged;

#[test]
fn a_broker_hints_once_per_cause_across_clients() {
    use hornet_codec::{Connect, Packet, Protocol};
    let now = std::time::Instant::now();
    let settings = Settings {
        max_client_id_length: 8,
        anonymous: Anonymous::Never,
        ..Settings::default()
    };
    let mut broker = Broker::new(settings, now);
    let peer: std::net::SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let lines = logged(|| {
        let mut id = 0;
        for client in ["much-too-long-1", "much-too-long-2", "ok-1", "ok-2"] {
            id += 1;
            broker.connection_opened(now, ConnId(id), ConnInfo::new(peer, 1883));
            let connect = Connect::new(Protocol::V5, client);
            broker.packet_received(now, ConnId(id), Packet::Connect(Box::new(connect)), 20);
        }
    });
    let hints: Vec<&String> = lines.iter().filter(|l| l.contains("hint: ")).collect();
    assert_eq!(hints.len(), 2, "one per cause:\n{}", lines.join("\n"));
    assert!(
        hints[0].contains("max_client_id_length (currently 8)"),
        "{lines:?}"
    );
    assert!(
        hints[1].contains("allow_anonymous (currently false)"),
        "{lines:?}"
    );
    let refusals = lines.iter().filter(|l| l.contains("refused")).count();
    assert_eq!(refusals, 4, "every refusal keeps its own line: {lines:?}");
    // The hint follows the refusal it explains.
    let first_refusal = lines.iter().position(|l| l.contains("refused")).unwrap();
    let first_hint = lines.iter().position(|l| l.contains("hint: ")).unwrap();
    assert_eq!(first_hint, first_refusal + 1, "{lines:?}");
}
