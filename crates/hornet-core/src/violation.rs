//! Peer misbehaviour as the core sees it: [`PeerError`], one variant per
//! way a client breaks a rule that needs the broker's state to see (the
//! codec's [`DecodeError`] covers every rule checkable on one packet and
//! is wrapped here), and [`Broker::peer_error`](crate::Broker), the one place that logs
//! such an error and answers it.
//!
//! Each variant's message names the normative statement it enforces, as
//! the codec's errors do, and is both the log text and the Reason String
//! sent; [`PeerError::reason_code`] is the code sent. The answer depends
//! on where the connection is in its life (see `lifecycle`):
//!
//! - connected: MQTT 5 gets DISCONNECT with the code and the message as
//!   Reason String, 3.x is closed; the will is published;
//! - during enhanced authentication (before CONNACK): CONNACK with the
//!   code and the message, then close;
//! - a CONNECT the codec refused: CONNACK 0x84 for an unsupported protocol
//!   level, the code for an MQTT 5 client, else a close without a word;
//! - otherwise before CONNACK: close.

use bytestring::ByteString;
use hornet_codec::{DecodeError, PacketType, ReasonCode};

/// A rule broken by a client, found by the core.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// The codec refused the client's bytes.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// A packet other than CONNECT on a fresh connection (the codec refuses
    /// this first; kept for callers that feed packets without it).
    #[error("[MQTT-3.1.0-1] the first packet must be CONNECT, got {0}")]
    FirstNotConnect(PacketType),
    /// CONNECT on a connection that already sent one.
    #[error("[MQTT-3.1.0-2] a second CONNECT on one connection")]
    SecondConnect,
    /// A packet only a server sends (CONNACK, SUBACK, ...): MQTT 5 §2.1.2.
    #[error("{0} is sent by servers, not clients")]
    ServerOnlyPacket(PacketType),
    /// Something other than AUTH or DISCONNECT while the enhanced
    /// authentication exchange runs.
    #[error("[MQTT-3.1.2-30] {0} before CONNACK during enhanced authentication")]
    PacketDuringAuth(PacketType),
    /// AUTH from a client whose CONNECT had no Authentication Method.
    #[error("[MQTT-4.12.0-7] AUTH without an Authentication Method in CONNECT")]
    AuthWithoutMethod,
    /// AUTH naming another Authentication Method than CONNECT did.
    #[error("[MQTT-4.12.0-5] AUTH with another Authentication Method than CONNECT's")]
    AuthMethodChanged,
    /// AUTH 0x19 Re-authenticate before CONNACK or during an exchange.
    #[error("[MQTT-4.12.1-1] Re-authenticate only after CONNACK, and not during an exchange")]
    ReauthenticateOutOfPlace,
    /// AUTH 0x18 Continue authentication with no exchange under way.
    #[error("[MQTT-4.12.0-3] AUTH Continue authentication without an exchange under way")]
    ContinueWithoutExchange,
    /// AUTH with a reason code a client may not send (it has this one).
    #[error("[MQTT-3.15.2-1] a client sends AUTH with 0x18 or 0x19 only")]
    AuthReasonCode(ReasonCode),
    /// DISCONNECT raising a Session Expiry Interval that was 0.
    #[error("[MQTT-3.14.2-2] Session Expiry Interval changed from 0 on DISCONNECT")]
    ExpiryRaisedFromZero,
    /// A PUBLISH from a client with a Subscription Identifier.
    #[error("[MQTT-3.3.4-6] a PUBLISH from a client carries a Subscription Identifier")]
    SubscriptionIdentifierInPublish,
    /// A PUBLISH over the Maximum QoS CONNACK announced.
    #[error("[MQTT-3.2.2-11] PUBLISH at QoS {qos} is over the Maximum QoS {max}")]
    QosOverMaximum {
        /// The PUBLISH's QoS.
        qos: u8,
        /// The broker's Maximum QoS.
        max: u8,
    },
    /// A retained PUBLISH while CONNACK said Retain Available 0.
    #[error("[MQTT-3.2.2-14] a retained PUBLISH, but Retain Available is 0")]
    RetainUnavailable,
    /// A Topic Alias of 0 or over the Topic Alias Maximum CONNACK announced.
    #[error("[MQTT-3.3.2-9] Topic Alias {alias} is over the Topic Alias Maximum {max}")]
    TopicAliasOverMaximum {
        /// The alias sent.
        alias: u16,
        /// The broker's Topic Alias Maximum.
        max: u16,
    },
    /// A PUBLISH with an empty topic and an alias never set on this
    /// connection (MQTT 5 §3.3.2.3.4).
    #[error("Topic Alias {0} was never set on this connection")]
    TopicAliasUnknown(u16),
    /// An MQTT 3.x PUBLISH to a topic over `max_topic_length` or
    /// `max_topic_levels` (MQTT 5 clients get 0x90 in their ack instead).
    #[error("PUBLISH to a topic starting '{topic}': {over}")]
    TopicOverLimits {
        /// The topic's first 64 characters.
        topic: String,
        /// Which limit, with its value.
        over: String,
    },
    /// One QoS 2 PUBLISH more than the Receive Maximum CONNACK announced
    /// awaiting PUBREL (MQTT 5 §3.3.4, [MQTT-3.3.4-8]).
    #[error("more than Receive Maximum {0} QoS 2 PUBLISH packets awaiting PUBREL")]
    ReceiveMaximumExceeded(u16),
    /// No Local on a shared subscription.
    #[error("[MQTT-3.8.3-4] No Local set on the shared subscription '{0}'")]
    NoLocalOnSharedSubscription(ByteString),
    /// Publishing over `max_publish_rate` / `max_publish_bytes_rate` with
    /// `publish_rate_action disconnect` (the rates, in words).
    #[error("publishes faster than {0} (publish_rate_action disconnect)")]
    PublishRate(String),
    /// More packets than the core parks while a CONNECT password is checked.
    #[error("sent more than {0} packets before CONNACK while its password was being checked")]
    TooManyParked(usize),
    /// An acknowledgement of the wrong kind for the state of its packet id
    /// (PUBCOMP or PUBREC for a QoS 1 PUBLISH, PUBACK or PUBCOMP for a QoS 2
    /// PUBLISH, PUBACK for a PUBREL): 3.1.1 [MQTT-4.8.0-1], MQTT 5
    /// [MQTT-4.13.1-1] (a Protocol Error closes the connection).
    #[error("[MQTT-4.13.1-1] {got} for packet id {packet_id}, which awaits {expected}")]
    WrongAcknowledgement {
        /// What the client sent.
        got: PacketType,
        /// Its packet id.
        packet_id: u16,
        /// What that packet id's flow awaits.
        expected: PacketType,
    },
}

