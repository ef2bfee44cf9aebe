//! Packet descriptions for the verbose log, in Mosquitto's words, e.g.
//! `Received PUBLISH from sensor-1 (d0, q1, r0, m12, 'home/temp', ... (5 bytes))`.

use hornet_codec::Packet;

/// One packet event as Mosquitto's `-v` log words it: `verb` is
/// `Received`/`Sending`, `dir` is `from`/`to`.
pub(crate) fn line(verb: &str, packet: &Packet, dir: &str, client: &str) -> String {
    let details = describe(packet);
    let name = packet.packet_type().to_string();
    match details.strip_prefix(name.as_str()) {
        Some(rest) => format!("{verb} {name} {dir} {client}{rest}"),
        None => format!("{verb} {details} {dir} {client}"),
    }
}

/// The packet type and its details, e.g. `PUBACK (m3, rc0)`.
fn describe(packet: &Packet) -> String {
    match packet {
        Packet::Connect(c) => format!("CONNECT ('{}')", c.client_id),
        Packet::ConnAck(c) => format!(
            "CONNACK ({}, {})",
            u8::from(c.session_present),
            c.reason_code.as_u8()
        ),
        Packet::Publish(p) => format!(
            "PUBLISH (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
            u8::from(p.dup),
            p.qos as u8,
            u8::from(p.retain),
            p.packet_id.map_or(0, |id| id.get()),
            p.topic,
            p.payload.len()
        ),
        Packet::PubAck(a) => format!("PUBACK (m{}, rc{})", a.packet_id, a.reason_code.as_u8()),
        Packet::PubRec(a) => format!("PUBREC (m{}, rc{})", a.packet_id, a.reason_code.as_u8()),
        Packet::PubRel(a) => format!("PUBREL (m{}, rc{})", a.packet_id, a.reason_code.as_u8()),
        Packet::PubComp(a) => format!("PUBCOMP (m{}, rc{})", a.packet_id, a.reason_code.as_u8()),
        Packet::Subscribe(s) => {
            format!("SUBSCRIBE (m{}, {} filters)", s.packet_id, s.filters.len())
        }
        Packet::SubAck(s) => format!("SUBACK (m{})", s.packet_id),
        Packet::Unsubscribe(u) => format!("UNSUBSCRIBE (m{})", u.packet_id),
        Packet::UnsubAck(u) => format!("UNSUBACK (m{})", u.packet_id),
        Packet::PingReq => "PINGREQ".to_string(),
        Packet::PingResp => "PINGRESP".to_string(),
        Packet::Disconnect(d) => format!("DISCONNECT ({})", d.reason_code.as_u8()),
        Packet::Auth(a) => format!("AUTH ({})", a.reason_code.as_u8()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hornet_codec::{Publish, QoS};

    #[test]
    fn publish_reads_like_mosquitto() {
        let mut p = Publish::new("home/temp", "21.50");
        p.qos = QoS::AtLeastOnce;
        p.packet_id = hornet_codec::PacketId::new(12);
        assert_eq!(
            line("Received", &p.into(), "from", "sensor-1"),
            "Received PUBLISH from sensor-1 (d0, q1, r0, m12, 'home/temp', ... (5 bytes))"
        );
        assert_eq!(
            line("Sending", &Packet::PingResp, "to", "s"),
            "Sending PINGRESP to s"
        );
    }
}
