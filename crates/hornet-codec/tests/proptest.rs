//! Property tests of the codec, for MQTT 3.1, 3.1.1 and 5.0 and every
//! packet type.
//!
//! * Round trip: every packet that is valid in a protocol version encodes to
//!   `encoded_len` bytes and decodes back to itself; a CONNECT also teaches a
//!   server-side decoder its protocol.
//! * No panic: arbitrary bytes, framed garbage and mutated valid streams never
//!   panic a decoder; every error maps to an error reason code and every
//!   packet that does decode round-trips.
//! * Split stream: a stream of packets cut at arbitrary points and fed chunk
//!   by chunk decodes to the same packets as the whole stream.
//! * Maximum packet size: a packet larger than the limit is refused as soon as
//!   its fixed header is in, before the body is buffered; one within it decodes.
//!
//! Set `PROPTEST_CASES` to run more cases than the defaults below.

use std::collections::HashSet;
use std::num::NonZeroU16;

use hornet_codec::bytes::{Bytes, BytesMut};
use hornet_codec::fuzzing::{check_round_trip, decode_stream};
use hornet_codec::topic::{self, SHARE_PREFIX};
use hornet_codec::{
    peek_frame, Ack, Auth, ByteString, ConnAck, Connect, DecodeError, Decoder, Disconnect,
    EncodeError, FrameHeader, LastWill, Packet, PacketId, PacketType, Properties, Property,
    PropertyContext, PropertyId, Protocol, Publish, QoS, ReasonCode, ReasonContext, RetainHandling,
    SubAck, Subscribe, SubscribeFilter, SubscriptionOptions, UnsubAck, Unsubscribe,
    MAX_PACKET_SIZE, MAX_VARINT,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::strategy::Union;
use proptest::test_runner::{FileFailurePersistence, TestRunner};

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// `cases` cases, unless `PROPTEST_CASES` asks for another number.
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig {
        // Failing cases are saved next to this file, for `cargo test` to replay.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}

// ---------------------------------------------------------------------------
// Strings, topics and filters
// ---------------------------------------------------------------------------

/// Any Unicode scalar value but U+0000, biased towards ASCII letters.
fn arb_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => proptest::char::range('a', 'z'),
        2 => any::<char>(),
    ]
    .prop_filter("U+0000 is not allowed in MQTT strings", |c| *c != '\0')
}

/// A valid MQTT UTF-8 string of at most `max` characters.
fn arb_string(max: usize) -> impl Strategy<Value = String> {
    vec(arb_char(), 0..=max).prop_map(String::from_iter)
}

fn arb_bstr(max: usize) -> impl Strategy<Value = ByteString> {
    arb_string(max).prop_map(ByteString::from)
}

fn arb_bytes(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

/// A character that may appear in a topic level: no `/`, `+`, `#` or U+0000.
fn arb_level_char() -> impl Strategy<Value = char> {
    arb_char().prop_filter("not a separator or wildcard", |c| {
        !matches!(c, '/' | '+' | '#')
    })
}

/// One level of a topic name or filter, possibly empty.
fn arb_level() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => vec(arb_level_char(), 1..6).prop_map(String::from_iter),
        1 => Just(String::new()),
        1 => select(vec!["$SYS", "sport", "tennis", "player1", "ü", "\u{1F41D}", " "])
            .prop_map(String::from),
    ]
}

/// A valid topic name: not empty, no wildcards, no U+0000.
fn arb_topic_name() -> impl Strategy<Value = ByteString> {
    vec(arb_level(), 1..5).prop_map(|levels| {
        let name = levels.join("/");
        ByteString::from(if name.is_empty() {
            "/".to_owned()
        } else {
            name
        })
    })
}

/// A valid topic filter: levels that are `+`, `#` (last only) or plain words,
/// sometimes as a shared subscription `$share/{group}/{filter}`.
fn arb_filter() -> impl Strategy<Value = ByteString> {
    let level = prop_oneof![1 => Just("+".to_owned()), 3 => arb_level()];
    let group = vec(arb_level_char(), 1..6).prop_map(String::from_iter);
    (
        vec(level, 0..5),
        any::<bool>(),
        proptest::option::weighted(0.2, group),
    )
        .prop_map(|(mut levels, multi_level, share)| {
            if multi_level {
                levels.push("#".to_owned());
            }
            let mut filter = levels.join("/");
            if filter.is_empty() {
                filter = "#".to_owned();
            }
            if filter.starts_with(SHARE_PREFIX) {
                // A plain word that happens to spell the share prefix.
                filter.insert(0, 'x');
            }
            ByteString::from(match share {
                Some(group) => format!("{SHARE_PREFIX}{group}/{filter}"),
                None => filter,
            })
        })
}

// ---------------------------------------------------------------------------
// Properties and reason codes
// ---------------------------------------------------------------------------

fn flag() -> impl Strategy<Value = u8> {
    0u8..=1
}