impl PeerError {
    /// The reason code the client is sent (in DISCONNECT, or CONNACK
    /// before CONNACK was sent); for MQTT 3.x the log only.
    pub fn reason_code(&self) -> ReasonCode {
        use PeerError::*;
        match self {
            Decode(e) => e.reason_code(),
            QosOverMaximum { .. } => ReasonCode::QosNotSupported,
            RetainUnavailable => ReasonCode::RetainNotSupported,
            TopicAliasOverMaximum { .. } => ReasonCode::TopicAliasInvalid,
            TopicOverLimits { .. } => ReasonCode::TopicNameInvalid,
            ReceiveMaximumExceeded(_) => ReasonCode::ReceiveMaximumExceeded,
            PublishRate(_) => ReasonCode::MessageRateTooHigh,
            FirstNotConnect(_)
            | SecondConnect
            | ServerOnlyPacket(_)
            | PacketDuringAuth(_)
            | AuthWithoutMethod
            | AuthMethodChanged
            | ReauthenticateOutOfPlace
            | ContinueWithoutExchange
            | AuthReasonCode(_)
            | ExpiryRaisedFromZero
            | SubscriptionIdentifierInPublish
            | TopicAliasUnknown(_)
            | NoLocalOnSharedSubscription(_)
            | WrongAcknowledgement { .. }
            | TooManyParked(_) => ReasonCode::ProtocolError,
        }
    }

