//! The tail that MQTT 5 PUBACK, PUBREC, PUBREL, PUBCOMP, DISCONNECT and AUTH
//! share: an optional reason code, then optional properties.
//!
//! A sender may stop after any part: no reason code means Success (or Normal
//! disconnection), no property length means no properties (§3.4.2.1,
//! §3.14.2.1, §3.15.2.1). The encoder omits the whole tail for Success
//! without properties, but once it writes a reason code it always writes
//! the property length too (`00` when empty), as Mosquitto does: some
//! clients (rumqttc 0.25) cannot decode a DISCONNECT that ends after its
//! reason code, and a DISCONNECT 0x8E they cannot read is a takeover they
//! cannot explain.

use bytes::{BufMut, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::PacketType;
use crate::property::{Properties, PropertyContext};
use crate::reason::{ReasonCode, ReasonContext};
use crate::wire::Reader;

/// Reads the tail of `packet`; an empty reader gives Success and no properties.
pub(super) fn decode(
    r: &mut Reader,
    packet: PacketType,
    reasons: ReasonContext,
    context: PropertyContext,
) -> Result<(ReasonCode, Properties), DecodeError> {
    if r.is_empty() {
        return Ok((ReasonCode::Success, Properties::new()));
    }
    let code = r.u8("the reason code")?;
    let reason = ReasonCode::from_u8(code)
        .filter(|c| c.allowed_in(reasons))
        .ok_or(DecodeError::InvalidReasonCode { packet, code })?;
    let properties = if r.is_empty() {
        Properties::new()
    } else {
        Properties::decode(r, context)?
    };
    Ok((reason, properties))
}

/// Checks the properties and returns the tail's length as [`encode`] writes it.
pub(super) fn check(reason: ReasonCode, properties: &Properties) -> Result<usize, EncodeError> {
    properties.check()?;
    Ok(match (reason, properties.is_empty()) {
        (ReasonCode::Success, true) => 0,
        (_, true) => 2,
        (_, false) => 1 + properties.wire_len(),
    })
}

/// Writes the tail as [`check`] measured it.
pub(super) fn encode(reason: ReasonCode, properties: &Properties, out: &mut BytesMut) {
    match (reason, properties.is_empty()) {
        (ReasonCode::Success, true) => {}
        (reason, true) => {
            out.put_u8(reason.as_u8());
            out.put_u8(0); // property length
        }
        (reason, false) => {
            out.put_u8(reason.as_u8());
            properties.encode(out);
        }
    }
}
