//! MQTT 5.0 properties (§2.2.2 and Table 2-4 "Properties").
//!
//! Owns the 27 property identifiers, the data type of each, and which packets
//! may carry which property. [`Properties`] keeps the properties of one packet
//! in the order they arrived (User Properties must be forwarded in order,
//! [MQTT-3.3.2-18]), costs nothing when empty, and answers typed getters.
//!
//! Decoding enforces Table 2-4: a property in a packet it is not defined for,
//! or repeated where only one is allowed, is a Protocol Error; an unknown
//! identifier or a short value is a Malformed Packet.

use std::fmt;

use bytes::{BufMut, Bytes};
use bytestring::ByteString;
use thin_vec::ThinVec;

use crate::error::{DecodeError, EncodeError};
use crate::varint;
use crate::wire::{self, Reader};

/// Where a property list sits; Table 2-4 allows each property in some of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum PropertyContext {
    /// CONNECT properties.
    Connect = 1 << 0,
    /// The Will Properties in the CONNECT payload.
    Will = 1 << 1,
    /// CONNACK properties.
    ConnAck = 1 << 2,
    /// PUBLISH properties.
    Publish = 1 << 3,
    /// PUBACK properties.
    PubAck = 1 << 4,
    /// PUBREC properties.
    PubRec = 1 << 5,
    /// PUBREL properties.
    PubRel = 1 << 6,
    /// PUBCOMP properties.
    PubComp = 1 << 7,
    /// SUBSCRIBE properties.
    Subscribe = 1 << 8,
    /// SUBACK properties.
    SubAck = 1 << 9,
    /// UNSUBSCRIBE properties.
    Unsubscribe = 1 << 10,
    /// UNSUBACK properties.
    UnsubAck = 1 << 11,
    /// DISCONNECT properties.
    Disconnect = 1 << 12,
    /// AUTH properties.
    Auth = 1 << 13,
}

impl PropertyContext {
    /// Name used in error messages.
    pub const fn name(self) -> &'static str {
        match self {
            PropertyContext::Connect => "CONNECT",
            PropertyContext::Will => "will properties",
            PropertyContext::ConnAck => "CONNACK",
            PropertyContext::Publish => "PUBLISH",
            PropertyContext::PubAck => "PUBACK",
            PropertyContext::PubRec => "PUBREC",
            PropertyContext::PubRel => "PUBREL",
            PropertyContext::PubComp => "PUBCOMP",
            PropertyContext::Subscribe => "SUBSCRIBE",
            PropertyContext::SubAck => "SUBACK",
            PropertyContext::Unsubscribe => "UNSUBSCRIBE",
            PropertyContext::UnsubAck => "UNSUBACK",
            PropertyContext::Disconnect => "DISCONNECT",
            PropertyContext::Auth => "AUTH",
        }
    }
}

const CONNECT: u16 = PropertyContext::Connect as u16;
const WILL: u16 = PropertyContext::Will as u16;
const CONNACK: u16 = PropertyContext::ConnAck as u16;
const PUBLISH: u16 = PropertyContext::Publish as u16;
const ACKS: u16 = PropertyContext::PubAck as u16
    | PropertyContext::PubRec as u16
    | PropertyContext::PubRel as u16
    | PropertyContext::PubComp as u16;
const SUBSCRIBE: u16 = PropertyContext::Subscribe as u16;
const SUBACK: u16 = PropertyContext::SubAck as u16;
const UNSUBSCRIBE: u16 = PropertyContext::Unsubscribe as u16;
const UNSUBACK: u16 = PropertyContext::UnsubAck as u16;
const DISCONNECT: u16 = PropertyContext::Disconnect as u16;
const AUTH: u16 = PropertyContext::Auth as u16;
const ALL: u16 = (1 << 14) - 1;

/// The data type of a property value (§1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyType {
    /// One byte.
    Byte,
    /// Two Byte Integer.
    TwoByteInteger,
    /// Four Byte Integer.
    FourByteInteger,
    /// Variable Byte Integer.
    VariableByteInteger,
    /// UTF-8 Encoded String.
    Utf8String,
    /// Binary Data.
    BinaryData,
    /// UTF-8 String Pair.
    Utf8StringPair,
}