    /// A broken rule of the AUTH packet (logged as "during authentication"
    /// before CONNACK).
    pub(crate) fn is_auth_rule(&self) -> bool {
        matches!(
            self,
            PeerError::AuthMethodChanged
                | PeerError::ReauthenticateOutOfPlace
                | PeerError::ContinueWithoutExchange
                | PeerError::AuthReasonCode(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::PeerError::*;
    use super::*;

    /// Every variant with the reason code it answers and the start of its
    /// message (the normative statement, where the spec has one).
    fn cases() -> Vec<(PeerError, ReasonCode, &'static str)> {
        vec![
            (
                Decode(DecodeError::EmptySubscribe),
                ReasonCode::ProtocolError,
                "[MQTT-3.8.3-3] ",
            ),
            (
                Decode(DecodeError::PacketTooLarge { size: 9, max: 8 }),
                ReasonCode::PacketTooLarge,
                "packet of 9 bytes exceeds the maximum packet size of 8 bytes",
            ),
            (
                FirstNotConnect(PacketType::Publish),
                ReasonCode::ProtocolError,
                "[MQTT-3.1.0-1] the first packet must be CONNECT, got PUBLISH",
            ),
            (
                SecondConnect,
                ReasonCode::ProtocolError,
                "[MQTT-3.1.0-2] a second CONNECT on one connection",
            ),
            (
                ServerOnlyPacket(PacketType::ConnAck),
                ReasonCode::ProtocolError,
                "CONNACK is sent by servers, not clients",
            ),
            (
                PacketDuringAuth(PacketType::Subscribe),
                ReasonCode::ProtocolError,
                "[MQTT-3.1.2-30] SUBSCRIBE before CONNACK during enhanced authentication",
            ),
            (
                AuthWithoutMethod,
                ReasonCode::ProtocolError,
                "[MQTT-4.12.0-7] ",
            ),
            (
                AuthMethodChanged,
                ReasonCode::ProtocolError,
                "[MQTT-4.12.0-5] ",
            ),
            (
                ReauthenticateOutOfPlace,
                ReasonCode::ProtocolError,
                "[MQTT-4.12.1-1] ",
            ),
            (
                ContinueWithoutExchange,
                ReasonCode::ProtocolError,
                "[MQTT-4.12.0-3] ",
            ),
            (
                AuthReasonCode(ReasonCode::Success),
                ReasonCode::ProtocolError,
                "[MQTT-3.15.2-1] ",
            ),
            (
                ExpiryRaisedFromZero,
                ReasonCode::ProtocolError,
                "[MQTT-3.14.2-2] Session Expiry Interval changed from 0 on DISCONNECT",
            ),
            (
                SubscriptionIdentifierInPublish,
                ReasonCode::ProtocolError,
                "[MQTT-3.3.4-6] ",
            ),
            (
                QosOverMaximum { qos: 2, max: 1 },
                ReasonCode::QosNotSupported,
                "[MQTT-3.2.2-11] PUBLISH at QoS 2 is over the Maximum QoS 1",
            ),
            (
                RetainUnavailable,
                ReasonCode::RetainNotSupported,
                "[MQTT-3.2.2-14] ",
            ),
            (
                TopicAliasOverMaximum { alias: 11, max: 10 },
                ReasonCode::TopicAliasInvalid,
                "[MQTT-3.3.2-9] Topic Alias 11 is over the Topic Alias Maximum 10",
            ),
            (
                TopicAliasUnknown(3),
                ReasonCode::ProtocolError,
                "Topic Alias 3 was never set on this connection",
            ),
            (
                TopicOverLimits {
                    topic: "a/b".into(),
                    over: "it has 2 levels".into(),
                },
                ReasonCode::TopicNameInvalid,
                "PUBLISH to a topic starting 'a/b': it has 2 levels",
            ),
            (
                ReceiveMaximumExceeded(5),
                ReasonCode::ReceiveMaximumExceeded,
                "more than Receive Maximum 5 QoS 2 PUBLISH packets awaiting PUBREL",
            ),
            (
                WrongAcknowledgement {
                    got: PacketType::PubComp,
                    packet_id: 7,
                    expected: PacketType::PubAck,
                },
                ReasonCode::ProtocolError,
                "[MQTT-4.13.1-1] PUBCOMP for packet id 7, which awaits PUBACK",
            ),
            (
                NoLocalOnSharedSubscription("$share/g/t".into()),
                ReasonCode::ProtocolError,
                "[MQTT-3.8.3-4] No Local set on the shared subscription '$share/g/t'",
            ),
            (
                PublishRate("max_publish_rate 5 messages/s".into()),
                ReasonCode::MessageRateTooHigh,
                "publishes faster than max_publish_rate 5 messages/s (publish_rate_action disconnect)",
            ),
            (
                TooManyParked(1000),
                ReasonCode::ProtocolError,
                "sent more than 1000 packets before CONNACK while its password was being checked",
            ),
        ]
    }

    #[test]
    fn each_variant_has_its_reason_code_and_statement() {
        for (error, code, text) in cases() {
            assert_eq!(error.reason_code(), code, "{error:?}");
            assert!(
                error.to_string().starts_with(text),
                "{error:?} reads {:?}, expected it to start with {text:?}",
                error.to_string()
            );
        }
    }

    #[test]
    fn a_decode_error_reads_and_answers_as_the_codec_says() {
        let e = DecodeError::InvalidTopicName(hornet_codec::TopicError::Empty);
        let wrapped = PeerError::from(e.clone());
        assert_eq!(wrapped.to_string(), e.to_string());
        assert_eq!(wrapped.reason_code(), ReasonCode::TopicNameInvalid);
    }

    #[test]
    fn every_reason_code_is_an_error_a_disconnect_may_carry() {
        for (error, _, _) in cases() {
            let code = error.reason_code();
            assert!(
                code.is_error() && code.allowed_in(hornet_codec::ReasonContext::Disconnect),
                "{error:?}: {code:?}"
            );
        }
    }
}