/// A valid value of property `id`.
fn arb_property(id: PropertyId) -> BoxedStrategy<Property> {
    use Property as P;
    use PropertyId as I;
    match id {
        I::PayloadFormatIndicator => flag().prop_map(P::PayloadFormatIndicator).boxed(),
        I::MessageExpiryInterval => any::<u32>().prop_map(P::MessageExpiryInterval).boxed(),
        I::ContentType => arb_bstr(12).prop_map(P::ContentType).boxed(),
        I::ResponseTopic => arb_topic_name().prop_map(P::ResponseTopic).boxed(),
        I::CorrelationData => arb_bytes(16).prop_map(P::CorrelationData).boxed(),
        I::SubscriptionIdentifier => prop_oneof![
            1u32..=127,
            128u32..=16_383,
            1u32..=MAX_VARINT,
            Just(MAX_VARINT),
        ]
        .prop_map(P::SubscriptionIdentifier)
        .boxed(),
        I::SessionExpiryInterval => any::<u32>().prop_map(P::SessionExpiryInterval).boxed(),
        I::AssignedClientIdentifier => arb_bstr(12).prop_map(P::AssignedClientIdentifier).boxed(),
        I::ServerKeepAlive => any::<u16>().prop_map(P::ServerKeepAlive).boxed(),
        I::AuthenticationMethod => arb_bstr(12).prop_map(P::AuthenticationMethod).boxed(),
        I::AuthenticationData => arb_bytes(16).prop_map(P::AuthenticationData).boxed(),
        I::RequestProblemInformation => flag().prop_map(P::RequestProblemInformation).boxed(),
        I::WillDelayInterval => any::<u32>().prop_map(P::WillDelayInterval).boxed(),
        I::RequestResponseInformation => flag().prop_map(P::RequestResponseInformation).boxed(),
        I::ResponseInformation => arb_bstr(12).prop_map(P::ResponseInformation).boxed(),
        I::ServerReference => arb_bstr(12).prop_map(P::ServerReference).boxed(),
        I::ReasonString => arb_bstr(12).prop_map(P::ReasonString).boxed(),
        I::ReceiveMaximum => (1..=u16::MAX).prop_map(P::ReceiveMaximum).boxed(),
        I::TopicAliasMaximum => any::<u16>().prop_map(P::TopicAliasMaximum).boxed(),
        I::TopicAlias => (1..=u16::MAX).prop_map(P::TopicAlias).boxed(),
        I::MaximumQos => flag().prop_map(P::MaximumQos).boxed(),
        I::RetainAvailable => flag().prop_map(P::RetainAvailable).boxed(),
        I::UserProperty => (arb_bstr(8), arb_bstr(8))
            .prop_map(|(k, v)| P::UserProperty(k, v))
            .boxed(),
        I::MaximumPacketSize => (1..=u32::MAX).prop_map(P::MaximumPacketSize).boxed(),
        I::WildcardSubscriptionAvailable => {
            flag().prop_map(P::WildcardSubscriptionAvailable).boxed()
        }
        I::SubscriptionIdentifierAvailable => {
            flag().prop_map(P::SubscriptionIdentifierAvailable).boxed()
        }
        I::SharedSubscriptionAvailable => flag().prop_map(P::SharedSubscriptionAvailable).boxed(),
    }
}

/// A property list Table 2-4 allows in `context`, in any order: each
/// non-repeatable property at most once, repeatable ones 0 to 2 times, and
/// Authentication Data only together with an Authentication Method.
fn arb_properties(context: PropertyContext) -> BoxedStrategy<Properties> {
    let parts: Vec<BoxedStrategy<Vec<Property>>> = PropertyId::ALL
        .iter()
        .copied()
        .filter(|id| id.allowed_in(context))
        .map(|id| {
            if id.repeatable_in(context) {
                vec(arb_property(id), 0..3).boxed()
            } else {
                proptest::option::weighted(0.25, arb_property(id))
                    .prop_map(Vec::from_iter)
                    .boxed()
            }
        })
        .collect();
    let some = parts
        .prop_map(|parts| parts.into_iter().flatten().collect::<Vec<_>>())
        .prop_shuffle()
        .prop_map(|list| {
            let mut props = Properties::from(list);
            if props.authentication_method().is_none() {
                props.retain(|p| p.id() != PropertyId::AuthenticationData);
            }
            props
        });
    prop_oneof![1 => Just(Properties::new()), 3 => some].boxed()
}

/// Properties for `context` in MQTT 5, none before.
fn arb_props_for(protocol: Protocol, context: PropertyContext) -> BoxedStrategy<Properties> {
    if protocol.is_v5() {
        arb_properties(context)
    } else {
        Just(Properties::new()).boxed()
    }
}

/// A reason code MQTT 5 allows in `context`, Success more often than the rest.
fn arb_reason(context: ReasonContext) -> BoxedStrategy<ReasonCode> {
    let allowed: Vec<ReasonCode> = ReasonCode::ALL
        .iter()
        .copied()
        .filter(|c| c.allowed_in(context))
        .collect();
    prop_oneof![1 => Just(ReasonCode::Success), 3 => select(allowed)].boxed()
}

/// The CONNACK codes an MQTT 3.x CONNACK return code can stand for.
fn v3_connack_codes() -> Vec<ReasonCode> {
    (0..=255u8)
        .filter_map(ReasonCode::from_v3_connack)
        .collect()
}

// ---------------------------------------------------------------------------
// Packets
// ---------------------------------------------------------------------------

fn arb_packet_id() -> impl Strategy<Value = PacketId> {
    prop_oneof![
        1 => Just(NonZeroU16::MIN),
        1 => Just(NonZeroU16::MAX),
        4 => (1..=u16::MAX).prop_map(|n| NonZeroU16::new(n).expect("not 0")),
    ]
}

fn arb_qos() -> impl Strategy<Value = QoS> {
    select(vec![QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce])
}

fn arb_payload() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        8 => arb_bytes(64),
        2 => arb_bytes(400),
        // Large enough for a three-byte Remaining Length.
        1 => (16_384usize..20_000, any::<u8>()).prop_map(|(n, b)| Bytes::from(vec![b; n])),
    ]
}

fn arb_will(protocol: Protocol) -> impl Strategy<Value = LastWill> {
    (
        arb_topic_name(),
        arb_bytes(32),
        arb_qos(),
        any::<bool>(),
        arb_props_for(protocol, PropertyContext::Will),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| LastWill {
            topic,
            payload,
            qos,
            retain,
            properties,
        })
}

fn arb_connect(protocol: Protocol) -> BoxedStrategy<Connect> {
    (
        any::<bool>(),
        any::<u16>(),
        arb_props_for(protocol, PropertyContext::Connect),
        arb_bstr(23),
        proptest::option::of(arb_will(protocol)),
        proptest::option::of(arb_bstr(12)),
        proptest::option::of(arb_bytes(16)),
        any::<bool>(),
    )
        .prop_map(
            move |(
                clean_start,
                keep_alive,
                properties,
                client_id,
                will,
                username,
                password,
                bridge,
            )| {
                // [MQTT-3.1.2-22]: before MQTT 5 a password needs a user name.
                let username = match (&username, &password) {
                    (None, Some(_)) if !protocol.is_v5() => Some(ByteString::from_static("")),
                    _ => username,
                };
                Connect {
                    protocol,
                    clean_start,
                    keep_alive,
                    properties,
                    client_id,
                    will,
                    username,
                    password,
                    bridge,
                }
            },
        )
        .boxed()
}

