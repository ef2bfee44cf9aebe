//! Mosquitto's `message_size_limit`: the largest payload accepted, 0 for
//! no limit. A larger PUBLISH is dropped and, at QoS 1 and 2, still
//! acknowledged (MQTT 5: 0x95 Packet too large, 3.x a plain ack) so the
//! client does not resend it, as Mosquitto answers; a CONNECT whose will
//! payload is larger is refused (0x95). Called from `publish.rs` and
//! `connect.rs` in one line each.

use hornet_codec::{Ack, Connect, Packet, Publish, QoS, ReasonCode};

use crate::broker::{Broker, ConnId};

impl Broker {
    fn over_message_size_limit(&self, payload: usize) -> bool {
        let limit = self.settings.message_size_limit;
        limit != 0 && payload > limit
    }

    /// Drops `publish` if its payload is over the limit, acknowledging it;
    /// true when dropped.
    pub(crate) fn drop_oversize_publish(&mut self, id: ConnId, publish: &Publish) -> bool {
        if !self.over_message_size_limit(publish.payload.len()) {
            return false;
        }
        let name = self.conns.get(&id).map(|c| c.name()).unwrap_or_default();
        tracing::info!(
            "Dropped too large PUBLISH from {name} to '{}': {} bytes, over message_size_limit {}.",
            publish.topic,
            publish.payload.len(),
            self.settings.message_size_limit
        );
        let reason = ReasonCode::PacketTooLarge;
        let ack = match (publish.qos, publish.packet_id) {
            (QoS::AtLeastOnce, Some(pid)) => Packet::PubAck(Ack::with_reason(pid, reason)),
            (QoS::ExactlyOnce, Some(pid)) => Packet::PubRec(Ack::with_reason(pid, reason)),
            _ => return true,
        };
        self.send_explained(id, ack, "payload over the broker's message_size_limit");
        true
    }

    /// Refuses a CONNECT whose will payload is over the limit; true when
    /// refused.
    pub(crate) fn refuse_oversize_will(&mut self, id: ConnId, connect: &Connect) -> bool {
        let Some(will) = &connect.will else {
            return false;
        };
        if !self.over_message_size_limit(will.payload.len()) {
            return false;
        }
        tracing::info!(
            "Client {} refused: its will is {} bytes, over message_size_limit {}.",
            connect.client_id,
            will.payload.len(),
            self.settings.message_size_limit
        );
        self.refuse(
            id,
            ReasonCode::PacketTooLarge,
            Some("will payload over the broker's message_size_limit"),
        );
        true
    }
}
