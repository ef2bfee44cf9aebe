//! AUTH (MQTT 5.0 §3.15): the exchange of enhanced authentication. The
//! packet type does not exist before MQTT 5; the framing refuses it there.

use bytes::BytesMut;

use crate::error::{DecodeError, EncodeError};
use crate::packet::{reason_tail, PacketType};
use crate::property::{Properties, PropertyContext};
use crate::reason::{ReasonCode, ReasonContext};
use crate::wire::Reader;

/// An AUTH packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// Authenticate Reason Code: Success, Continue authentication or Re-authenticate.
    pub reason_code: ReasonCode,
    /// AUTH properties: Authentication Method and Data, Reason String, User Property.
    pub properties: Properties,
}

impl Auth {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let (reason_code, properties) = reason_tail::decode(
            r,
            PacketType::Auth,
            ReasonContext::Auth,
            PropertyContext::Auth,
        )?;
        if properties.authentication_data().is_some()
            && properties.authentication_method().is_none()
        {
            return Err(DecodeError::AuthDataWithoutMethod);
        }
        Ok(Auth {
            reason_code,
            properties,
        })
    }

    pub(crate) fn check(&self) -> Result<usize, EncodeError> {
        reason_tail::check(self.reason_code, &self.properties)
    }

    pub(crate) fn encode_body(&self, out: &mut BytesMut) {
        reason_tail::encode(self.reason_code, &self.properties, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::{b, decode_body, round_trip};
    use crate::packet::Packet;
    use crate::property::Property;
    use crate::{EncodeError, Protocol};

    #[test]
    fn auth_round_trips_in_v5() {
        round_trip(
            Auth {
                reason_code: ReasonCode::Success,
                properties: Properties::new(),
            }
            .into(),
            Protocol::V5,
        );
        let a = Auth {
            reason_code: ReasonCode::ContinueAuthentication,
            properties: Properties::new()
                .with(Property::AuthenticationMethod("SCRAM-SHA-256".into()))
                .with(Property::AuthenticationData(b(b"r=abc,s=xyz,i=4096"))),
        };
        round_trip(a.into(), Protocol::V5);
    }

    /// AUTH (type 15) is reserved before MQTT 5.
    #[test]
    fn auth_does_not_exist_in_v3() {
        for protocol in [Protocol::V3_1, Protocol::V3_1_1] {
            let e = decode_body(protocol, 0xF0, &[]).unwrap_err();
            assert_eq!(e, DecodeError::ReservedPacketType(15));
            assert_eq!(e.reason_code(), ReasonCode::MalformedPacket);
            let auth = Packet::Auth(Auth {
                reason_code: ReasonCode::Success,
                properties: Properties::new(),
            });
            assert_eq!(
                auth.encode(protocol, &mut bytes::BytesMut::new()),
                Err(EncodeError::NotInProtocol(PacketType::Auth))
            );
        }
    }

    #[test]
    fn auth_codes_and_flags() {
        assert!(matches!(
            decode_body(Protocol::V5, 0xF0, &[0x87]).unwrap_err(),
            DecodeError::InvalidReasonCode { .. }
        ));
        assert!(matches!(
            decode_body(Protocol::V5, 0xF1, &[]).unwrap_err(),
            DecodeError::InvalidFlags { .. }
        ));
        assert_eq!(
            decode_body(Protocol::V5, 0xF0, &[0x18, 3, 0x16, 0, 0]).unwrap_err(),
            DecodeError::AuthDataWithoutMethod
        );
    }
}