fn arb_connack(protocol: Protocol) -> BoxedStrategy<ConnAck> {
    let v3_code = prop_oneof![1 => Just(ReasonCode::Success), 2 => select(v3_connack_codes())];
    match protocol {
        // MQTT 3.1 has no Session Present flag.
        Protocol::V3_1 => v3_code.prop_map(|code| ConnAck::new(code, false)).boxed(),
        Protocol::V3_1_1 => (v3_code, any::<bool>())
            .prop_map(|(code, sp)| ConnAck::new(code, sp && code == ReasonCode::Success))
            .boxed(),
        Protocol::V5 => (
            arb_reason(ReasonContext::ConnAck),
            any::<bool>(),
            arb_properties(PropertyContext::ConnAck),
        )
            .prop_map(|(reason_code, sp, properties)| ConnAck {
                session_present: sp && reason_code == ReasonCode::Success,
                reason_code,
                properties,
            })
            .boxed(),
    }
}

fn arb_publish(protocol: Protocol) -> BoxedStrategy<Publish> {
    (
        any::<bool>(),
        arb_qos(),
        any::<bool>(),
        arb_topic_name(),
        // MQTT 5 only: an empty topic name standing for a Topic Alias.
        proptest::bool::weighted(if protocol.is_v5() { 0.1 } else { 0.0 }),
        arb_packet_id(),
        arb_props_for(protocol, PropertyContext::Publish),
        arb_payload(),
    )
        .prop_map(
            |(dup, qos, retain, topic, aliased, packet_id, mut properties, payload)| {
                let topic = if aliased {
                    if properties.topic_alias().is_none() {
                        properties.push(Property::TopicAlias(1));
                    }
                    ByteString::from_static("")
                } else {
                    topic
                };
                let qos0 = qos == QoS::AtMostOnce;
                Publish {
                    // [MQTT-3.3.1-2]: no DUP on QoS 0.
                    dup: dup && !qos0,
                    qos,
                    retain,
                    topic,
                    packet_id: (!qos0).then_some(packet_id),
                    properties,
                    payload,
                }
            },
        )
        .boxed()
}

/// A PUBACK/PUBREC (`reasons` = PubAckOrPubRec) or PUBREL/PUBCOMP body.
fn arb_ack(
    protocol: Protocol,
    reasons: ReasonContext,
    context: PropertyContext,
) -> BoxedStrategy<Ack> {
    if protocol.is_v5() {
        (
            arb_packet_id(),
            arb_reason(reasons),
            arb_properties(context),
        )
            .prop_map(|(packet_id, reason_code, properties)| Ack {
                packet_id,
                reason_code,
                properties,
            })
            .boxed()
    } else {
        arb_packet_id().prop_map(Ack::new).boxed()
    }
}

fn arb_subscribe_filter(protocol: Protocol) -> impl Strategy<Value = SubscribeFilter> {
    (
        arb_filter(),
        arb_qos(),
        any::<bool>(),
        any::<bool>(),
        select(vec![
            RetainHandling::OnSubscribe,
            RetainHandling::OnNewSubscribe,
            RetainHandling::Never,
        ]),
    )
        .prop_map(
            move |(filter, qos, no_local, retain_as_published, retain_handling)| {
                let options = if protocol.is_v5() {
                    SubscriptionOptions {
                        qos,
                        // [MQTT-3.8.3-4]: no No Local on a shared subscription.
                        no_local: no_local && !filter.starts_with(SHARE_PREFIX),
                        retain_as_published,
                        retain_handling,
                    }
                } else {
                    SubscriptionOptions::qos(qos)
                };
                SubscribeFilter { filter, options }
            },
        )
}

fn arb_subscribe(protocol: Protocol) -> BoxedStrategy<Subscribe> {
    (
        arb_packet_id(),
        arb_props_for(protocol, PropertyContext::Subscribe),
        vec(arb_subscribe_filter(protocol), 1..5),
    )
        .prop_map(|(packet_id, properties, filters)| Subscribe {
            packet_id,
            properties,
            filters,
        })
        .boxed()
}

fn arb_suback(protocol: Protocol) -> BoxedStrategy<SubAck> {
    let codes = if protocol.is_v5() {
        vec(arb_reason(ReasonContext::SubAck), 1..6).boxed()
    } else {
        let v3 = select(vec![
            ReasonCode::Success,
            ReasonCode::GrantedQos1,
            ReasonCode::GrantedQos2,
            ReasonCode::UnspecifiedError,
        ]);
        vec(v3, 1..6).boxed()
    };
    (
        arb_packet_id(),
        arb_props_for(protocol, PropertyContext::SubAck),
        codes,
    )
        .prop_map(|(packet_id, properties, reason_codes)| SubAck {
            packet_id,
            properties,
            reason_codes,
        })
        .boxed()
}

fn arb_unsubscribe(protocol: Protocol) -> BoxedStrategy<Unsubscribe> {
    (
        arb_packet_id(),
        arb_props_for(protocol, PropertyContext::Unsubscribe),
        vec(arb_filter(), 1..5),
    )
        .prop_map(|(packet_id, properties, filters)| Unsubscribe {
            packet_id,
            properties,
            filters,
        })
        .boxed()
}

fn arb_unsuback(protocol: Protocol) -> BoxedStrategy<UnsubAck> {
    if protocol.is_v5() {
        (
            arb_packet_id(),
            arb_properties(PropertyContext::UnsubAck),
            vec(arb_reason(ReasonContext::UnsubAck), 1..6),
        )
            .prop_map(|(packet_id, properties, reason_codes)| UnsubAck {
                packet_id,
                properties,
                reason_codes,
            })
            .boxed()
    } else {
        arb_packet_id()
            .prop_map(|packet_id| UnsubAck {
                packet_id,
                properties: Properties::new(),
                reason_codes: Vec::new(),
            })
            .boxed()
    }
}

fn arb_disconnect(protocol: Protocol) -> BoxedStrategy<Disconnect> {
    if protocol.is_v5() {
        (
            arb_reason(ReasonContext::Disconnect),
            arb_properties(PropertyContext::Disconnect),
        )
            .prop_map(|(reason_code, properties)| Disconnect {
                reason_code,
                properties,
            })
            .boxed()
    } else {
        Just(Disconnect::new(ReasonCode::Success)).boxed()
    }
}

fn arb_auth() -> BoxedStrategy<Auth> {
    (
        arb_reason(ReasonContext::Auth),
        arb_properties(PropertyContext::Auth),
    )
        .prop_map(|(reason_code, properties)| Auth {
            reason_code,
            properties,
        })
        .boxed()
}

