//! Reason codes (MQTT 5.0 §2.4, Table 2-6) and their MQTT 3.x counterparts.
//!
//! Owns the one typed list of reason codes, the spec's name for each, which
//! packets may carry which code, and the mapping to the CONNACK return codes
//! and SUBACK return codes of MQTT 3.1 and 3.1.1. The rest of Hornet speaks
//! only in [`ReasonCode`]; the codec translates for older clients.

use std::fmt;

macro_rules! reason_codes {
    ($( $(#[$doc:meta])* $variant:ident = $value:literal, $name:literal; )*) => {
        /// An MQTT 5.0 reason code (Table 2-6), also used internally for MQTT 3.x.
        ///
        /// The value `0x00` has three names in the spec (Success, Normal
        /// disconnection, Granted QoS 0); it is [`ReasonCode::Success`] here and
        /// the other names are associated constants.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum ReasonCode {
            $( $(#[$doc])* $variant = $value, )*
        }

        impl ReasonCode {
            /// Every reason code, in numeric order.
            pub const ALL: &'static [ReasonCode] = &[$(ReasonCode::$variant),*];

            /// The reason code with this numeric value, if the spec defines one.
            pub const fn from_u8(value: u8) -> Option<ReasonCode> {
                match value {
                    $( $value => Some(ReasonCode::$variant), )*
                    _ => None,
                }
            }

            /// The spec's name for this code (its first name, for `0x00`).
            pub const fn name(self) -> &'static str {
                match self {
                    $( ReasonCode::$variant => $name, )*
                }
            }
        }
    };
}

reason_codes! {
    /// 0x00: Success, Normal disconnection or Granted QoS 0.
    Success = 0x00, "Success";
    /// 0x01: Granted QoS 1.
    GrantedQos1 = 0x01, "Granted QoS 1";
    /// 0x02: Granted QoS 2.
    GrantedQos2 = 0x02, "Granted QoS 2";
    /// 0x04: Disconnect with Will Message.
    DisconnectWithWillMessage = 0x04, "Disconnect with Will Message";
    /// 0x10: No matching subscribers.
    NoMatchingSubscribers = 0x10, "No matching subscribers";
    /// 0x11: No subscription existed.
    NoSubscriptionExisted = 0x11, "No subscription existed";
    /// 0x18: Continue authentication.
    ContinueAuthentication = 0x18, "Continue authentication";
    /// 0x19: Re-authenticate.
    ReAuthenticate = 0x19, "Re-authenticate";
    /// 0x80: Unspecified error.
    UnspecifiedError = 0x80, "Unspecified error";
    /// 0x81: Malformed Packet.
    MalformedPacket = 0x81, "Malformed Packet";
    /// 0x82: Protocol Error.
    ProtocolError = 0x82, "Protocol Error";
    /// 0x83: Implementation specific error.
    ImplementationSpecificError = 0x83, "Implementation specific error";
    /// 0x84: Unsupported Protocol Version.
    UnsupportedProtocolVersion = 0x84, "Unsupported Protocol Version";
    /// 0x85: Client Identifier not valid.
    ClientIdentifierNotValid = 0x85, "Client Identifier not valid";
    /// 0x86: Bad User Name or Password.
    BadUserNameOrPassword = 0x86, "Bad User Name or Password";
    /// 0x87: Not authorized.
    NotAuthorized = 0x87, "Not authorized";
    /// 0x88: Server unavailable.
    ServerUnavailable = 0x88, "Server unavailable";
    /// 0x89: Server busy.
    ServerBusy = 0x89, "Server busy";
    /// 0x8A: Banned.
    Banned = 0x8A, "Banned";
    /// 0x8B: Server shutting down.
    ServerShuttingDown = 0x8B, "Server shutting down";
    /// 0x8C: Bad authentication method.
    BadAuthenticationMethod = 0x8C, "Bad authentication method";
    /// 0x8D: Keep Alive timeout.
    KeepAliveTimeout = 0x8D, "Keep Alive timeout";
    /// 0x8E: Session taken over.
    SessionTakenOver = 0x8E, "Session taken over";
    /// 0x8F: Topic Filter invalid.
    TopicFilterInvalid = 0x8F, "Topic Filter invalid";
    /// 0x90: Topic Name invalid.
    TopicNameInvalid = 0x90, "Topic Name invalid";
    /// 0x91: Packet Identifier in use.
    PacketIdentifierInUse = 0x91, "Packet Identifier in use";
    /// 0x92: Packet Identifier not found.
    PacketIdentifierNotFound = 0x92, "Packet Identifier not found";
    /// 0x93: Receive Maximum exceeded.
    ReceiveMaximumExceeded = 0x93, "Receive Maximum exceeded";
    /// 0x94: Topic Alias invalid.
    TopicAliasInvalid = 0x94, "Topic Alias invalid";
    /// 0x95: Packet too large.
    PacketTooLarge = 0x95, "Packet too large";
    /// 0x96: Message rate too high.
    MessageRateTooHigh = 0x96, "Message rate too high";
    /// 0x97: Quota exceeded.
    QuotaExceeded = 0x97, "Quota exceeded";
    /// 0x98: Administrative action.
    AdministrativeAction = 0x98, "Administrative action";
    /// 0x99: Payload format invalid.
    PayloadFormatInvalid = 0x99, "Payload format invalid";
    /// 0x9A: Retain not supported.
    RetainNotSupported = 0x9A, "Retain not supported";
    /// 0x9B: QoS not supported.
    QosNotSupported = 0x9B, "QoS not supported";
    /// 0x9C: Use another server.
    UseAnotherServer = 0x9C, "Use another server";
    /// 0x9D: Server moved.
    ServerMoved = 0x9D, "Server moved";
    /// 0x9E: Shared Subscriptions not supported.
    SharedSubscriptionsNotSupported = 0x9E, "Shared Subscriptions not supported";
    /// 0x9F: Connection rate exceeded.
    ConnectionRateExceeded = 0x9F, "Connection rate exceeded";
    /// 0xA0: Maximum connect time.
    MaximumConnectTime = 0xA0, "Maximum connect time";
    /// 0xA1: Subscription Identifiers not supported.
    SubscriptionIdentifiersNotSupported = 0xA1, "Subscription Identifiers not supported";
    /// 0xA2: Wildcard Subscriptions not supported.
    WildcardSubscriptionsNotSupported = 0xA2, "Wildcard Subscriptions not supported";
}

/// Which packet a reason code travels in; each allows its own subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonContext {
    /// CONNACK (§3.2.2.2).
    ConnAck,
    /// PUBACK (§3.4.2.1) and PUBREC (§3.5.2.1), which share one list.
    PubAckOrPubRec,
    /// PUBREL (§3.6.2.1) and PUBCOMP (§3.7.2.1), which share one list.
    PubRelOrPubComp,
    /// SUBACK (§3.9.3).
    SubAck,
    /// UNSUBACK (§3.11.3).
    UnsubAck,
    /// DISCONNECT (§3.14.2.1).
    Disconnect,
    /// AUTH (§3.15.2.1).
    Auth,
}

impl ReasonCode {
    /// Normal disconnection (0x00 in DISCONNECT).
    pub const NORMAL_DISCONNECTION: ReasonCode = ReasonCode::Success;
    /// Granted QoS 0 (0x00 in SUBACK).
    pub const GRANTED_QOS_0: ReasonCode = ReasonCode::Success;

    /// The numeric value on the wire.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// True for codes of 0x80 and above, which report a failure.
    pub const fn is_error(self) -> bool {
        (self as u8) >= 0x80
    }

    /// Whether MQTT 5.0 allows this code in the packet `context`.
    pub fn allowed_in(self, context: ReasonContext) -> bool {
        use ReasonCode::*;
        match context {
            ReasonContext::ConnAck => matches!(
                self,
                Success
                    | UnspecifiedError
                    | MalformedPacket
                    | ProtocolError
                    | ImplementationSpecificError
                    | UnsupportedProtocolVersion
                    | ClientIdentifierNotValid
                    | BadUserNameOrPassword
                    | NotAuthorized
                    | ServerUnavailable
                    | ServerBusy
                    | Banned
                    | BadAuthenticationMethod
                    | TopicNameInvalid
                    | PacketTooLarge
                    | QuotaExceeded
                    | PayloadFormatInvalid
                    | RetainNotSupported
                    | QosNotSupported
                    | UseAnotherServer
                    | ServerMoved
                    | ConnectionRateExceeded
            ),
            ReasonContext::PubAckOrPubRec => matches!(
                self,
                Success
                    | NoMatchingSubscribers
                    | UnspecifiedError
                    | ImplementationSpecificError
                    | NotAuthorized
                    | TopicNameInvalid
                    | PacketIdentifierInUse
                    | QuotaExceeded
                    | PayloadFormatInvalid
            ),
            ReasonContext::PubRelOrPubComp => {
                matches!(self, Success | PacketIdentifierNotFound)
            }
            ReasonContext::SubAck => matches!(
                self,
                Success
                    | GrantedQos1
                    | GrantedQos2
                    | UnspecifiedError
                    | ImplementationSpecificError
                    | NotAuthorized
                    | TopicFilterInvalid
                    | PacketIdentifierInUse
                    | QuotaExceeded
                    | SharedSubscriptionsNotSupported
                    | SubscriptionIdentifiersNotSupported
                    | WildcardSubscriptionsNotSupported
            ),
            ReasonContext::UnsubAck => matches!(
                self,
                Success
                    | NoSubscriptionExisted
                    | UnspecifiedError
                    | ImplementationSpecificError
                    | NotAuthorized
                    | TopicFilterInvalid
                    | PacketIdentifierInUse
            ),
            ReasonContext::Disconnect => matches!(
                self,
                Success
                    | DisconnectWithWillMessage
                    | UnspecifiedError
                    | MalformedPacket
                    | ProtocolError
                    | ImplementationSpecificError
                    | NotAuthorized
                    | ServerBusy
                    | ServerShuttingDown
                    | KeepAliveTimeout
                    | SessionTakenOver
                    | TopicFilterInvalid
                    | TopicNameInvalid
                    | ReceiveMaximumExceeded
                    | TopicAliasInvalid
                    | PacketTooLarge
                    | MessageRateTooHigh
                    | QuotaExceeded
                    | AdministrativeAction
                    | PayloadFormatInvalid
                    | RetainNotSupported
                    | QosNotSupported
                    | UseAnotherServer
                    | ServerMoved
                    | SharedSubscriptionsNotSupported
                    | ConnectionRateExceeded
                    | MaximumConnectTime
                    | SubscriptionIdentifiersNotSupported
                    | WildcardSubscriptionsNotSupported
            ),
            ReasonContext::Auth => {
                matches!(self, Success | ContinueAuthentication | ReAuthenticate)
            }
        }
    }

    /// The MQTT 3.1 / 3.1.1 CONNACK return code (§3.2.2.3 of 3.1.1) that
    /// best says the same thing to an older client.
    ///
    /// 3.1.1 has six codes; every MQTT 5 refusal maps to the nearest one
    /// (a ban or an authorization failure is "not authorized", anything the
    /// server cannot do right now is "server unavailable").
    pub const fn to_v3_connack(self) -> u8 {
        use ReasonCode::*;
        match self {
            Success => 0x00,
            UnsupportedProtocolVersion => 0x01,
            ClientIdentifierNotValid => 0x02,
            BadUserNameOrPassword | BadAuthenticationMethod => 0x04,
            NotAuthorized | Banned => 0x05,
            _ => 0x03,
        }
    }

    /// The reason code for an MQTT 3.x CONNACK return code, if it is one.
    pub const fn from_v3_connack(code: u8) -> Option<ReasonCode> {
        use ReasonCode::*;
        Some(match code {
            0x00 => Success,
            0x01 => UnsupportedProtocolVersion,
            0x02 => ClientIdentifierNotValid,
            0x03 => ServerUnavailable,
            0x04 => BadUserNameOrPassword,
            0x05 => NotAuthorized,
            _ => return None,
        })
    }

    /// The MQTT 3.1.1 SUBACK return code: the granted QoS, or 0x80 Failure
    /// for every error ([MQTT-3.9.3-2] allows only 0x00, 0x01, 0x02, 0x80).
    pub const fn to_v3_suback(self) -> u8 {
        match self {
            ReasonCode::Success => 0x00,
            ReasonCode::GrantedQos1 => 0x01,
            ReasonCode::GrantedQos2 => 0x02,
            _ => 0x80,
        }
    }

    /// The reason code for an MQTT 3.1.1 SUBACK return code, if valid.
    pub const fn from_v3_suback(code: u8) -> Option<ReasonCode> {
        match code {
            0x00 => Some(ReasonCode::Success),
            0x01 => Some(ReasonCode::GrantedQos1),
            0x02 => Some(ReasonCode::GrantedQos2),
            0x80 => Some(ReasonCode::UnspecifiedError),
            _ => None,
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:02X} {}", self.as_u8(), self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_value() {
        assert_eq!(ReasonCode::ALL.len(), 43);
        for &code in ReasonCode::ALL {
            assert_eq!(ReasonCode::from_u8(code.as_u8()), Some(code));
        }
        let defined: Vec<u8> = ReasonCode::ALL.iter().map(|c| c.as_u8()).collect();
        for value in 0..=255u8 {
            assert_eq!(
                ReasonCode::from_u8(value).is_some(),
                defined.contains(&value)
            );
        }
    }

    #[test]
    fn names_follow_the_spec_table() {
        assert_eq!(ReasonCode::MalformedPacket.name(), "Malformed Packet");
        assert_eq!(
            ReasonCode::SessionTakenOver.to_string(),
            "0x8E Session taken over"
        );
        assert_eq!(ReasonCode::NORMAL_DISCONNECTION, ReasonCode::Success);
    }

    #[test]
    fn per_packet_lists_match_the_spec_sizes() {
        let count = |ctx| ReasonCode::ALL.iter().filter(|c| c.allowed_in(ctx)).count();
        assert_eq!(count(ReasonContext::ConnAck), 22);
        assert_eq!(count(ReasonContext::PubAckOrPubRec), 9);
        assert_eq!(count(ReasonContext::PubRelOrPubComp), 2);
        assert_eq!(count(ReasonContext::SubAck), 12);
        assert_eq!(count(ReasonContext::UnsubAck), 7);
        assert_eq!(count(ReasonContext::Disconnect), 29);
        assert_eq!(count(ReasonContext::Auth), 3);
    }

    #[test]
    fn v3_connack_codes_map_both_ways() {
        for code in 0..=5u8 {
            let reason = ReasonCode::from_v3_connack(code).unwrap();
            assert_eq!(reason.to_v3_connack(), code);
        }
        assert_eq!(ReasonCode::from_v3_connack(6), None);
        assert_eq!(ReasonCode::Banned.to_v3_connack(), 0x05);
        assert_eq!(ReasonCode::ServerBusy.to_v3_connack(), 0x03);
    }

    /// [MQTT-3.9.3-2] SUBACK return codes other than 0x00, 0x01, 0x02, 0x80 are reserved.
    #[test]
    fn mqtt_3_9_3_2_v3_suback_codes() {
        assert_eq!(ReasonCode::NotAuthorized.to_v3_suback(), 0x80);
        assert_eq!(ReasonCode::from_v3_suback(0x03), None);
        assert_eq!(
            ReasonCode::from_v3_suback(0x02),
            Some(ReasonCode::GrantedQos2)
        );
    }
}
