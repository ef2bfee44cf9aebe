//! DISCONNECT (MQTT 3.1.1 §3.14, MQTT 5.0 §3.14). In MQTT 5 either side may
//! send it, with a reason code; in 3.x only the client, with an empty body.

use bytes::BytesMut;

use crate::error::{DecodeError, EncodeError};
use crate::packet::{reason_tail, PacketType};
use crate::property::{Properties, PropertyContext};
use crate::reason::{ReasonCode, ReasonContext};
use crate::wire::Reader;
use crate::Protocol;

/// A DISCONNECT packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    /// Disconnect Reason Code (MQTT 5 only; 0x00 Normal disconnection otherwise).
    pub reason_code: ReasonCode,
    /// DISCONNECT properties (MQTT 5 only).
    pub properties: Properties,
}

impl Disconnect {
    /// A DISCONNECT with `reason_code` and no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Disconnect {
            reason_code,
            properties: Properties::new(),
        }
    }

    pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<Self, DecodeError> {
        if !protocol.is_v5() {
            return Ok(Disconnect::new(ReasonCode::NORMAL_DISCONNECTION));
        }
        let (reason_code, properties) = reason_tail::decode(
            r,
            PacketType::Disconnect,
            ReasonContext::Disconnect,
            PropertyContext::Disconnect,
        )?;
        Ok(Disconnect {
            reason_code,
            properties,
        })
    }

    pub(crate) fn check(&self, protocol: Protocol) -> Result<usize, EncodeError> {
        if !protocol.is_v5() {
            return Ok(0);
        }
        reason_tail::check(self.reason_code, &self.properties)
    }

    pub(crate) fn encode_body(&self, protocol: Protocol, out: &mut BytesMut) {
        if protocol.is_v5() {
            reason_tail::encode(self.reason_code, &self.properties, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::{decode_body, encode, round_trip};
    use crate::packet::Packet;
    use crate::property::Property;

    #[test]
    fn disconnect_round_trips() {
        for protocol in Protocol::ALL {
            round_trip(
                Disconnect::new(ReasonCode::NORMAL_DISCONNECTION).into(),
                protocol,
            );
        }
        round_trip(
            Disconnect::new(ReasonCode::SessionTakenOver).into(),
            Protocol::V5,
        );
        let mut d = Disconnect::new(ReasonCode::DisconnectWithWillMessage);
        d.properties = Properties::new()
            .with(Property::SessionExpiryInterval(0))
            .with(Property::ReasonString("bye".into()));
        round_trip(d.into(), Protocol::V5);
        let mut d = Disconnect::new(ReasonCode::UseAnotherServer);
        d.properties
            .push(Property::ServerReference("other:1883".into()));
        round_trip(d.into(), Protocol::V5);
    }

    /// §3.14.2.1: a remaining length of 0 means Normal disconnection.
    #[test]
    fn v5_empty_body_means_normal_disconnection() {
        assert_eq!(
            decode_body(Protocol::V5, 0xE0, &[]),
            Ok(Disconnect::new(ReasonCode::Success).into())
        );
        assert_eq!(
            encode(&Disconnect::new(ReasonCode::Success).into(), Protocol::V5),
            [0xE0, 0]
        );
    }

    #[test]
    fn v3_disconnect_has_no_body() {
        assert_eq!(
            decode_body(Protocol::V3_1_1, 0xE0, &[0]).unwrap_err(),
            DecodeError::TrailingBytes {
                packet: PacketType::Disconnect,
                extra: 1
            }
        );
        assert_eq!(
            encode(
                &Packet::Disconnect(Disconnect::new(ReasonCode::SessionTakenOver)),
                Protocol::V3_1_1
            ),
            [0xE0, 0]
        );
        assert!(decode_body(Protocol::V3_1_1, 0xE1, &[]).is_err());
    }

    #[test]
    fn codes_outside_the_disconnect_list_are_malformed() {
        let e = decode_body(Protocol::V5, 0xE0, &[0x01]).unwrap_err();
        assert_eq!(
            e,
            DecodeError::InvalidReasonCode {
                packet: PacketType::Disconnect,
                code: 1
            }
        );
        // A CONNECT-only property in DISCONNECT.
        assert!(matches!(
            decode_body(Protocol::V5, 0xE0, &[0x00, 2, 0x17, 1]).unwrap_err(),
            DecodeError::PropertyNotAllowed { .. }
        ));
    }
}