/// Any packet that is valid in `protocol`, every packet type of it equally likely.
fn arb_packet(protocol: Protocol) -> BoxedStrategy<Packet> {
    use ReasonContext as R;
    let ack = |reasons, context| arb_ack(protocol, reasons, context);
    let mut options: Vec<BoxedStrategy<Packet>> = vec![
        arb_connect(protocol).prop_map(Packet::from).boxed(),
        arb_connack(protocol).prop_map(Packet::from).boxed(),
        arb_publish(protocol).prop_map(Packet::from).boxed(),
        ack(R::PubAckOrPubRec, PropertyContext::PubAck)
            .prop_map(Packet::PubAck)
            .boxed(),
        ack(R::PubAckOrPubRec, PropertyContext::PubRec)
            .prop_map(Packet::PubRec)
            .boxed(),
        ack(R::PubRelOrPubComp, PropertyContext::PubRel)
            .prop_map(Packet::PubRel)
            .boxed(),
        ack(R::PubRelOrPubComp, PropertyContext::PubComp)
            .prop_map(Packet::PubComp)
            .boxed(),
        arb_subscribe(protocol).prop_map(Packet::from).boxed(),
        arb_suback(protocol).prop_map(Packet::from).boxed(),
        arb_unsubscribe(protocol).prop_map(Packet::from).boxed(),
        arb_unsuback(protocol).prop_map(Packet::from).boxed(),
        Just(Packet::PingReq).boxed(),
        Just(Packet::PingResp).boxed(),
        arb_disconnect(protocol).prop_map(Packet::from).boxed(),
    ];
    if protocol.is_v5() {
        options.push(arb_auth().prop_map(Packet::from).boxed());
    }
    Union::new(options).boxed()
}

/// The packet types of `protocol`.
fn packet_types(protocol: Protocol) -> HashSet<u8> {
    let last = if protocol.is_v5() { 15 } else { 14 };
    (1..=last).collect()
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn encode(packet: &Packet, protocol: Protocol) -> Vec<u8> {
    let mut out = BytesMut::new();
    packet
        .encode(protocol, &mut out)
        .expect("a valid packet encodes");
    out.to_vec()
}

/// Length of the fixed header at the start of a well-formed frame.
fn header_len(frame: &[u8]) -> usize {
    let varint = frame[1..]
        .iter()
        .position(|b| b & 0x80 == 0)
        .expect("a complete remaining length");
    2 + varint
}

/// A frame: `first_byte`, the Remaining Length of `body`, then `body`.
fn frame(first_byte: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first_byte];
    out.extend(varint(body.len()));
    out.extend_from_slice(body);
    out
}

/// The Remaining Length `len` as a Variable Byte Integer.
fn varint(mut len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        out.push(if len > 0 { byte | 0x80 } else { byte });
        if len == 0 {
            return out;
        }
    }
}

/// The Remaining Length of a well-formed frame.
fn remaining_len(frame: &[u8]) -> usize {
    frame[1..header_len(frame)]
        .iter()
        .rev()
        .fold(0, |acc, b| (acc << 7) | usize::from(b & 0x7f))
}

/// The decoders the no-panic properties feed: one per protocol and a
/// server-side one that learns the protocol from CONNECT.
fn all_decoders() -> [Decoder; 4] {
    [
        Decoder::new(),
        Decoder::with_protocol(Protocol::V3_1),
        Decoder::with_protocol(Protocol::V3_1_1),
        Decoder::with_protocol(Protocol::V5),
    ]
}

/// Decodes every packet of `buf` until more bytes are needed, asserting that
/// an incomplete frame consumes nothing, errors carry an error reason code
/// and decoded packets round-trip. Returns false once an error was seen.
fn drain(
    decoder: &mut Decoder,
    buf: &mut BytesMut,
    decoded: &mut Vec<Packet>,
) -> Result<bool, TestCaseError> {
    loop {
        let before = buf.len();
        match decoder.decode(buf) {
            Ok(Some(packet)) => {
                let protocol = decoder.protocol().expect("known after a packet");
                check_round_trip(&packet, protocol);
                decoded.push(packet);
            }
            Ok(None) => {
                // Bytes only ever leave from the front, so an unchanged
                // length means nothing was consumed.
                prop_assert_eq!(buf.len(), before, "an incomplete frame is left alone");
                return Ok(true);
            }
            Err(err) => {
                prop_assert!(
                    err.reason_code().is_error(),
                    "{err:?} maps to {}",
                    err.reason_code()
                );
                prop_assert!(!err.to_string().is_empty());
                return Ok(false);
            }
        }
    }
}