macro_rules! property_ids {
    ($( $variant:ident = $value:literal, $name:literal, $ty:ident, $allowed:expr; )*) => {
        /// A property identifier (Table 2-4).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum PropertyId {
            $( #[doc = $name] $variant = $value, )*
        }

        impl PropertyId {
            /// Every property identifier, in numeric order.
            pub const ALL: &'static [PropertyId] = &[$(PropertyId::$variant),*];

            /// The identifier with this value, if MQTT 5.0 defines one.
            pub const fn from_u8(value: u8) -> Option<PropertyId> {
                match value {
                    $( $value => Some(PropertyId::$variant), )*
                    _ => None,
                }
            }

            /// The spec's name.
            pub const fn name(self) -> &'static str {
                match self { $( PropertyId::$variant => $name, )* }
            }

            /// The value's data type.
            pub const fn value_type(self) -> PropertyType {
                match self { $( PropertyId::$variant => PropertyType::$ty, )* }
            }

            const fn allowed_mask(self) -> u16 {
                match self { $( PropertyId::$variant => $allowed, )* }
            }
        }
    };
}

property_ids! {
    PayloadFormatIndicator = 0x01, "Payload Format Indicator", Byte, PUBLISH | WILL;
    MessageExpiryInterval = 0x02, "Message Expiry Interval", FourByteInteger, PUBLISH | WILL;
    ContentType = 0x03, "Content Type", Utf8String, PUBLISH | WILL;
    ResponseTopic = 0x08, "Response Topic", Utf8String, PUBLISH | WILL;
    CorrelationData = 0x09, "Correlation Data", BinaryData, PUBLISH | WILL;
    SubscriptionIdentifier = 0x0B, "Subscription Identifier", VariableByteInteger, PUBLISH | SUBSCRIBE;
    SessionExpiryInterval = 0x11, "Session Expiry Interval", FourByteInteger, CONNECT | CONNACK | DISCONNECT;
    AssignedClientIdentifier = 0x12, "Assigned Client Identifier", Utf8String, CONNACK;
    ServerKeepAlive = 0x13, "Server Keep Alive", TwoByteInteger, CONNACK;
    AuthenticationMethod = 0x15, "Authentication Method", Utf8String, CONNECT | CONNACK | AUTH;
    AuthenticationData = 0x16, "Authentication Data", BinaryData, CONNECT | CONNACK | AUTH;
    RequestProblemInformation = 0x17, "Request Problem Information", Byte, CONNECT;
    WillDelayInterval = 0x18, "Will Delay Interval", FourByteInteger, WILL;
    RequestResponseInformation = 0x19, "Request Response Information", Byte, CONNECT;
    ResponseInformation = 0x1A, "Response Information", Utf8String, CONNACK;
    ServerReference = 0x1C, "Server Reference", Utf8String, CONNACK | DISCONNECT;
    ReasonString = 0x1F, "Reason String", Utf8String, CONNACK | ACKS | SUBACK | UNSUBACK | DISCONNECT | AUTH;
    ReceiveMaximum = 0x21, "Receive Maximum", TwoByteInteger, CONNECT | CONNACK;
    TopicAliasMaximum = 0x22, "Topic Alias Maximum", TwoByteInteger, CONNECT | CONNACK;
    TopicAlias = 0x23, "Topic Alias", TwoByteInteger, PUBLISH;
    MaximumQos = 0x24, "Maximum QoS", Byte, CONNACK;
    RetainAvailable = 0x25, "Retain Available", Byte, CONNACK;
    UserProperty = 0x26, "User Property", Utf8StringPair, ALL;
    MaximumPacketSize = 0x27, "Maximum Packet Size", FourByteInteger, CONNECT | CONNACK;
    WildcardSubscriptionAvailable = 0x28, "Wildcard Subscription Available", Byte, CONNACK;
    SubscriptionIdentifierAvailable = 0x29, "Subscription Identifier Available", Byte, CONNACK;
    SharedSubscriptionAvailable = 0x2A, "Shared Subscription Available", Byte, CONNACK;
}

// UNSUBSCRIBE carries only User Property; keep the constant used so the
// table above reads as the spec's does.
const _: u16 = UNSUBSCRIBE;

impl PropertyId {
    /// Whether Table 2-4 allows this property in `context`.
    pub const fn allowed_in(self, context: PropertyContext) -> bool {
        self.allowed_mask() & context as u16 != 0
    }

    /// Whether the property may appear more than once in `context`:
    /// User Property anywhere, Subscription Identifier in PUBLISH (§3.3.2.3.8).
    pub const fn repeatable_in(self, context: PropertyContext) -> bool {
        matches!(self, PropertyId::UserProperty)
            || (matches!(self, PropertyId::SubscriptionIdentifier)
                && matches!(context, PropertyContext::Publish))
    }
}

impl fmt::Display for PropertyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:#04x})", self.name(), *self as u8)
    }
}

