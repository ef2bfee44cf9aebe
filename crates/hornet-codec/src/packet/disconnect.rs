//! DISCONNECT (MQTT 3.1.1 §3.14, MQTT 5.0 §3.14). In MQTT 5 either side may
//! send it, with a reason code; in 3.x only the client, with an empty body.

use bytes::{BufMut, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::PacketType;
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
        if !protocol.is_v5() || r.is_empty() {
            // §3.14.2.1: no reason code means Normal disconnection.
            return Ok(Disconnect::new(ReasonCode::NORMAL_DISCONNECTION));
        }
        let code = r.u8("the reason code")?;
        let reason_code = ReasonCode::from_u8(code)
            .filter(|c| c.allowed_in(ReasonContext::Disconnect))
            .ok_or(DecodeError::InvalidReasonCode {
                packet: PacketType::Disconnect,
                code,
            })?;
        let properties = if r.is_empty() {
            Properties::new()
        } else {
            Properties::decode(r, PropertyContext::Disconnect)?
        };
        Ok(Disconnect {
            reason_code,
            properties,
        })
    }

    pub(crate) fn check(&self, protocol: Protocol) -> Result<usize, EncodeError> {
        if !protocol.is_v5() {
            return Ok(0);
        }
        self.properties.check()?;
        Ok(match (self.reason_code, self.properties.is_empty()) {
            (ReasonCode::Success, true) => 0,
            (_, true) => 1,
            (_, false) => 1 + self.properties.wire_len(),
        })
    }

    pub(crate) fn encode_body(&self, protocol: Protocol, out: &mut BytesMut) {
        if !protocol.is_v5() {
            return;
        }
        match (self.reason_code, self.properties.is_empty()) {
            (ReasonCode::Success, true) => {}
            (reason, true) => out.put_u8(reason.as_u8()),
            (reason, false) => {
                out.put_u8(reason.as_u8());
                self.properties.encode(out);
            }
        }
    }
}
