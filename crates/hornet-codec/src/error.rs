//! Errors of the codec: every way a peer's bytes can be wrong, and the few
//! ways a packet built in memory cannot be written.
//!
//! Each [`DecodeError`] variant names the normative statement it enforces and
//! answers [`DecodeError::reason_code`], the MQTT 5 reason code the server
//! sends back (in a CONNACK before the session exists, in a DISCONNECT
//! after). For MQTT 3.x clients the broker only closes the connection; the
//! reason still goes to the log.

use thiserror::Error;

use crate::packet::PacketType;
use crate::property::PropertyId;
use crate::reason::ReasonCode;
use crate::topic::TopicError;

/// A packet that could not be decoded. The connection it came from cannot
/// continue: the broker answers [`DecodeError::reason_code`] and closes it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The whole packet would exceed the configured maximum packet size.
    #[error("packet of {size} bytes exceeds the maximum packet size of {max} bytes")]
    PacketTooLarge {
        /// Size of the whole packet, fixed header included.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A Variable Byte Integer continued into a fifth byte.
    #[error("[MQTT-1.5.5-1] variable byte integer longer than four bytes")]
    VarintTooLong,
    /// A Variable Byte Integer did not use the fewest bytes possible.
    #[error("[MQTT-1.5.5-1] variable byte integer not encoded in the minimum number of bytes")]
    VarintNotMinimal,
    /// Packet type 0, or 15 (AUTH) before MQTT 5.
    #[error("[MQTT-2.2.2-2] reserved packet type {0}")]
    ReservedPacketType(u8),
    /// The flag bits of the fixed header are not the ones the packet type requires.
    #[error("[MQTT-2.2.2-2] invalid fixed header flags {flags:#06b} for {packet}")]
    InvalidFlags {
        /// The packet whose flags were wrong.
        packet: PacketType,
        /// The low nibble as received.
        flags: u8,
    },
    /// A packet other than CONNECT arrived before CONNECT.
    #[error("[MQTT-3.1.0-1] first packet from the client was {0}, not CONNECT")]
    FirstPacketNotConnect(PacketType),
    /// The packet ended before a field did.
    #[error("packet ended inside {0}")]
    Truncated(&'static str),
    /// Bytes were left over after the last field of the packet.
    #[error("{extra} unexpected bytes after the end of {packet}")]
    TrailingBytes {
        /// The packet that had too many bytes.
        packet: PacketType,
        /// How many bytes were left.
        extra: usize,
    },
    /// A UTF-8 encoded string was not valid UTF-8.
    #[error("[MQTT-1.5.4-1] ill-formed UTF-8 in {0}")]
    InvalidUtf8(&'static str),
    /// A UTF-8 encoded string contained an encoded UTF-16 surrogate.
    #[error("[MQTT-1.5.4-1] UTF-16 surrogate code point in {0}")]
    Surrogate(&'static str),
    /// A UTF-8 encoded string contained U+0000.
    #[error("[MQTT-1.5.4-2] null character U+0000 in {0}")]
    NullCharacter(&'static str),
    /// The protocol name in CONNECT is neither `MQTT` nor `MQIsdp`, or does not
    /// fit the protocol level.
    #[error("[MQTT-3.1.2-1] protocol name {name:?} with protocol level {level} is not MQTT")]
    InvalidProtocolName {
        /// The name as sent (lossily decoded).
        name: String,
        /// The protocol level byte that followed it.
        level: u8,
    },
    /// The protocol level in CONNECT is not 3, 4 or 5.
    #[error("[MQTT-3.1.2-2] unsupported protocol level {0}")]
    UnsupportedProtocolLevel(u8),
    /// The reserved bit 0 of the CONNECT flags was set.
    #[error("[MQTT-3.1.2-3] reserved CONNECT flag is set")]
    ConnectReservedFlag,
    /// Will QoS was not 0 although the Will Flag was 0.
    #[error("[MQTT-3.1.2-11] will QoS is set but the will flag is not")]
    WillQosWithoutWill,
    /// Will QoS was 3.
    #[error("[MQTT-3.1.2-12] will QoS 3 is invalid")]
    InvalidWillQos,
    /// Will Retain was set although the Will Flag was 0.
    #[error("[MQTT-3.1.2-13] will retain is set but the will flag is not")]
    WillRetainWithoutWill,
    /// MQTT 3.x CONNECT with a password but no user name.
    #[error("[MQTT-3.1.2-22] password flag set without user name flag")]
    PasswordWithoutUsername,
    /// MQTT 5 CONNECT or CONNACK with Authentication Data but no Authentication Method.
    #[error("(MQTT 5.0 §3.1.2.11.10) authentication data without an authentication method")]
    AuthDataWithoutMethod,
    /// CONNACK acknowledge flags with reserved bits set.
    #[error("(MQTT 5.0 §3.2.2.1) reserved CONNACK acknowledge flags are set")]
    ConnAckReservedFlags,
    /// CONNACK with Session Present set and a non-zero return code.
    #[error("[MQTT-3.2.2-6] CONNACK with session present and a failure code")]
    SessionPresentOnFailure,
    /// A PUBLISH with QoS bits `11`.
    #[error("[MQTT-3.3.1-4] PUBLISH with QoS 3")]
    InvalidQos,
    /// A QoS 0 PUBLISH with the DUP flag.
    #[error("[MQTT-3.3.1-2] DUP flag set on a QoS 0 PUBLISH")]
    DupWithQos0,
    /// A topic name that is empty or contains a wildcard.
    #[error("invalid topic name: {0}")]
    InvalidTopicName(TopicError),
    /// A topic filter that breaks the wildcard or shared subscription rules.
    #[error("invalid topic filter: {0}")]
    InvalidTopicFilter(TopicError),
    /// MQTT 5 PUBLISH with an empty topic name and no Topic Alias.
    #[error("[MQTT-3.3.2-1] empty topic name without a topic alias")]
    EmptyTopicWithoutAlias,
    /// A Topic Alias of 0.
    #[error("[MQTT-3.3.2-8] topic alias 0")]
    TopicAliasZero,
    /// A packet identifier of 0 where one is required.
    #[error("[MQTT-2.2.1-3] packet identifier 0 in {0}")]
    ZeroPacketId(PacketType),
    /// SUBSCRIBE with no topic filters.
    #[error("[MQTT-3.8.3-3] SUBSCRIBE without a topic filter")]
    EmptySubscribe,
    /// UNSUBSCRIBE with no topic filters.
    #[error("[MQTT-3.10.3-2] UNSUBSCRIBE without a topic filter")]
    EmptyUnsubscribe,
    /// SUBACK or UNSUBACK with no reason codes.
    #[error("{0} without reason codes")]
    EmptyAck(PacketType),
    /// Subscription options with reserved bits set.
    #[error("[MQTT-3.8.3-5] reserved bits set in subscription options {0:#010b}")]
    SubscriptionOptionsReserved(u8),
    /// Requested QoS 3 in SUBSCRIBE.
    #[error("[MQTT-3-8.3-4] requested QoS 3 in SUBSCRIBE")]
    InvalidSubscriptionQos,
    /// Retain Handling of 3.
    #[error("(MQTT 5.0 §3.8.3.1) retain handling 3 is a protocol error")]
    InvalidRetainHandling,
    /// No Local on a shared subscription.
    #[error("[MQTT-3.8.3-4] no local set on shared subscription")]
    NoLocalOnSharedSubscription,
    /// A property identifier this version of MQTT does not define.
    #[error("unknown property identifier {0:#04x}")]
    UnknownProperty(u32),
    /// A property in a packet that may not carry it.
    #[error("[MQTT-2.2.2-2] property {property} is not allowed in {packet} (a Malformed Packet, §2.2.2.2)")]
    PropertyNotAllowed {
        /// The property.
        property: PropertyId,
        /// Where it was found ("CONNECT", "will properties", ...).
        packet: &'static str,
    },
    /// A property other than User Property (or Subscription Identifier in
    /// PUBLISH) appeared twice.
    #[error("[MQTT-2.2.2-2] property {0} appears more than once")]
    DuplicateProperty(PropertyId),
    /// A property value outside its range (e.g. Receive Maximum 0).
    #[error("invalid value {value} for property {property}")]
    InvalidPropertyValue {
        /// The property.
        property: PropertyId,
        /// The value as received.
        value: u32,
    },
    /// The property length disagrees with the properties that follow.
    #[error("property length {0} overruns the packet")]
    PropertyLength(u32),
    /// A reason code that is not defined, or not allowed in this packet.
    #[error("reason code {code:#04x} is not valid in {packet}")]
    InvalidReasonCode {
        /// The packet.
        packet: PacketType,
        /// The code as received.
        code: u8,
    },
}

impl DecodeError {
    /// The MQTT 5 reason code a server answers with: in CONNACK if the
    /// error came before the session was accepted, in DISCONNECT after.
    pub fn reason_code(&self) -> ReasonCode {
        use DecodeError::*;
        match self {
            PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            UnsupportedProtocolLevel(_) | InvalidProtocolName { .. } => {
                ReasonCode::UnsupportedProtocolVersion
            }
            InvalidTopicName(_) => ReasonCode::TopicNameInvalid,
            InvalidTopicFilter(_) => ReasonCode::TopicFilterInvalid,
            TopicAliasZero => ReasonCode::TopicAliasInvalid,
            FirstPacketNotConnect(_)
            | EmptyTopicWithoutAlias
            | ZeroPacketId(_)
            | EmptySubscribe
            | EmptyUnsubscribe
            | EmptyAck(_)
            | InvalidRetainHandling
            | NoLocalOnSharedSubscription
            | DuplicateProperty(_)
            | InvalidPropertyValue { .. }
            | SessionPresentOnFailure
            | AuthDataWithoutMethod
            | PasswordWithoutUsername => ReasonCode::ProtocolError,
            // §2.2.2.2: "a Control Packet which contains an Identifier which
            // is not valid for its packet type ... is a Malformed Packet".
            PropertyNotAllowed { .. }
            | VarintTooLong
            | VarintNotMinimal
            | ReservedPacketType(_)
            | InvalidFlags { .. }
            | Truncated(_)
            | TrailingBytes { .. }
            | InvalidUtf8(_)
            | Surrogate(_)
            | NullCharacter(_)
            | ConnectReservedFlag
            | WillQosWithoutWill
            | InvalidWillQos
            | WillRetainWithoutWill
            | ConnAckReservedFlags
            | InvalidQos
            | DupWithQos0
            | SubscriptionOptionsReserved(_)
            | InvalidSubscriptionQos
            | UnknownProperty(_)
            | PropertyLength(_)
            | InvalidReasonCode { .. } => ReasonCode::MalformedPacket,
        }
    }
}

/// A packet in memory that cannot be written in the requested protocol version.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The packet's remaining length would exceed 268,435,455 bytes.
    #[error("packet body of {0} bytes exceeds the MQTT maximum of 268435455")]
    PacketTooLarge(usize),
    /// A string or binary field is longer than 65,535 bytes.
    #[error("{0} is longer than 65535 bytes")]
    FieldTooLong(&'static str),
    /// The packet type does not exist in the requested protocol version.
    #[error("{0} does not exist before MQTT 5")]
    NotInProtocol(PacketType),
    /// A QoS 1 or 2 PUBLISH without a packet identifier, or QoS 0 with one.
    #[error("[MQTT-2.2.1-2] packet identifier must be present exactly when QoS > 0")]
    PacketIdMismatch,
    /// A packet that must list at least one item lists none.
    #[error("{0} must carry at least one entry")]
    Empty(PacketType),
    /// A reason code that the older protocol version cannot express.
    #[error("reason code {0} cannot be sent in this packet to an MQTT 3 client")]
    NotExpressible(ReasonCode),
}