/// One property with its value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // each variant is the property of the same name in Table 2-4
pub enum Property {
    PayloadFormatIndicator(u8),
    MessageExpiryInterval(u32),
    ContentType(ByteString),
    ResponseTopic(ByteString),
    CorrelationData(Bytes),
    SubscriptionIdentifier(u32),
    SessionExpiryInterval(u32),
    AssignedClientIdentifier(ByteString),
    ServerKeepAlive(u16),
    AuthenticationMethod(ByteString),
    AuthenticationData(Bytes),
    RequestProblemInformation(u8),
    WillDelayInterval(u32),
    RequestResponseInformation(u8),
    ResponseInformation(ByteString),
    ServerReference(ByteString),
    ReasonString(ByteString),
    ReceiveMaximum(u16),
    TopicAliasMaximum(u16),
    TopicAlias(u16),
    MaximumQos(u8),
    RetainAvailable(u8),
    UserProperty(ByteString, ByteString),
    MaximumPacketSize(u32),
    WildcardSubscriptionAvailable(u8),
    SubscriptionIdentifierAvailable(u8),
    SharedSubscriptionAvailable(u8),
}

/// A copy of `s` in its own allocation.
pub(crate) fn own_str(s: &ByteString) -> ByteString {
    ByteString::from(&**s)
}

impl Property {
    /// Copies a string or binary value into its own allocation, so it no
    /// longer shares (and keeps alive) the buffer it was decoded from.
    pub fn detach(&mut self) {
        match self {
            Property::ContentType(s)
            | Property::ResponseTopic(s)
            | Property::AssignedClientIdentifier(s)
            | Property::AuthenticationMethod(s)
            | Property::ResponseInformation(s)
            | Property::ServerReference(s)
            | Property::ReasonString(s) => *s = own_str(s),
            Property::CorrelationData(b) | Property::AuthenticationData(b) => {
                *b = Bytes::copy_from_slice(b)
            }
            Property::UserProperty(k, v) => {
                *k = own_str(k);
                *v = own_str(v);
            }
            _ => {}
        }
    }

    /// The identifier of this property.
    pub const fn id(&self) -> PropertyId {
        use Property as P;
        use PropertyId as I;
        match self {
            P::PayloadFormatIndicator(_) => I::PayloadFormatIndicator,
            P::MessageExpiryInterval(_) => I::MessageExpiryInterval,
            P::ContentType(_) => I::ContentType,
            P::ResponseTopic(_) => I::ResponseTopic,
            P::CorrelationData(_) => I::CorrelationData,
            P::SubscriptionIdentifier(_) => I::SubscriptionIdentifier,
            P::SessionExpiryInterval(_) => I::SessionExpiryInterval,
            P::AssignedClientIdentifier(_) => I::AssignedClientIdentifier,
            P::ServerKeepAlive(_) => I::ServerKeepAlive,
            P::AuthenticationMethod(_) => I::AuthenticationMethod,
            P::AuthenticationData(_) => I::AuthenticationData,
            P::RequestProblemInformation(_) => I::RequestProblemInformation,
            P::WillDelayInterval(_) => I::WillDelayInterval,
            P::RequestResponseInformation(_) => I::RequestResponseInformation,
            P::ResponseInformation(_) => I::ResponseInformation,
            P::ServerReference(_) => I::ServerReference,
            P::ReasonString(_) => I::ReasonString,
            P::ReceiveMaximum(_) => I::ReceiveMaximum,
            P::TopicAliasMaximum(_) => I::TopicAliasMaximum,
            P::TopicAlias(_) => I::TopicAlias,
            P::MaximumQos(_) => I::MaximumQos,
            P::RetainAvailable(_) => I::RetainAvailable,
            P::UserProperty(_, _) => I::UserProperty,
            P::MaximumPacketSize(_) => I::MaximumPacketSize,
            P::WildcardSubscriptionAvailable(_) => I::WildcardSubscriptionAvailable,
            P::SubscriptionIdentifierAvailable(_) => I::SubscriptionIdentifierAvailable,
            P::SharedSubscriptionAvailable(_) => I::SharedSubscriptionAvailable,
        }
    }