/// Feeds `data` to every decoder of [`all_decoders`], whole.
fn feed_every_decoder(data: &[u8]) -> Result<(), TestCaseError> {
    for mut decoder in all_decoders() {
        let mut buf = BytesMut::from(data);
        drain(&mut decoder, &mut buf, &mut Vec::new())?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// 1. Round trip
// ---------------------------------------------------------------------------

fn check_round_trip_of(packet: &Packet, protocol: Protocol) -> Result<(), TestCaseError> {
    // Encoding appends: write after some bytes already in the buffer.
    let mut out = BytesMut::from(&b"prefix"[..]);
    let len = packet.encoded_len(protocol);
    prop_assert!(len.is_ok(), "encoded_len failed: {len:?}");
    let encoded = packet.encode(protocol, &mut out);
    prop_assert!(encoded.is_ok(), "encode failed: {encoded:?}");
    let mut wire = out.split_off(6);
    prop_assert_eq!(&out[..], b"prefix");
    prop_assert_eq!(len, Ok(wire.len()));
    prop_assert_eq!(header_len(&wire) + remaining_len(&wire), wire.len());
    let bytes = wire.clone();

    let mut decoder = Decoder::with_protocol(protocol);
    prop_assert_eq!(decoder.decode(&mut wire), Ok(Some(packet.clone())));
    prop_assert!(wire.is_empty(), "{} bytes left over", wire.len());
    prop_assert_eq!(decoder.decode(&mut wire), Ok(None));

    if let Packet::Connect(connect) = packet {
        prop_assert_eq!(connect.protocol, protocol);
        // A CONNECT is written in its own protocol whatever the caller says.
        for other in Protocol::ALL {
            prop_assert_eq!(&encode(packet, other), &bytes[..]);
        }
        // The server side learns the protocol from it.
        let mut server = Decoder::new();
        prop_assert_eq!(server.protocol(), None);
        let mut wire = BytesMut::from(&bytes[..]);
        prop_assert_eq!(server.decode(&mut wire), Ok(Some(packet.clone())));
        prop_assert!(wire.is_empty());
        prop_assert_eq!(server.protocol(), Some(connect.protocol));
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn round_trip_every_packet_v3_1(packet in arb_packet(Protocol::V3_1)) {
        check_round_trip_of(&packet, Protocol::V3_1)?;
    }

    #[test]
    fn round_trip_every_packet_v3_1_1(packet in arb_packet(Protocol::V3_1_1)) {
        check_round_trip_of(&packet, Protocol::V3_1_1)?;
    }

    #[test]
    fn round_trip_every_packet_v5(packet in arb_packet(Protocol::V5)) {
        check_round_trip_of(&packet, Protocol::V5)?;
    }
}

proptest! {
    #![proptest_config(config(1024))]

    /// A packet written in two parts (everything but a large PUBLISH's
    /// payload, then the payload) is byte for byte the packet written in
    /// one: what a subscriber receives from a vectored write.
    #[test]
    fn a_split_encoding_is_the_whole_encoding(
        (protocol, packet) in select(Protocol::ALL.to_vec())
            .prop_flat_map(|protocol| (Just(protocol), arb_packet(protocol))),
        min_payload in 0usize..64,
    ) {
        let mut whole = BytesMut::new();
        if packet.encode(protocol, &mut whole).is_ok() {
            let mut split = BytesMut::new();
            let payload = packet.encode_split(protocol, &mut split, min_payload).unwrap();
            match (&packet, &payload) {
                (Packet::Publish(p), Some(rest)) => {
                    prop_assert!(p.payload.len() >= min_payload);
                    prop_assert_eq!(rest, &p.payload);
                }
                (Packet::Publish(p), None) => prop_assert!(p.payload.len() < min_payload),
                (_, rest) => prop_assert!(rest.is_none()),
            }
            if let Some(rest) = payload {
                split.extend_from_slice(&rest);
            }
            prop_assert_eq!(&split[..], &whole[..]);
        }
    }
}

/// The generators themselves: every packet type of each version comes out,
/// and everything that comes out follows the rules the codec checks.
#[test]
fn generators_cover_every_packet_type_with_valid_packets() {
    let mut runner = TestRunner::deterministic();
    for protocol in Protocol::ALL {
        let strategy = arb_packet(protocol);
        let mut seen = HashSet::new();
        for _ in 0..600 {
            let packet = strategy
                .new_tree(&mut runner)
                .expect("strategy generates")
                .current();
            seen.insert(packet.packet_type() as u8);
            check_generated(&packet, protocol);
        }
        assert_eq!(seen, packet_types(protocol), "{protocol:?}");
    }
}

/// Checks a generated packet against the validity rules the generators
/// promise, independently of the decoder.
fn check_generated(packet: &Packet, protocol: Protocol) {
    let v5 = protocol.is_v5();
    let props: Vec<&Properties> = match packet {
        Packet::Connect(c) => {
            assert_eq!(c.protocol, protocol);
            if !v5 && c.password.is_some() {
                assert!(c.username.is_some());
            }
            let mut props = vec![&c.properties];
            if let Some(will) = &c.will {
                assert_eq!(topic::validate_name(&will.topic), Ok(()));
                props.push(&will.properties);
            }
            props
        }
        Packet::ConnAck(c) => {
            assert!(!c.session_present || c.reason_code == ReasonCode::Success);
            if protocol == Protocol::V3_1 {
                assert!(!c.session_present);
            }
            vec![&c.properties]
        }
        Packet::Publish(p) => {
            if !(v5 && p.topic.is_empty()) {
                assert_eq!(topic::validate_name(&p.topic), Ok(()));
            }
            vec![&p.properties]
        }
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            if !v5 {
                assert_eq!(a.reason_code, ReasonCode::Success);
            }
            vec![&a.properties]
        }
        Packet::Subscribe(s) => {
            for f in &s.filters {
                assert_eq!(topic::validate_filter(&f.filter), Ok(()), "{:?}", f.filter);
                assert!(!(f.options.no_local && f.filter.starts_with(SHARE_PREFIX)));
            }
            vec![&s.properties]
        }
        Packet::SubAck(s) => vec![&s.properties],
        Packet::Unsubscribe(u) => {
            for f in &u.filters {
                assert_eq!(topic::validate_filter(f), Ok(()), "{f:?}");
            }
            vec![&u.properties]
        }
        Packet::UnsubAck(u) => {
            assert_eq!(u.reason_codes.is_empty(), !v5);
            vec![&u.properties]
        }
        Packet::Disconnect(d) => {
            if !v5 {
                assert_eq!(d.reason_code, ReasonCode::Success);
            }
            vec![&d.properties]
        }
        Packet::Auth(a) => {
            assert!(v5);
            vec![&a.properties]
        }
        Packet::PingReq | Packet::PingResp => vec![],
    };
    for p in props {
        if !v5 {
            assert!(p.is_empty());
        }
        if p.authentication_data().is_some() {
            assert!(p.authentication_method().is_some());
        }
    }
}

// ---------------------------------------------------------------------------
// 2. No panic
// ---------------------------------------------------------------------------

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    Set(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    Truncate(Index),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, bit)| Mutation::FlipBit(i, bit)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => any::<Index>().prop_map(Mutation::Delete),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutations: &[Mutation]) {
    for m in mutations {
        let len = bytes.len();
        match *m {
            Mutation::Insert(ref i, b) => bytes.insert(i.index(len + 1), b),
            _ if len == 0 => {}
            Mutation::FlipBit(ref i, bit) => bytes[i.index(len)] ^= 1 << bit,
            Mutation::Set(ref i, b) => bytes[i.index(len)] = b,
            Mutation::Delete(ref i) => {
                bytes.remove(i.index(len));
            }
            Mutation::Truncate(ref i) => bytes.truncate(i.index(len)),
        }
    }
}

/// A valid stream (a CONNECT, then packets of the same version) with a few
/// edits: either anywhere in the stream, or inside the body of one packet
/// whose Remaining Length is then fixed up, which gets past the framing and
/// into the packet decoders.
fn arb_mutated_stream() -> impl Strategy<Value = Vec<u8>> {
    select(Protocol::ALL.to_vec()).prop_flat_map(|protocol| {
        (
            arb_connect(protocol),
            vec(arb_packet(protocol), 0..4),
            vec(arb_mutation(), 1..5),
            any::<bool>(),
            any::<Index>(),
        )
            .prop_map(move |(connect, packets, mutations, reframe, which)| {
                let mut frames: Vec<Vec<u8>> = std::iter::once(Packet::from(connect))
                    .chain(packets)
                    .map(|packet| encode(&packet, protocol))
                    .collect();
                if reframe {
                    let target = which.index(frames.len());
                    let target = &mut frames[target];
                    let header = header_len(target);
                    let mut body = target[header..].to_vec();
                    mutate(&mut body, &mutations);
                    *target = frame(target[0], &body);
                    frames.concat()
                } else {
                    let mut stream = frames.concat();
                    mutate(&mut stream, &mutations);
                    stream
                }
            })
    })
}

/// Frames around random bodies, mostly with the flags the packet type needs.
fn arb_framed_garbage() -> impl Strategy<Value = Vec<u8>> {
    let one = (
        1u8..=15,
        proptest::option::weighted(0.2, 0u8..16),
        vec(any::<u8>(), 0..300),
    )
        .prop_map(|(kind, flags, body)| {
            let usual = if matches!(kind, 6 | 8 | 10) { 2 } else { 0 };
            let flags = flags.unwrap_or(usual);
            frame((kind << 4) | flags, &body)
        });
    vec(one, 1..4).prop_map(|frames| frames.concat())
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..2048)) {
        feed_every_decoder(&data)?;
        decode_stream(&data);
    }

    #[test]
    fn framed_garbage_never_panics(data in arb_framed_garbage()) {
        feed_every_decoder(&data)?;
        decode_stream(&data);
    }

    #[test]
    fn mutated_valid_streams_never_panic(data in arb_mutated_stream()) {
        feed_every_decoder(&data)?;
        decode_stream(&data);
    }
}

