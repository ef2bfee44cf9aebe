//! SUBACK (§3.9) and UNSUBACK (§3.11): one reason code per filter.

use bytes::{BufMut, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::{packet_id, PacketType};
use crate::property::{Properties, PropertyContext};
use crate::reason::{ReasonCode, ReasonContext};
use crate::wire::Reader;
use crate::{PacketId, Protocol};

/// A SUBACK packet.
///
/// For MQTT 3.x each code is written as the granted QoS or 0x80 Failure
/// ([`ReasonCode::to_v3_suback`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// Packet Identifier of the SUBSCRIBE.
    pub packet_id: PacketId,
    /// SUBACK properties (MQTT 5 only).
    pub properties: Properties,
    /// One code per filter of the SUBSCRIBE, in order ([MQTT-3.9.3-1]).
    pub reason_codes: Vec<ReasonCode>,
}

/// An UNSUBACK packet. MQTT 3.x UNSUBACK has no reason codes; they are
/// dropped when encoding for it and empty when decoded from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// Packet Identifier of the UNSUBSCRIBE.
    pub packet_id: PacketId,
    /// UNSUBACK properties (MQTT 5 only).
    pub properties: Properties,
    /// One code per filter (MQTT 5 only).
    pub reason_codes: Vec<ReasonCode>,
}

fn decode_codes(
    r: &mut Reader,
    packet: PacketType,
    map: impl Fn(u8) -> Option<ReasonCode>,
) -> Result<Vec<ReasonCode>, DecodeError> {
    let mut codes = Vec::with_capacity(r.remaining());
    while !r.is_empty() {
        let code = r.u8("a reason code")?;
        codes.push(map(code).ok_or(DecodeError::InvalidReasonCode { packet, code })?);
    }
    if codes.is_empty() {
        return Err(DecodeError::EmptyAck(packet));
    }
    Ok(codes)
}

impl SubAck {
    pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<Self, DecodeError> {
        let packet_id = packet_id(r, PacketType::SubAck)?;
        let (properties, reason_codes) = if protocol.is_v5() {
            let props = Properties::decode(r, PropertyContext::SubAck)?;
            let codes = decode_codes(r, PacketType::SubAck, |c| {
                ReasonCode::from_u8(c).filter(|c| c.allowed_in(ReasonContext::SubAck))
            })?;
            (props, codes)
        } else {
            (
                Properties::new(),
                decode_codes(r, PacketType::SubAck, ReasonCode::from_v3_suback)?,
            )
        };
        Ok(SubAck {
            packet_id,
            properties,
            reason_codes,
        })
    }

    pub(crate) fn check(&self, protocol: Protocol) -> Result<usize, EncodeError> {
        if self.reason_codes.is_empty() {
            return Err(EncodeError::Empty(PacketType::SubAck));
        }
        let mut len = 2 + self.reason_codes.len();
        if protocol.is_v5() {
            self.properties.check()?;
            len += self.properties.wire_len();
        }
        Ok(len)
    }

    pub(crate) fn encode_body(&self, protocol: Protocol, out: &mut BytesMut) {
        out.put_u16(self.packet_id.get());
        if protocol.is_v5() {
            self.properties.encode(out);
            for code in &self.reason_codes {
                out.put_u8(code.as_u8());
            }
        } else {
            for code in &self.reason_codes {
                out.put_u8(code.to_v3_suback());
            }
        }
    }
}

impl UnsubAck {
    pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<Self, DecodeError> {
        let packet_id = packet_id(r, PacketType::UnsubAck)?;
        if !protocol.is_v5() {
            return Ok(UnsubAck {
                packet_id,
                properties: Properties::new(),
                reason_codes: Vec::new(),
            });
        }
        let properties = Properties::decode(r, PropertyContext::UnsubAck)?;
        let reason_codes = decode_codes(r, PacketType::UnsubAck, |c| {
            ReasonCode::from_u8(c).filter(|c| c.allowed_in(ReasonContext::UnsubAck))
        })?;
        Ok(UnsubAck {
            packet_id,
            properties,
            reason_codes,
        })
    }