    /// Reads the value of property `id` (the identifier is already consumed).
    fn decode_value(id: PropertyId, r: &mut Reader) -> Result<Property, DecodeError> {
        use Property as P;
        use PropertyId as I;
        const WHAT: &str = "a property value";
        let invalid = |value: u32| DecodeError::InvalidPropertyValue {
            property: id,
            value,
        };
        let flag = |r: &mut Reader| -> Result<u8, DecodeError> {
            let v = r.u8(WHAT)?;
            if v > 1 {
                Err(invalid(u32::from(v)))
            } else {
                Ok(v)
            }
        };
        Ok(match id {
            I::PayloadFormatIndicator => P::PayloadFormatIndicator(flag(r)?),
            I::MessageExpiryInterval => P::MessageExpiryInterval(r.u32(WHAT)?),
            I::ContentType => P::ContentType(r.string(WHAT)?),
            I::ResponseTopic => {
                // [MQTT-3.3.2-14] the Response Topic is a topic name, no wildcards.
                let topic = r.string(WHAT)?;
                crate::topic::validate_name(&topic).map_err(DecodeError::InvalidTopicName)?;
                P::ResponseTopic(topic)
            }
            I::CorrelationData => P::CorrelationData(r.binary(WHAT)?),
            I::SubscriptionIdentifier => {
                // §3.3.2.3.8: 0 is a Protocol Error.
                let v = r.varint(WHAT)?;
                if v == 0 {
                    return Err(invalid(v));
                }
                P::SubscriptionIdentifier(v)
            }
            I::SessionExpiryInterval => P::SessionExpiryInterval(r.u32(WHAT)?),
            I::AssignedClientIdentifier => P::AssignedClientIdentifier(r.string(WHAT)?),
            I::ServerKeepAlive => P::ServerKeepAlive(r.u16(WHAT)?),
            I::AuthenticationMethod => P::AuthenticationMethod(r.string(WHAT)?),
            I::AuthenticationData => P::AuthenticationData(r.binary(WHAT)?),
            I::RequestProblemInformation => P::RequestProblemInformation(flag(r)?),
            I::WillDelayInterval => P::WillDelayInterval(r.u32(WHAT)?),
            I::RequestResponseInformation => P::RequestResponseInformation(flag(r)?),
            I::ResponseInformation => P::ResponseInformation(r.string(WHAT)?),
            I::ServerReference => P::ServerReference(r.string(WHAT)?),
            I::ReasonString => P::ReasonString(r.string(WHAT)?),
            I::ReceiveMaximum => {
                // §3.1.2.11.3 / §3.2.2.3.3: Receive Maximum 0 is a Protocol Error.
                let v = r.u16(WHAT)?;
                if v == 0 {
                    return Err(invalid(0));
                }
                P::ReceiveMaximum(v)
            }
            I::TopicAliasMaximum => P::TopicAliasMaximum(r.u16(WHAT)?),
            I::TopicAlias => {
                let v = r.u16(WHAT)?;
                if v == 0 {
                    return Err(DecodeError::TopicAliasZero);
                }
                P::TopicAlias(v)
            }
            I::MaximumQos => P::MaximumQos(flag(r)?),
            I::RetainAvailable => P::RetainAvailable(flag(r)?),
            I::UserProperty => {
                let (k, v) = r.string_pair(WHAT)?;
                P::UserProperty(k, v)
            }
            I::MaximumPacketSize => {
                // §3.1.2.11.4: Maximum Packet Size 0 is a Protocol Error.
                let v = r.u32(WHAT)?;
                if v == 0 {
                    return Err(invalid(0));
                }
                P::MaximumPacketSize(v)
            }
            I::WildcardSubscriptionAvailable => P::WildcardSubscriptionAvailable(flag(r)?),
            I::SubscriptionIdentifierAvailable => P::SubscriptionIdentifierAvailable(flag(r)?),
            I::SharedSubscriptionAvailable => P::SharedSubscriptionAvailable(flag(r)?),
        })
    }

    /// Bytes this property takes on the wire, identifier included.
    fn wire_len(&self) -> usize {
        use Property as P;
        1 + match self {
            P::PayloadFormatIndicator(_)
            | P::RequestProblemInformation(_)
            | P::RequestResponseInformation(_)
            | P::MaximumQos(_)
            | P::RetainAvailable(_)
            | P::WildcardSubscriptionAvailable(_)
            | P::SubscriptionIdentifierAvailable(_)
            | P::SharedSubscriptionAvailable(_) => 1,
            P::ServerKeepAlive(_)
            | P::ReceiveMaximum(_)
            | P::TopicAliasMaximum(_)
            | P::TopicAlias(_) => 2,
            P::MessageExpiryInterval(_)
            | P::SessionExpiryInterval(_)
            | P::WillDelayInterval(_)
            | P::MaximumPacketSize(_) => 4,
            P::SubscriptionIdentifier(v) => varint::len(*v),
            P::ContentType(s)
            | P::ResponseTopic(s)
            | P::AssignedClientIdentifier(s)
            | P::AuthenticationMethod(s)
            | P::ResponseInformation(s)
            | P::ServerReference(s)
            | P::ReasonString(s) => wire::field_len(s.len()),
            P::CorrelationData(b) | P::AuthenticationData(b) => wire::field_len(b.len()),
            P::UserProperty(k, v) => wire::field_len(k.len()) + wire::field_len(v.len()),
        }
    }