// ---------------------------------------------------------------------------
// 3. Split stream
// ---------------------------------------------------------------------------

/// Where to cut a stream: every byte, or at arbitrary points.
#[derive(Debug, Clone)]
enum Cuts {
    EveryByte,
    At(Vec<Index>),
}

fn arb_cuts() -> impl Strategy<Value = Cuts> {
    prop_oneof![
        1 => Just(Cuts::EveryByte),
        4 => vec(any::<Index>(), 0..16).prop_map(Cuts::At),
    ]
}

/// The chunks `stream` is cut into.
fn chunks<'a>(stream: &'a [u8], cuts: &Cuts) -> Vec<&'a [u8]> {
    match cuts {
        Cuts::EveryByte => stream.chunks(1).collect(),
        Cuts::At(points) => {
            let mut points: Vec<usize> = points.iter().map(|i| i.index(stream.len() + 1)).collect();
            points.push(0);
            points.push(stream.len());
            points.sort_unstable();
            points.dedup();
            points.windows(2).map(|w| &stream[w[0]..w[1]]).collect()
        }
    }
}

/// Feeds `stream` to `decoder` in the given chunks, draining every whole
/// packet after each one.
fn decode_in_chunks(
    mut decoder: Decoder,
    chunks: &[&[u8]],
) -> Result<(Vec<Packet>, Decoder), TestCaseError> {
    let mut buf = BytesMut::new();
    let mut decoded = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        prop_assert!(drain(&mut decoder, &mut buf, &mut decoded)?, "decode error");
    }
    prop_assert!(buf.is_empty(), "{} bytes left over", buf.len());
    Ok((decoded, decoder))
}

fn check_split_stream(
    protocol: Protocol,
    connect: Connect,
    packets: &[Packet],
    cuts: &Cuts,
) -> Result<(), TestCaseError> {
    let mut stream = BytesMut::new();
    for packet in packets {
        packet.encode(protocol, &mut stream).expect("encodes");
    }
    let whole = decode_in_chunks(Decoder::with_protocol(protocol), &[&stream])?.0;
    prop_assert_eq!(&whole, packets);
    let split = decode_in_chunks(Decoder::with_protocol(protocol), &chunks(&stream, cuts))?.0;
    prop_assert_eq!(&split, packets);

    // The server side: CONNECT first, then the same stream.
    let connect = Packet::from(connect);
    let mut server_stream = BytesMut::new();
    connect
        .encode(protocol, &mut server_stream)
        .expect("encodes");
    server_stream.extend_from_slice(&stream);
    let (server, decoder) = decode_in_chunks(Decoder::new(), &chunks(&server_stream, cuts))?;
    prop_assert_eq!(decoder.protocol(), Some(protocol));
    prop_assert_eq!(&server[0], &connect);
    prop_assert_eq!(&server[1..], packets);
    Ok(())
}

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn split_stream_matches_whole_v3_1(
        connect in arb_connect(Protocol::V3_1),
        packets in vec(arb_packet(Protocol::V3_1), 1..8),
        cuts in arb_cuts(),
    ) {
        check_split_stream(Protocol::V3_1, connect, &packets, &cuts)?;
    }

    #[test]
    fn split_stream_matches_whole_v3_1_1(
        connect in arb_connect(Protocol::V3_1_1),
        packets in vec(arb_packet(Protocol::V3_1_1), 1..8),
        cuts in arb_cuts(),
    ) {
        check_split_stream(Protocol::V3_1_1, connect, &packets, &cuts)?;
    }

    #[test]
    fn split_stream_matches_whole_v5(
        connect in arb_connect(Protocol::V5),
        packets in vec(arb_packet(Protocol::V5), 1..8),
        cuts in arb_cuts(),
    ) {
        check_split_stream(Protocol::V5, connect, &packets, &cuts)?;
    }
}

// ---------------------------------------------------------------------------
// 4. Maximum packet size
// ---------------------------------------------------------------------------

/// A maximum packet size: near the packet's size, or anywhere.
#[derive(Debug, Clone)]
enum Limit {
    Near(i64),
    Anywhere(usize),
}

fn arb_limit() -> impl Strategy<Value = Limit> {
    prop_oneof![
        (-3i64..=3).prop_map(Limit::Near),
        (0usize..1024).prop_map(Limit::Anywhere),
    ]
}