    pub(crate) fn check(&self, protocol: Protocol) -> Result<usize, EncodeError> {
        if !protocol.is_v5() {
            return Ok(2);
        }
        if self.reason_codes.is_empty() {
            return Err(EncodeError::Empty(PacketType::UnsubAck));
        }
        self.properties.check()?;
        Ok(2 + self.properties.wire_len() + self.reason_codes.len())
    }

    pub(crate) fn encode_body(&self, protocol: Protocol, out: &mut BytesMut) {
        out.put_u16(self.packet_id.get());
        if protocol.is_v5() {
            self.properties.encode(out);
            for code in &self.reason_codes {
                out.put_u8(code.as_u8());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::{decode_body, encode, pid, round_trip};
    use crate::packet::Packet;
    use crate::property::Property;

    #[test]
    fn suback_round_trips_in_every_version() {
        let v3_codes = vec![
            ReasonCode::Success,
            ReasonCode::GrantedQos1,
            ReasonCode::GrantedQos2,
            ReasonCode::UnspecifiedError,
        ];
        for protocol in Protocol::ALL {
            round_trip(
                SubAck {
                    packet_id: pid(1),
                    properties: Properties::new(),
                    reason_codes: v3_codes.clone(),
                }
                .into(),
                protocol,
            );
        }
        let s = SubAck {
            packet_id: pid(1),
            properties: Properties::new().with(Property::ReasonString("no".into())),
            reason_codes: vec![
                ReasonCode::NotAuthorized,
                ReasonCode::WildcardSubscriptionsNotSupported,
            ],
        };
        round_trip(s.into(), Protocol::V5);
    }

    /// [MQTT-3.9.3-2] 3.1.1 SUBACK codes are 0x00, 0x01, 0x02 and 0x80 only.
    #[test]
    fn mqtt_3_9_3_2_v3_return_codes() {
        let e = decode_body(Protocol::V3_1_1, 0x90, &[0, 1, 0x03]).unwrap_err();
        assert_eq!(
            e,
            DecodeError::InvalidReasonCode {
                packet: PacketType::SubAck,
                code: 3
            }
        );
        // Every MQTT 5 refusal is written as 0x80 for 3.x.
        let s = SubAck {
            packet_id: pid(1),
            properties: Properties::new(),
            reason_codes: vec![ReasonCode::NotAuthorized],
        };
        assert_eq!(encode(&s.into(), Protocol::V3_1_1), [0x90, 3, 0, 1, 0x80]);
    }

    #[test]
    fn v5_codes_outside_the_suback_list_are_malformed() {
        let e = decode_body(Protocol::V5, 0x90, &[0, 1, 0, 0x10]).unwrap_err();
        assert_eq!(
            e,
            DecodeError::InvalidReasonCode {
                packet: PacketType::SubAck,
                code: 0x10
            }
        );
        assert_eq!(
            decode_body(Protocol::V5, 0x90, &[0, 1, 0]).unwrap_err(),
            DecodeError::EmptyAck(PacketType::SubAck)
        );
    }

    #[test]
    fn unsuback_round_trips_and_v3_has_no_codes() {
        for protocol in [Protocol::V3_1, Protocol::V3_1_1] {
            round_trip(
                UnsubAck {
                    packet_id: pid(2),
                    properties: Properties::new(),
                    reason_codes: vec![],
                }
                .into(),
                protocol,
            );
            assert_eq!(
                decode_body(protocol, 0xB0, &[0, 2, 0]).unwrap_err(),
                DecodeError::TrailingBytes {
                    packet: PacketType::UnsubAck,
                    extra: 1
                }
            );
        }
        let u = UnsubAck {
            packet_id: pid(2),
            properties: Properties::new(),
            reason_codes: vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
        };
        round_trip(u.clone().into(), Protocol::V5);
        assert_eq!(
            encode(&Packet::UnsubAck(u), Protocol::V3_1_1),
            [0xB0, 2, 0, 2]
        );
        assert!(decode_body(Protocol::V5, 0xB0, &[0, 2, 0, 0x01]).is_err());
    }
}