    fn check(&self) -> Result<(), EncodeError> {
        use Property as P;
        let what = self.id().name();
        match self {
            P::ContentType(s)
            | P::ResponseTopic(s)
            | P::AssignedClientIdentifier(s)
            | P::AuthenticationMethod(s)
            | P::ResponseInformation(s)
            | P::ServerReference(s)
            | P::ReasonString(s) => wire::check_field(s.len(), what),
            P::CorrelationData(b) | P::AuthenticationData(b) => wire::check_field(b.len(), what),
            P::UserProperty(k, v) => {
                wire::check_field(k.len(), what)?;
                wire::check_field(v.len(), what)
            }
            P::SubscriptionIdentifier(v) if *v > varint::MAX => {
                Err(EncodeError::FieldTooLong(what))
            }
            _ => Ok(()),
        }
    }

    fn encode(&self, out: &mut impl BufMut) {
        use Property as P;
        out.put_u8(self.id() as u8);
        match self {
            P::PayloadFormatIndicator(v)
            | P::RequestProblemInformation(v)
            | P::RequestResponseInformation(v)
            | P::MaximumQos(v)
            | P::RetainAvailable(v)
            | P::WildcardSubscriptionAvailable(v)
            | P::SubscriptionIdentifierAvailable(v)
            | P::SharedSubscriptionAvailable(v) => out.put_u8(*v),
            P::ServerKeepAlive(v)
            | P::ReceiveMaximum(v)
            | P::TopicAliasMaximum(v)
            | P::TopicAlias(v) => out.put_u16(*v),
            P::MessageExpiryInterval(v)
            | P::SessionExpiryInterval(v)
            | P::WillDelayInterval(v)
            | P::MaximumPacketSize(v) => out.put_u32(*v),
            P::SubscriptionIdentifier(v) => varint::write(out, *v),
            P::ContentType(s)
            | P::ResponseTopic(s)
            | P::AssignedClientIdentifier(s)
            | P::AuthenticationMethod(s)
            | P::ResponseInformation(s)
            | P::ServerReference(s)
            | P::ReasonString(s) => wire::put_field(out, s.as_bytes()),
            P::CorrelationData(b) | P::AuthenticationData(b) => wire::put_field(out, b),
            P::UserProperty(k, v) => {
                wire::put_field(out, k.as_bytes());
                wire::put_field(out, v.as_bytes());
            }
        }
    }
}

/// The properties of one packet, in wire order. Empty (and allocation-free)
/// for every MQTT 3.x packet.
///
/// A `ThinVec` (one pointer; length and capacity live in its allocation)
/// rather than a `Vec`: every PUBLISH carries a list, and a flooded
/// subscriber's queue holds one per message (docs/benchmarks.md, "Memory
/// under QoS 0 floods").
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Properties(ThinVec<Property>);

/// An empty list clones without the generic vector path (a PUBLISH is
/// cloned once per subscriber it goes to).
impl Clone for Properties {
    #[inline]
    fn clone(&self) -> Self {
        if self.0.is_empty() {
            Properties(ThinVec::new())
        } else {
            Properties(self.0.clone())
        }
    }
}