fn check_max_packet_size(
    packet: &Packet,
    protocol: Protocol,
    limit: &Limit,
) -> Result<(), TestCaseError> {
    let bytes = encode(packet, protocol);
    let total = bytes.len();
    let max = match *limit {
        Limit::Near(delta) => usize::try_from(total as i64 + delta).unwrap_or(0),
        Limit::Anywhere(max) => max,
    };
    let header = header_len(&bytes);
    let too_large = DecodeError::PacketTooLarge { size: total, max };

    let mut decoders = vec![Decoder::with_protocol(protocol)];
    if matches!(packet, Packet::Connect(_)) {
        decoders.push(Decoder::new());
    }
    for mut decoder in decoders {
        decoder.set_max_packet_size(max);
        prop_assert_eq!(decoder.max_packet_size(), max);
        // The fixed header, one byte at a time: nothing until it is complete.
        let mut buf = BytesMut::new();
        for (i, &byte) in bytes[..header].iter().enumerate() {
            buf.extend_from_slice(&[byte]);
            let result = decoder.clone().decode(&mut buf);
            if i + 1 < header {
                prop_assert_eq!(result, Ok(None));
            } else if total > max {
                // Refused before a single byte of the body is there.
                prop_assert_eq!(result, Err(too_large.clone()));
                prop_assert_eq!(too_large.reason_code(), ReasonCode::PacketTooLarge);
            } else if header < total {
                prop_assert_eq!(result, Ok(None));
            } else {
                prop_assert_eq!(result, Ok(Some(packet.clone())));
            }
        }
        // The whole packet.
        let mut buf = BytesMut::from(&bytes[..]);
        let result = decoder.decode(&mut buf);
        if total > max {
            prop_assert_eq!(result, Err(too_large.clone()));
        } else {
            prop_assert_eq!(result, Ok(Some(packet.clone())));
            prop_assert!(buf.is_empty());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn max_packet_size_is_checked_on_the_fixed_header_v3_1(
        packet in arb_packet(Protocol::V3_1),
        limit in arb_limit(),
    ) {
        check_max_packet_size(&packet, Protocol::V3_1, &limit)?;
    }

    #[test]
    fn max_packet_size_is_checked_on_the_fixed_header_v3_1_1(
        packet in arb_packet(Protocol::V3_1_1),
        limit in arb_limit(),
    ) {
        check_max_packet_size(&packet, Protocol::V3_1_1, &limit)?;
    }

    #[test]
    fn max_packet_size_is_checked_on_the_fixed_header_v5(
        packet in arb_packet(Protocol::V5),
        limit in arb_limit(),
    ) {
        check_max_packet_size(&packet, Protocol::V5, &limit)?;
    }
}

/// Sanity check of the test's own framing helpers against the codec.
#[test]
fn frame_helper_matches_the_encoder() {
    let publish = Packet::from(Publish::new("t", vec![7u8; 20_000]));
    let bytes = encode(&publish, Protocol::V3_1_1);
    assert_eq!(header_len(&bytes), 4);
    assert_eq!(remaining_len(&bytes), bytes.len() - 4);
    assert_eq!(frame(bytes[0], &bytes[4..]), bytes);
    assert_eq!(PacketType::from_header(bytes[0]), Some(PacketType::Publish));
}

/// A fixed header alone: a packet type with its usual flags and any
/// Remaining Length from 1 to the largest MQTT allows, so 2- to 5-byte headers.
fn arb_fixed_header() -> impl Strategy<Value = (u8, usize)> {
    let remaining = prop_oneof![
        1usize..128,
        128usize..16_384,
        16_384usize..2_097_152,
        2_097_152usize..=MAX_VARINT as usize,
        Just(MAX_VARINT as usize),
    ];
    let first_byte = (1u8..=15).prop_map(|kind| match kind {
        6 | 8 | 10 => (kind << 4) | 2,
        _ => kind << 4,
    });
    (first_byte, remaining)
}

/// What every decoder with the maximum packet size `limit` (`None`: the
/// default) must answer to a fixed header alone.
fn check_fixed_header_alone(
    first_byte: u8,
    remaining: usize,
    limit: Option<&Limit>,
) -> Result<(), TestCaseError> {
    let mut header = vec![first_byte];
    header.extend(varint(remaining));
    let total = header.len() + remaining;
    let max = match limit {
        None => MAX_PACKET_SIZE,
        Some(&Limit::Near(delta)) => usize::try_from(total as i64 + delta).unwrap_or(0),
        Some(&Limit::Anywhere(max)) => max,
    };
    let too_large = total > max;
    let expected = FrameHeader {
        first_byte,
        header_len: header.len(),
        remaining_len: remaining,
    };
    prop_assert!((2..=5).contains(&header.len()));
    prop_assert_eq!(expected.total_len(), total);
    if too_large {
        prop_assert_eq!(
            peek_frame(&header, max),
            Err(DecodeError::PacketTooLarge { size: total, max })
        );
    } else {
        prop_assert_eq!(peek_frame(&header, max), Ok(Some(expected)));
    }
    let packet_type = PacketType::from_header(first_byte).expect("not reserved");
    for mut decoder in all_decoders() {
        let server = decoder.protocol().is_none();
        decoder.set_max_packet_size(max);
        let mut buf = BytesMut::from(&header[..]);
        let result = decoder.decode(&mut buf);
        if server && packet_type != PacketType::Connect {
            // The server refuses anything but CONNECT on its first byte.
            prop_assert_eq!(result, Err(DecodeError::FirstPacketNotConnect(packet_type)));
        } else if too_large {
            prop_assert_eq!(
                result,
                Err(DecodeError::PacketTooLarge { size: total, max })
            );
        } else {
            prop_assert_eq!(result, Ok(None));
            prop_assert_eq!(&buf[..], &header[..]);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    /// Any fixed header, 2 to 5 bytes long, against a limit near the size it
    /// announces, anywhere, or the default (which admits every MQTT packet).
    #[test]
    fn max_packet_size_is_checked_on_any_fixed_header(
        (first_byte, remaining) in arb_fixed_header(),
        limit in prop_oneof![
            1 => Just(None),
            2 => (-6i64..=6).prop_map(|d| Some(Limit::Near(d))),
            1 => (0..=MAX_PACKET_SIZE).prop_map(|m| Some(Limit::Anywhere(m))),
        ],
    ) {
        check_fixed_header_alone(first_byte, remaining, limit.as_ref())?;
    }

    /// AUTH does not exist before MQTT 5: the encoder refuses it and the
    /// decoder takes packet type 15 as reserved.
    #[test]
    fn auth_is_refused_before_v5(auth in arb_auth()) {
        let packet = Packet::from(auth);
        let v5 = encode(&packet, Protocol::V5);
        for protocol in [Protocol::V3_1, Protocol::V3_1_1] {
            let mut out = BytesMut::new();
            prop_assert_eq!(
                packet.encode(protocol, &mut out),
                Err(EncodeError::NotInProtocol(PacketType::Auth))
            );
            prop_assert!(out.is_empty(), "nothing written on error");
            let mut buf = BytesMut::from(&v5[..]);
            prop_assert_eq!(
                Decoder::with_protocol(protocol).decode(&mut buf),
                Err(DecodeError::ReservedPacketType(15))
            );
        }
    }
}

// ---------------------------------------------------------------------------
// 5. Other wire forms of the same packet
// ---------------------------------------------------------------------------

/// An MQTT 5 packet whose body may end early: PUBACK, PUBREC, PUBREL,
/// PUBCOMP, DISCONNECT or AUTH without properties.
fn arb_v5_short_form_packet() -> impl Strategy<Value = Packet> {
    use ReasonContext as R;
    let v5 = Protocol::V5;
    prop_oneof![
        arb_ack(v5, R::PubAckOrPubRec, PropertyContext::PubAck).prop_map(Packet::PubAck),
        arb_ack(v5, R::PubAckOrPubRec, PropertyContext::PubRec).prop_map(Packet::PubRec),
        arb_ack(v5, R::PubRelOrPubComp, PropertyContext::PubRel).prop_map(Packet::PubRel),
        arb_ack(v5, R::PubRelOrPubComp, PropertyContext::PubComp).prop_map(Packet::PubComp),
        arb_disconnect(v5).prop_map(Packet::from),
        arb_auth().prop_map(Packet::from),
    ]
    .prop_map(|mut packet| {
        // Drop the properties: the short forms are about what follows them.
        match &mut packet {
            Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
                a.properties = Properties::new()
            }
            Packet::Disconnect(d) => d.properties = Properties::new(),
            Packet::Auth(a) => a.properties = Properties::new(),
            _ => {}
        }
        packet
    })
}

/// The reason code of a packet from [`arb_v5_short_form_packet`].
fn short_form_reason(packet: &Packet) -> ReasonCode {
    match packet {
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            a.reason_code
        }
        Packet::Disconnect(d) => d.reason_code,
        Packet::Auth(a) => a.reason_code,
        _ => unreachable!("not a short-form packet"),
    }
}

/// An MQTT 3.1 packet that 3.1 clients may send with DUP set on a resend
/// (PUBREL, SUBSCRIBE, UNSUBSCRIBE), or a 3.1 CONNACK, whose first body
/// byte is reserved.
fn arb_v3_1_lenient_packet() -> impl Strategy<Value = Packet> {
    let v3_1 = Protocol::V3_1;
    prop_oneof![
        arb_ack(
            v3_1,
            ReasonContext::PubRelOrPubComp,
            PropertyContext::PubRel
        )
        .prop_map(Packet::PubRel),
        arb_subscribe(v3_1).prop_map(Packet::from),
        arb_unsubscribe(v3_1).prop_map(Packet::from),
        arb_connack(v3_1).prop_map(Packet::from),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    /// MQTT 5 §3.4.2.1, §3.14.2.1, §3.15.2.1: the reason code may be left
    /// out when it is Success and there are no properties, and the property
    /// length when there are none; every form decodes to the same packet as
    /// the one the encoder writes (no tail for Success, else reason code
    /// and property length).
    #[test]
    fn short_forms_decode_like_explicit_ones_v5(packet in arb_v5_short_form_packet()) {
        let canonical = encode(&packet, Protocol::V5);
        let header = header_len(&canonical);
        let body = &canonical[header..];
        let alternatives: Vec<Vec<u8>> = if short_form_reason(&packet) == ReasonCode::Success {
            // Canonical: no reason code. Also: an explicit 0x00, then with
            // a property length of 0.
            vec![[body, &[0x00]].concat(), [body, &[0x00, 0x00]].concat()]
        } else {
            // Canonical: reason code and property length 0. Also: the
            // reason code alone.
            vec![body[..body.len() - 1].to_vec()]
        };
        for alternative in alternatives {
            let mut buf = BytesMut::from(&frame(canonical[0], &alternative)[..]);
            prop_assert_eq!(
                Decoder::with_protocol(Protocol::V5).decode(&mut buf),
                Ok(Some(packet.clone())),
                "body {:02x?}",
                alternative
            );
            prop_assert!(buf.is_empty());
        }
    }

    /// MQTT 3.1 clients set DUP on resent PUBREL, SUBSCRIBE and UNSUBSCRIBE,
    /// and the first byte of a 3.1 CONNACK is reserved: 3.1 decodes them as
    /// the same packet; 3.1.1 refuses those flags.
    #[test]
    fn v3_1_lenient_forms_decode_like_canonical_ones(
        packet in arb_v3_1_lenient_packet(),
        reserved in any::<u8>(),
    ) {
        let mut bytes = encode(&packet, Protocol::V3_1);
        let header = header_len(&bytes);
        if let Packet::ConnAck(_) = packet {
            bytes[header] = reserved;
        } else {
            bytes[0] |= 0x08;
        }
        let mut buf = BytesMut::from(&bytes[..]);
        prop_assert_eq!(
            Decoder::with_protocol(Protocol::V3_1).decode(&mut buf),
            Ok(Some(packet.clone()))
        );
        prop_assert!(buf.is_empty());
        if !matches!(packet, Packet::ConnAck(_)) {
            let mut buf = BytesMut::from(&bytes[..]);
            prop_assert_eq!(
                Decoder::with_protocol(Protocol::V3_1_1).decode(&mut buf),
                Err(DecodeError::InvalidFlags {
                    packet: packet.packet_type(),
                    flags: bytes[0] & 0x0f,
                })
            );
        }
    }
}
