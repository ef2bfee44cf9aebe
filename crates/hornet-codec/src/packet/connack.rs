//! CONNACK (MQTT 3.1.1 §3.2, MQTT 5.0 §3.2): the server's answer to CONNECT.

use bytes::{BufMut, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::PacketType;
use crate::property::{Properties, PropertyContext};
use crate::reason::{ReasonCode, ReasonContext};
use crate::wire::Reader;
use crate::Protocol;

/// A CONNACK packet.
///
/// The reason code is always an MQTT 5 code; for MQTT 3.x it is written as
/// the nearest CONNACK return code ([`ReasonCode::to_v3_connack`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    /// Session Present (never set in MQTT 3.1, which has no such flag).
    pub session_present: bool,
    /// Connect Reason Code / return code.
    pub reason_code: ReasonCode,
    /// CONNACK properties (MQTT 5 only).
    pub properties: Properties,
}

impl ConnAck {
    /// A CONNACK with no properties.
    pub fn new(reason_code: ReasonCode, session_present: bool) -> Self {
        ConnAck {
            session_present,
            reason_code,
            properties: Properties::new(),
        }
    }

    pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<Self, DecodeError> {
        let flags = r.u8("the connect acknowledge flags")?;
        // MQTT 3.1 has one reserved byte here; 3.1.1 and 5.0 use bit 0.
        let session_present = match protocol {
            Protocol::V3_1 => false,
            _ if flags & 0xFE != 0 => return Err(DecodeError::ConnAckReservedFlags),
            _ => flags & 0x01 != 0,
        };
        let code = r.u8("the connect reason code")?;
        let invalid = DecodeError::InvalidReasonCode {
            packet: PacketType::ConnAck,
            code,
        };
        let (reason_code, properties) = if protocol.is_v5() {
            let reason = ReasonCode::from_u8(code)
                .filter(|c| c.allowed_in(ReasonContext::ConnAck))
                .ok_or(invalid)?;
            let props = Properties::decode(r, PropertyContext::ConnAck)?;
            if props.authentication_data().is_some() && props.authentication_method().is_none() {
                return Err(DecodeError::AuthDataWithoutMethod);
            }
            (reason, props)
        } else {
            (
                ReasonCode::from_v3_connack(code).ok_or(invalid)?,
                Properties::new(),
            )
        };
        // [MQTT-3.2.2-4] (3.1.1) / [MQTT-3.2.2-6] (5.0).
        if session_present && reason_code != ReasonCode::Success {
            return Err(DecodeError::SessionPresentOnFailure);
        }
        Ok(ConnAck {
            session_present,
            reason_code,
            properties,
        })
    }

    pub(crate) fn check(&self, protocol: Protocol) -> Result<usize, EncodeError> {
        if protocol.is_v5() {
            self.properties.check()?;
            Ok(2 + self.properties.wire_len())
        } else {
            Ok(2)
        }
    }

    pub(crate) fn encode_body(&self, protocol: Protocol, out: &mut BytesMut) {
        let session_present = self.session_present && protocol != Protocol::V3_1;
        out.put_u8(u8::from(session_present));
        if protocol.is_v5() {
            out.put_u8(self.reason_code.as_u8());
            self.properties.encode(out);
        } else {
            out.put_u8(self.reason_code.to_v3_connack());
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
    fn connack_round_trips_in_every_version() {
        for protocol in Protocol::ALL {
            for code in 0..=5 {
                let reason = ReasonCode::from_v3_connack(code).unwrap();
                round_trip(ConnAck::new(reason, false).into(), protocol);
            }
        }
        round_trip(
            ConnAck::new(ReasonCode::Success, true).into(),
            Protocol::V3_1_1,
        );
        let mut c = ConnAck::new(ReasonCode::Success, true);
        c.properties = Properties::new()
            .with(Property::AssignedClientIdentifier("auto-7".into()))
            .with(Property::TopicAliasMaximum(10))
            .with(Property::MaximumQos(1))
            .with(Property::ServerKeepAlive(30));
        round_trip(c.into(), Protocol::V5);
    }

    /// MQTT 5 refusals become the nearest 3.1.1 return code.
    #[test]
    fn v5_codes_map_to_v3_return_codes() {
        let bytes = encode(
            &ConnAck::new(ReasonCode::Banned, false).into(),
            Protocol::V3_1_1,
        );
        assert_eq!(bytes, [0x20, 2, 0, 0x05]);
        let bytes = encode(
            &ConnAck::new(ReasonCode::UnsupportedProtocolVersion, false).into(),
            Protocol::V3_1_1,
        );
        assert_eq!(bytes, [0x20, 2, 0, 0x01]);
        let bytes = encode(
            &ConnAck::new(ReasonCode::Banned, false).into(),
            Protocol::V5,
        );
        assert_eq!(bytes, [0x20, 3, 0, 0x8A, 0]);
    }

    #[test]
    fn return_codes_outside_the_list_are_malformed() {
        assert_eq!(
            decode_body(Protocol::V3_1_1, 0x20, &[0, 6]).unwrap_err(),
            DecodeError::InvalidReasonCode {
                packet: PacketType::ConnAck,
                code: 6
            }
        );
        // 0x10 is a PUBACK code, never a CONNACK one.
        assert!(decode_body(Protocol::V5, 0x20, &[0, 0x10, 0]).is_err());
    }

    #[test]
    fn reserved_acknowledge_flags_and_session_present_on_failure() {
        assert_eq!(
            decode_body(Protocol::V3_1_1, 0x20, &[2, 0]).unwrap_err(),
            DecodeError::ConnAckReservedFlags
        );
        // [MQTT-3.2.2-4] (3.1.1) / [MQTT-3.2.2-6] (5.0).
        assert_eq!(
            decode_body(Protocol::V3_1_1, 0x20, &[1, 5]).unwrap_err(),
            DecodeError::SessionPresentOnFailure
        );
        assert_eq!(
            decode_body(Protocol::V5, 0x20, &[1, 0x87, 0]).unwrap_err(),
            DecodeError::SessionPresentOnFailure
        );
    }

    /// MQTT 3.1 has no Session Present flag.
    #[test]
    fn v3_1_never_says_session_present() {
        let bytes = encode(
            &Packet::ConnAck(ConnAck::new(ReasonCode::Success, true)),
            Protocol::V3_1,
        );
        assert_eq!(bytes, [0x20, 2, 0, 0]);
    }
}