macro_rules! copy_getter {
    ($( $(#[$doc:meta])* $fn:ident => $variant:ident: $ty:ty; )*) => {$(
        $(#[$doc])*
        pub fn $fn(&self) -> Option<$ty> {
            self.0.iter().find_map(|p| match p {
                Property::$variant(v) => Some(*v),
                _ => None,
            })
        }
    )*};
}

macro_rules! ref_getter {
    ($( $(#[$doc:meta])* $fn:ident => $variant:ident: $ty:ty; )*) => {$(
        $(#[$doc])*
        pub fn $fn(&self) -> Option<&$ty> {
            self.0.iter().find_map(|p| match p {
                Property::$variant(v) => Some(v),
                _ => None,
            })
        }
    )*};
}

impl Properties {
    /// No properties.
    pub fn new() -> Self {
        Properties(ThinVec::new())
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many properties there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Appends a property (no rule is checked until the packet is decoded
    /// by a peer; build only what Table 2-4 allows).
    pub fn push(&mut self, property: Property) {
        self.0.push(property);
    }

    /// Builder form of [`Properties::push`].
    pub fn with(mut self, property: Property) -> Self {
        self.0.push(property);
        self
    }

    /// The properties in wire order.
    pub fn iter(&self) -> std::slice::Iter<'_, Property> {
        self.0.iter()
    }

    /// Keeps only the properties for which `keep` is true.
    pub fn retain(&mut self, keep: impl FnMut(&Property) -> bool) {
        self.0.retain(keep);
    }

    /// The properties as a slice.
    pub fn as_slice(&self) -> &[Property] {
        &self.0
    }

    /// Copies every string and binary value into its own allocation (see
    /// [`Publish::detach`](crate::Publish::detach)).
    pub fn detach(&mut self) {
        for p in &mut self.0 {
            p.detach();
        }
    }

    copy_getter! {
        /// Payload Format Indicator (0x01).
        payload_format_indicator => PayloadFormatIndicator: u8;
        /// Message Expiry Interval in seconds (0x02).
        message_expiry_interval => MessageExpiryInterval: u32;
        /// Session Expiry Interval in seconds (0x11).
        session_expiry_interval => SessionExpiryInterval: u32;
        /// Server Keep Alive in seconds (0x13).
        server_keep_alive => ServerKeepAlive: u16;
        /// Request Problem Information (0x17).
        request_problem_information => RequestProblemInformation: u8;
        /// Will Delay Interval in seconds (0x18).
        will_delay_interval => WillDelayInterval: u32;
        /// Request Response Information (0x19).
        request_response_information => RequestResponseInformation: u8;
        /// Receive Maximum (0x21).
        receive_maximum => ReceiveMaximum: u16;
        /// Topic Alias Maximum (0x22).
        topic_alias_maximum => TopicAliasMaximum: u16;
        /// Topic Alias (0x23).
        topic_alias => TopicAlias: u16;
        /// Maximum QoS (0x24).
        maximum_qos => MaximumQos: u8;
        /// Retain Available (0x25).
        retain_available => RetainAvailable: u8;
        /// Maximum Packet Size (0x27).
        maximum_packet_size => MaximumPacketSize: u32;
        /// Wildcard Subscription Available (0x28).
        wildcard_subscription_available => WildcardSubscriptionAvailable: u8;
        /// Subscription Identifier Available (0x29).
        subscription_identifier_available => SubscriptionIdentifierAvailable: u8;
        /// Shared Subscription Available (0x2A).
        shared_subscription_available => SharedSubscriptionAvailable: u8;
    }

    ref_getter! {
        /// Content Type (0x03).
        content_type => ContentType: ByteString;
        /// Response Topic (0x08).
        response_topic => ResponseTopic: ByteString;
        /// Correlation Data (0x09).
        correlation_data => CorrelationData: Bytes;
        /// Assigned Client Identifier (0x12).
        assigned_client_identifier => AssignedClientIdentifier: ByteString;
        /// Authentication Method (0x15).
        authentication_method => AuthenticationMethod: ByteString;
        /// Authentication Data (0x16).
        authentication_data => AuthenticationData: Bytes;
        /// Response Information (0x1A).
        response_information => ResponseInformation: ByteString;
        /// Server Reference (0x1C).
        server_reference => ServerReference: ByteString;
        /// Reason String (0x1F).
        reason_string => ReasonString: ByteString;
    }

    /// Every Subscription Identifier (0x0B), in order.
    pub fn subscription_identifiers(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().filter_map(|p| match p {
            Property::SubscriptionIdentifier(v) => Some(*v),
            _ => None,
        })
    }

    /// Every User Property (0x26), in order.
    pub fn user_properties(&self) -> impl Iterator<Item = (&ByteString, &ByteString)> + '_ {
        self.0.iter().filter_map(|p| match p {
            Property::UserProperty(k, v) => Some((k, v)),
            _ => None,
        })
    }

    /// Reads a property length and the properties it covers, enforcing
    /// Table 2-4 for `context`.
    pub(crate) fn decode(r: &mut Reader, context: PropertyContext) -> Result<Self, DecodeError> {
        let len = r.varint("the property length")?;
        if len as usize > r.remaining() {
            return Err(DecodeError::PropertyLength(len));
        }
        if len == 0 {
            return Ok(Properties::new());
        }
        let mut body = Reader::new(r.take(len as usize, "properties")?);
        let mut list = ThinVec::new();
        let mut seen: u64 = 0;
        while !body.is_empty() {
            // Identifiers are Variable Byte Integers; all defined ones fit one byte.
            let raw = body.varint("a property identifier")?;
            let id = u8::try_from(raw)
                .ok()
                .and_then(PropertyId::from_u8)
                .ok_or(DecodeError::UnknownProperty(raw))?;
            if !id.allowed_in(context) {
                return Err(DecodeError::PropertyNotAllowed {
                    property: id,
                    packet: context.name(),
                });
            }
            let bit = 1u64 << (id as u8);
            if seen & bit != 0 && !id.repeatable_in(context) {
                return Err(DecodeError::DuplicateProperty(id));
            }
            seen |= bit;
            list.push(Property::decode_value(id, &mut body)?);
        }
        Ok(Properties(list))
    }

    /// Length of the property list on the wire, without its length prefix.
    pub(crate) fn body_len(&self) -> usize {
        self.0.iter().map(Property::wire_len).sum()
    }

    /// Length on the wire including the Variable Byte Integer prefix.
    pub(crate) fn wire_len(&self) -> usize {
        let body = self.body_len();
        varint::len(body as u32) + body
    }

    pub(crate) fn check(&self) -> Result<(), EncodeError> {
        for p in &self.0 {
            p.check()?;
        }
        if self.body_len() > varint::MAX as usize {
            return Err(EncodeError::PacketTooLarge(self.body_len()));
        }
        Ok(())
    }

    pub(crate) fn encode(&self, out: &mut impl BufMut) {
        varint::write(out, self.body_len() as u32);
        for p in &self.0 {
            p.encode(out);
        }
    }
}

impl From<Vec<Property>> for Properties {
    fn from(list: Vec<Property>) -> Self {
        Properties(ThinVec::from(list))
    }
}

impl FromIterator<Property> for Properties {
    fn from_iter<T: IntoIterator<Item = Property>>(iter: T) -> Self {
        Properties(iter.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a Properties {
    type Item = &'a Property;
    type IntoIter = std::slice::Iter<'a, Property>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_property_list_is_one_pointer() {
        // Every PUBLISH has one, and a flooded queue holds a PUBLISH per message.
        assert_eq!(
            std::mem::size_of::<Properties>(),
            std::mem::size_of::<usize>()
        );
        assert!(Properties::new().is_empty());
        let list = Properties::new().with(Property::MessageExpiryInterval(5));
        assert_eq!(list.clone().message_expiry_interval(), Some(5));
    }
    use bytes::BytesMut;

    fn decode(bytes: &[u8], context: PropertyContext) -> Result<Properties, DecodeError> {
        Properties::decode(&mut Reader::new(Bytes::copy_from_slice(bytes)), context)
    }

    #[test]
    fn table_2_4_has_27_properties() {
        assert_eq!(PropertyId::ALL.len(), 27);
        for &id in PropertyId::ALL {
            assert_eq!(PropertyId::from_u8(id as u8), Some(id));
        }
    }

    #[test]
    fn every_property_round_trips_where_allowed() {
        let samples = vec![
            Property::PayloadFormatIndicator(1),
            Property::MessageExpiryInterval(60),
            Property::ContentType("text/plain".into()),
            Property::ResponseTopic("reply/to".into()),
            Property::CorrelationData(Bytes::from_static(b"\x00\x01")),
            Property::SubscriptionIdentifier(268_435_455),
            Property::SessionExpiryInterval(u32::MAX),
            Property::AssignedClientIdentifier("auto-1".into()),
            Property::ServerKeepAlive(30),
            Property::AuthenticationMethod("SCRAM-SHA-256".into()),
            Property::AuthenticationData(Bytes::from_static(b"n,,n=user")),
            Property::RequestProblemInformation(0),
            Property::WillDelayInterval(5),
            Property::RequestResponseInformation(1),
            Property::ResponseInformation("resp/".into()),
            Property::ServerReference("other:1883".into()),
            Property::ReasonString("because".into()),
            Property::ReceiveMaximum(10),
            Property::TopicAliasMaximum(10),
            Property::TopicAlias(3),
            Property::MaximumQos(1),
            Property::RetainAvailable(0),
            Property::UserProperty("k".into(), "v".into()),
            Property::MaximumPacketSize(1024),
            Property::WildcardSubscriptionAvailable(1),
            Property::SubscriptionIdentifierAvailable(1),
            Property::SharedSubscriptionAvailable(1),
        ];
        assert_eq!(samples.len(), 27);
        let contexts = [
            PropertyContext::Connect,
            PropertyContext::Will,
            PropertyContext::ConnAck,
            PropertyContext::Publish,
            PropertyContext::PubAck,
            PropertyContext::PubRec,
            PropertyContext::PubRel,
            PropertyContext::PubComp,
            PropertyContext::Subscribe,
            PropertyContext::SubAck,
            PropertyContext::Unsubscribe,
            PropertyContext::UnsubAck,
            PropertyContext::Disconnect,
            PropertyContext::Auth,
        ];
        for property in samples {
            let props = Properties::new().with(property.clone());
            let mut out = BytesMut::new();
            props.encode(&mut out);
            assert_eq!(out.len(), props.wire_len());
            for context in contexts {
                let result = decode(&out, context);
                if property.id().allowed_in(context) {
                    assert_eq!(result, Ok(props.clone()), "{property:?} in {context:?}");
                } else {
                    assert_eq!(
                        result,
                        Err(DecodeError::PropertyNotAllowed {
                            property: property.id(),
                            packet: context.name()
                        }),
                        "{property:?} in {context:?}"
                    );
                }
            }
        }
    }

    /// §2.2.2.2: a property other than User Property (and Subscription
    /// Identifier in PUBLISH) twice is a Protocol Error.
    #[test]
    fn duplicate_property_is_a_protocol_error() {
        let twice = [5, 0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2];
        let twice = [&[10u8][..], &twice[1..]].concat();
        let err = decode(&twice, PropertyContext::Publish).unwrap_err();
        assert_eq!(
            err,
            DecodeError::DuplicateProperty(PropertyId::MessageExpiryInterval)
        );
        assert_eq!(err.reason_code(), crate::ReasonCode::ProtocolError);
    }

    #[test]
    fn user_property_and_publish_subscription_ids_repeat_in_order() {
        let props = Properties::new()
            .with(Property::UserProperty("a".into(), "1".into()))
            .with(Property::SubscriptionIdentifier(7))
            .with(Property::UserProperty("a".into(), "2".into()))
            .with(Property::SubscriptionIdentifier(9));
        let mut out = BytesMut::new();
        props.encode(&mut out);
        let back = decode(&out, PropertyContext::Publish).unwrap();
        assert_eq!(back, props);
        assert_eq!(back.subscription_identifiers().collect::<Vec<_>>(), [7, 9]);
        let users: Vec<_> = back
            .user_properties()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(users, [("a".into(), "1".into()), ("a".into(), "2".into())]);
        // Only one Subscription Identifier in SUBSCRIBE.
        let sub = Properties::new()
            .with(Property::SubscriptionIdentifier(1))
            .with(Property::SubscriptionIdentifier(2));
        let mut out = BytesMut::new();
        sub.encode(&mut out);
        assert_eq!(
            decode(&out, PropertyContext::Subscribe),
            Err(DecodeError::DuplicateProperty(
                PropertyId::SubscriptionIdentifier
            ))
        );
    }

    #[test]
    fn unknown_identifier_is_malformed() {
        let err = decode(&[2, 0x05, 0], PropertyContext::Publish).unwrap_err();
        assert_eq!(err, DecodeError::UnknownProperty(5));
        assert_eq!(err.reason_code(), crate::ReasonCode::MalformedPacket);
    }

    #[test]
    fn property_length_beyond_the_packet_is_malformed() {
        assert_eq!(
            decode(&[9, 0x01, 0], PropertyContext::Publish),
            Err(DecodeError::PropertyLength(9))
        );
        // A value cut short by the property length.
        assert_eq!(
            decode(&[3, 0x02, 0, 0, 0, 0], PropertyContext::Publish),
            Err(DecodeError::Truncated("a property value"))
        );
    }

    #[test]
    fn out_of_range_values_are_protocol_errors() {
        let cases: [(&[u8], PropertyContext, PropertyId); 5] = [
            (
                &[3, 0x21, 0, 0],
                PropertyContext::Connect,
                PropertyId::ReceiveMaximum,
            ),
            (
                &[5, 0x27, 0, 0, 0, 0],
                PropertyContext::Connect,
                PropertyId::MaximumPacketSize,
            ),
            (
                &[2, 0x01, 2],
                PropertyContext::Publish,
                PropertyId::PayloadFormatIndicator,
            ),
            (
                &[2, 0x0B, 0],
                PropertyContext::Subscribe,
                PropertyId::SubscriptionIdentifier,
            ),
            (
                &[2, 0x24, 2],
                PropertyContext::ConnAck,
                PropertyId::MaximumQos,
            ),
        ];
        for (bytes, context, property) in cases {
            let err = decode(bytes, context).unwrap_err();
            assert!(
                matches!(err, DecodeError::InvalidPropertyValue { property: p, .. } if p == property),
                "{err:?}"
            );
            assert_eq!(err.reason_code(), crate::ReasonCode::ProtocolError);
        }
    }

    /// [MQTT-3.3.2-8] a Topic Alias of 0 is invalid.
    #[test]
    fn mqtt_3_3_2_8_topic_alias_zero() {
        let err = decode(&[3, 0x23, 0, 0], PropertyContext::Publish).unwrap_err();
        assert_eq!(err, DecodeError::TopicAliasZero);
        assert_eq!(err.reason_code(), crate::ReasonCode::TopicAliasInvalid);
    }

    /// [MQTT-3.3.2-14] the Response Topic must not contain wildcards.
    #[test]
    fn mqtt_3_3_2_14_response_topic_is_a_topic_name() {
        let err = decode(&[6, 0x08, 0, 3, b'a', b'/', b'#'], PropertyContext::Publish).unwrap_err();
        assert!(matches!(err, DecodeError::InvalidTopicName(_)));
    }
}
