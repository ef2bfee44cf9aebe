//! Building the packets tests send and picking apart the ones the broker
//! sent: packet ids, PUBLISH at a QoS, the PUBLISHes or payloads among what
//! a client got, a DISCONNECT's reason code, a Reason String.

use hornet_codec::{Packet, PacketId, Properties, Publish, QoS, ReasonCode};
use hornet_core::Action;

/// Packet id `n` (nonzero).
pub(crate) fn pid(n: u16) -> PacketId {
    PacketId::new(n).expect("a nonzero packet id")
}

/// A PUBLISH of `payload` to `topic` at `qos`, with packet id 100 unless QoS 0.
pub(crate) fn message(topic: &str, payload: &str, qos: QoS) -> Publish {
    let mut p = Publish::new(topic, payload.to_string());
    p.qos = qos;
    if qos != QoS::AtMostOnce {
        p.packet_id = Some(pid(100));
    }
    p
}

/// The PUBLISHes among `packets`, in order.
pub(crate) fn publishes(packets: &[Packet]) -> Vec<Publish> {
    packets
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

/// The payloads of the PUBLISHes among `packets`, as text.
pub(crate) fn payloads(packets: &[Packet]) -> Vec<String> {
    publishes(packets)
        .iter()
        .map(|p| String::from_utf8_lossy(&p.payload).into_owned())
        .collect()
}

/// The reason code of the first DISCONNECT among `packets`.
pub(crate) fn disconnect_reason(packets: &[Packet]) -> Option<ReasonCode> {
    packets.iter().find_map(|p| match p {
        Packet::Disconnect(d) => Some(d.reason_code),
        _ => None,
    })
}

/// The Reason String among `props`.
pub(crate) fn reason_string(props: &Properties) -> Option<String> {
    props.reason_string().map(|s| s.to_string())
}

/// The packets sent in `actions`, to any connection.
pub(crate) fn sent(actions: &[Action]) -> Vec<&Packet> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { packet, .. } => Some(packet),
            _ => None,
        })
        .collect()
}

/// `actions` close a connection.
pub(crate) fn closes(actions: &[Action]) -> bool {
    actions.iter().any(|a| matches!(a, Action::Close { .. }))
}
