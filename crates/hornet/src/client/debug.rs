//! The `-d` lines, worded as libmosquitto's clients word them, so scripts
//! and eyes used to `mosquitto_pub -d` read them the same way:
//!
//! ```text
//! Client (null) sending CONNECT
//! Client (null) received CONNACK (0)
//! Client (null) sending PUBLISH (d0, q1, r0, m1, 'a/b', ... (5 bytes))
//! Client (null) received PUBACK (Mid: 1, RC:0)
//! ```
//!
//! `(null)` stands for an empty client id, until the broker assigns one.

use hornet_codec::{Packet, Protocol};

/// Whether a packet is going out or came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Written to the broker.
    Sending,
    /// Read from the broker.
    Received,
}

/// The debug line(s) for `packet`.
pub(crate) fn line(client: &str, dir: Direction, packet: &Packet, protocol: Protocol) -> String {
    let client = if client.is_empty() { "(null)" } else { client };
    let verb = match dir {
        Direction::Sending => "sending",
        Direction::Received => "received",
    };
    // A SUBSCRIBE of several filters is one line per filter, each whole.
    describe(dir, packet, protocol)
        .lines()
        .map(|what| format!("Client {client} {verb} {what}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn describe(dir: Direction, packet: &Packet, protocol: Protocol) -> String {
    let sending = dir == Direction::Sending;
    match packet {
        Packet::Connect(_) => "CONNECT".into(),
        Packet::ConnAck(c) => {
            let code = if protocol.is_v5() {
                c.reason_code.as_u8()
            } else {
                c.reason_code.to_v3_connack()
            };
            format!("CONNACK ({code})")
        }
        Packet::Publish(p) => format!(
            "PUBLISH (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
            u8::from(p.dup),
            p.qos as u8,
            u8::from(p.retain),
            p.packet_id.map_or(0, |id| id.get()),
            p.topic,
            p.payload.len()
        ),
        Packet::PubAck(a) | Packet::PubComp(a) if !sending => format!(
            "{} (Mid: {}, RC:{})",
            name(packet),
            a.packet_id,
            a.reason_code.as_u8()
        ),
        Packet::PubRec(a) | Packet::PubRel(a) if !sending => {
            format!("{} (Mid: {})", name(packet), a.packet_id)
        }
        Packet::PubAck(a) | Packet::PubRec(a) => format!(
            "{} (m{}, rc{})",
            name(packet),
            a.packet_id,
            a.reason_code.as_u8()
        ),
        Packet::PubRel(a) | Packet::PubComp(a) => format!("{} (m{})", name(packet), a.packet_id),
        Packet::Subscribe(s) => {
            let mut out = String::new();
            for f in &s.filters {
                if !out.is_empty() {
                    out.push('\n');
                }
                let o = f.options;
                let options = (o.qos as u8)
                    | u8::from(o.no_local) << 2
                    | u8::from(o.retain_as_published) << 3
                    | (o.retain_handling as u8) << 4;
                out.push_str(&format!(
                    "SUBSCRIBE (Mid: {}, Topic: {}, QoS: {}, Options: 0x{:02x})",
                    s.packet_id,
                    f.filter,
                    o.qos as u8,
                    options & !0x03
                ));
            }
            out
        }
        Packet::Unsubscribe(u) => format!(
            "UNSUBSCRIBE (Mid: {}, Topic: {})",
            u.packet_id,
            u.filters
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Packet::Disconnect(d) if !sending && protocol.is_v5() => {
            format!("DISCONNECT ({})", d.reason_code.as_u8())
        }
        other => name(other).into(),
    }
}

fn name(packet: &Packet) -> &'static str {
    match packet {
        Packet::Connect(_) => "CONNECT",
        Packet::ConnAck(_) => "CONNACK",
        Packet::Publish(_) => "PUBLISH",
        Packet::PubAck(_) => "PUBACK",
        Packet::PubRec(_) => "PUBREC",
        Packet::PubRel(_) => "PUBREL",
        Packet::PubComp(_) => "PUBCOMP",
        Packet::Subscribe(_) => "SUBSCRIBE",
        Packet::SubAck(_) => "SUBACK",
        Packet::Unsubscribe(_) => "UNSUBSCRIBE",
        Packet::UnsubAck(_) => "UNSUBACK",
        Packet::PingReq => "PINGREQ",
        Packet::PingResp => "PINGRESP",
        Packet::Disconnect(_) => "DISCONNECT",
        Packet::Auth(_) => "AUTH",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hornet_codec::{Ack, ConnAck, PacketId, Publish, QoS, ReasonCode, Subscribe};

    fn id(n: u16) -> PacketId {
        PacketId::new(n).unwrap()
    }

    /// The exact lines `mosquitto_pub -d -q 2` and `mosquitto_sub -d` print.
    #[test]
    fn lines_match_mosquitto() {
        let v4 = Protocol::V3_1_1;
        let mut p = Publish::new("a/b", "hello");
        p.qos = QoS::AtLeastOnce;
        p.packet_id = Some(id(1));
        let cases = [
            (
                Direction::Sending,
                Packet::from(hornet_codec::Connect::new(v4, "")),
                "Client (null) sending CONNECT",
            ),
            (
                Direction::Received,
                Packet::ConnAck(ConnAck::new(ReasonCode::NotAuthorized, false)),
                "Client (null) received CONNACK (5)",
            ),
            (
                Direction::Sending,
                Packet::Publish(p),
                "Client (null) sending PUBLISH (d0, q1, r0, m1, 'a/b', ... (5 bytes))",
            ),
            (
                Direction::Received,
                Packet::PubAck(Ack::new(id(1))),
                "Client (null) received PUBACK (Mid: 1, RC:0)",
            ),
            (
                Direction::Received,
                Packet::PubRec(Ack::new(id(1))),
                "Client (null) received PUBREC (Mid: 1)",
            ),
            (
                Direction::Sending,
                Packet::PubRel(Ack::new(id(1))),
                "Client (null) sending PUBREL (m1)",
            ),
            (
                Direction::Sending,
                Packet::PubAck(Ack::new(id(1))),
                "Client (null) sending PUBACK (m1, rc0)",
            ),
            (
                Direction::Sending,
                Packet::PubRec(Ack::new(id(2))),
                "Client (null) sending PUBREC (m2, rc0)",
            ),
            (
                Direction::Sending,
                Packet::PubComp(Ack::new(id(2))),
                "Client (null) sending PUBCOMP (m2)",
            ),
            (
                Direction::Sending,
                Packet::Subscribe(Subscribe::new(id(1), "a/#", QoS::ExactlyOnce)),
                "Client (null) sending SUBSCRIBE (Mid: 1, Topic: a/#, QoS: 2, Options: 0x00)",
            ),
            (
                Direction::Sending,
                Packet::PingReq,
                "Client (null) sending PINGREQ",
            ),
        ];
        for (dir, packet, want) in cases {
            assert_eq!(line("", dir, &packet, v4), want);
        }
        let connack = Packet::ConnAck(ConnAck::new(ReasonCode::NotAuthorized, false));
        assert_eq!(
            line("me", Direction::Received, &connack, Protocol::V5),
            "Client me received CONNACK (135)"
        );
    }
}
