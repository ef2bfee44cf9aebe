//! CONNECT (MQTT 3.1.1 §3.1, MQTT 5.0 §3.1): the first packet of every
//! connection, and the one that says which protocol version the rest use.

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use crate::error::{DecodeError, EncodeError};
use crate::property::{Properties, PropertyContext};
use crate::topic;
use crate::wire::{self, Reader};
use crate::{Protocol, QoS};

/// A CONNECT packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// Protocol version, from the protocol name and level.
    pub protocol: Protocol,
    /// Clean Session (3.x) / Clean Start (5.0).
    pub clean_start: bool,
    /// Keep Alive in seconds; 0 turns it off.
    pub keep_alive: u16,
    /// CONNECT properties (MQTT 5 only).
    pub properties: Properties,
    /// Client Identifier; may be empty.
    pub client_id: ByteString,
    /// The Will Message, if the Will Flag is set.
    pub will: Option<LastWill>,
    /// User Name, if the flag is set.
    pub username: Option<ByteString>,
    /// Password, if the flag is set (binary data).
    pub password: Option<Bytes>,
    /// The protocol level had its high bit set (0x83, 0x84, 0x85): a
    /// Mosquitto bridge connecting with `try_private true`, its default.
    /// The bit is not in the specifications; brokers that know it treat
    /// the client as a bridge (no echo of its own messages, RETAIN as
    /// published).
    pub bridge: bool,
}

/// The Will Message of a CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastWill {
    /// Will Topic (a topic name).
    pub topic: ByteString,
    /// Will Payload.
    pub payload: Bytes,
    /// Will QoS.
    pub qos: QoS,
    /// Will Retain.
    pub retain: bool,
    /// Will Properties (MQTT 5 only).
    pub properties: Properties,
}

impl LastWill {
    /// Copies the will's topic, payload and properties into allocations of
    /// their own, so a will held for the connection's life does not keep
    /// the CONNECT's read buffer alive (see [`crate::Publish::detach`]).
    pub fn detach(&mut self) {
        self.topic = crate::property::own_str(&self.topic);
        self.payload = Bytes::copy_from_slice(&self.payload);
        self.properties.detach();
    }
}

impl Connect {
    /// A CONNECT with the given protocol and client id, clean start, keep
    /// alive 60 and nothing else.
    pub fn new(protocol: Protocol, client_id: impl Into<ByteString>) -> Self {
        Connect {
            protocol,
            clean_start: true,
            keep_alive: 60,
            properties: Properties::new(),
            client_id: client_id.into(),
            will: None,
            username: None,
            password: None,
            bridge: false,
        }
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let name = r.binary("the protocol name")?;
        let raw_level = r.u8("the protocol level")?;
        // Mosquitto bridges set 0x80 on the level (`try_private`).
        let bridge = raw_level & 0x80 != 0 && matches!(raw_level & 0x7f, 3..=5);
        let level = if bridge { raw_level & 0x7f } else { raw_level };
        let protocol = match (&name[..], level) {
            (b"MQTT", 4) => Protocol::V3_1_1,
            (b"MQTT", 5) => Protocol::V5,
            (b"MQIsdp", 3) => Protocol::V3_1,
            (b"MQTT", _) | (b"MQIsdp", _) => {
                // [MQTT-3.1.2-2]: answer CONNACK 0x01 / 0x84 and close.
                return Err(DecodeError::UnsupportedProtocolLevel(raw_level));
            }
            _ => {
                return Err(DecodeError::InvalidProtocolName {
                    name: String::from_utf8_lossy(&name).into_owned(),
                    level,
                })
            }
        };
        let flags = r.u8("the connect flags")?;
        if flags & 0x01 != 0 {
            return Err(DecodeError::ConnectReservedFlag);
        }
        let clean_start = flags & 0x02 != 0;
        let will_flag = flags & 0x04 != 0;
        let will_qos_bits = (flags >> 3) & 0x03;
        let will_retain = flags & 0x20 != 0;
        let password_flag = flags & 0x40 != 0;
        let username_flag = flags & 0x80 != 0;
        if !will_flag && will_qos_bits != 0 {
            return Err(DecodeError::WillQosWithoutWill);
        }
        if !will_flag && will_retain {
            return Err(DecodeError::WillRetainWithoutWill);
        }
        let will_qos = QoS::from_u8(will_qos_bits).ok_or(DecodeError::InvalidWillQos)?;
        if password_flag && !username_flag && !protocol.is_v5() {
            return Err(DecodeError::PasswordWithoutUsername);
        }
        let keep_alive = r.u16("the keep alive")?;
        let properties = if protocol.is_v5() {
            let props = Properties::decode(r, PropertyContext::Connect)?;
            if props.authentication_data().is_some() && props.authentication_method().is_none() {
                return Err(DecodeError::AuthDataWithoutMethod);
            }
            props
        } else {
            Properties::new()
        };
        let client_id = r.string("the client identifier")?;
        let will = if will_flag {
            let properties = if protocol.is_v5() {
                Properties::decode(r, PropertyContext::Will)?
            } else {
                Properties::new()
            };
            let topic = r.string("the will topic")?;
            topic::validate_name(&topic).map_err(DecodeError::InvalidTopicName)?;
            let payload = r.binary("the will payload")?;
            Some(LastWill {
                topic,
                payload,
                qos: will_qos,
                retain: will_retain,
                properties,
            })
        } else {
            None
        };
        let username = if username_flag {
            Some(r.string("the user name")?)
        } else {
            None
        };
        let password = if password_flag {
            Some(r.binary("the password")?)
        } else {
            None
        };
        Ok(Connect {
            protocol,
            clean_start,
            keep_alive,
            properties,
            client_id,
            will,
            username,
            password,
            bridge,
        })
    }

    pub(crate) fn check(&self) -> Result<usize, EncodeError> {
        let v5 = self.protocol.is_v5();
        wire::check_field(self.client_id.len(), "client identifier")?;
        let mut len = wire::field_len(self.protocol.name().len()) + 1 + 1 + 2;
        if v5 {
            self.properties.check()?;
            len += self.properties.wire_len();
        }
        len += wire::field_len(self.client_id.len());
        if let Some(will) = &self.will {
            wire::check_field(will.topic.len(), "will topic")?;
            wire::check_field(will.payload.len(), "will payload")?;
            if v5 {
                will.properties.check()?;
                len += will.properties.wire_len();
            }
            len += wire::field_len(will.topic.len()) + wire::field_len(will.payload.len());
        }
        if let Some(username) = &self.username {
            wire::check_field(username.len(), "user name")?;
            len += wire::field_len(username.len());
        }
        if let Some(password) = &self.password {
            wire::check_field(password.len(), "password")?;
            len += wire::field_len(password.len());
        }
        Ok(len)
    }

    pub(crate) fn encode_body(&self, out: &mut BytesMut) {
        let v5 = self.protocol.is_v5();
        wire::put_field(out, self.protocol.name().as_bytes());
        out.put_u8(self.protocol.level() | if self.bridge { 0x80 } else { 0 });
        let mut flags = 0u8;
        if self.clean_start {
            flags |= 0x02;
        }
        if let Some(will) = &self.will {
            flags |= 0x04 | ((will.qos as u8) << 3);
            if will.retain {
                flags |= 0x20;
            }
        }
        if self.password.is_some() {
            flags |= 0x40;
        }
        if self.username.is_some() {
            flags |= 0x80;
        }
        out.put_u8(flags);
        out.put_u16(self.keep_alive);
        if v5 {
            self.properties.encode(out);
        }
        wire::put_field(out, self.client_id.as_bytes());
        if let Some(will) = &self.will {
            if v5 {
                will.properties.encode(out);
            }
            wire::put_field(out, will.topic.as_bytes());
            wire::put_field(out, &will.payload);
        }
        if let Some(username) = &self.username {
            wire::put_field(out, username.as_bytes());
        }
        if let Some(password) = &self.password {
            wire::put_field(out, password);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::{b, decode, decode_body, encode, field, round_trip};
    use crate::packet::Packet;
    use crate::property::{Property, PropertyId};
    use crate::{DecodeError, Decoder, ReasonCode};

    /// A 3.1.1 CONNECT body with the given flags and payload after the client id.
    fn v311(flags: u8, client_id: &[u8], rest: &[u8]) -> Vec<u8> {
        let mut body = field(b"MQTT");
        body.extend_from_slice(&[4, flags, 0, 60]);
        body.extend(field(client_id));
        body.extend_from_slice(rest);
        body
    }

    fn err(protocol: Protocol, body: &[u8]) -> DecodeError {
        decode_body(protocol, 0x10, body).unwrap_err()
    }

    #[test]
    fn the_three_protocol_versions_are_recognised() {
        for protocol in Protocol::ALL {
            let connect = Connect::new(protocol, "c1");
            let bytes = encode(&connect.clone().into(), protocol);
            let mut buf = bytes::BytesMut::from(&bytes[..]);
            let mut decoder = Decoder::new();
            let packet = decoder.decode(&mut buf).unwrap().unwrap();
            assert_eq!(packet, Packet::from(connect));
            assert_eq!(decoder.protocol(), Some(protocol));
        }
        // MQTT 3.1 says so with its own name and level.
        let bytes = encode(&Connect::new(Protocol::V3_1, "c").into(), Protocol::V3_1);
        assert_eq!(&bytes[2..11], b"\x00\x06MQIsdp\x03");
    }

    #[test]
    fn full_connect_round_trips_in_every_version() {
        for protocol in Protocol::ALL {
            let v5 = protocol.is_v5();
            let props = |p: Properties| if v5 { p } else { Properties::new() };
            let connect = Connect {
                protocol,
                clean_start: false,
                keep_alive: 0,
                properties: props(
                    Properties::new()
                        .with(Property::SessionExpiryInterval(3600))
                        .with(Property::ReceiveMaximum(20))
                        .with(Property::UserProperty("k".into(), "v".into())),
                ),
                client_id: "sensor-1".into(),
                will: Some(LastWill {
                    topic: "status/sensor-1".into(),
                    payload: b(b"offline"),
                    qos: QoS::ExactlyOnce,
                    retain: true,
                    properties: props(Properties::new().with(Property::WillDelayInterval(10))),
                }),
                username: Some("alice".into()),
                password: Some(b(b"\x00secret\xff")),
                bridge: false,
            };
            round_trip(connect.into(), protocol);
        }
    }

    /// [MQTT-3.1.2-1] a protocol name other than `MQTT` / `MQIsdp`.
    #[test]
    fn mqtt_3_1_2_1_wrong_protocol_name() {
        let mut body = field(b"MQTX");
        body.extend_from_slice(&[4, 2, 0, 60]);
        body.extend(field(b"c"));
        let e = err(Protocol::V3_1_1, &body);
        assert!(
            matches!(e, DecodeError::InvalidProtocolName { ref name, level: 4 } if name == "MQTX")
        );
        assert_eq!(e.reason_code(), ReasonCode::UnsupportedProtocolVersion);
    }

    /// Mosquitto bridges (`try_private true`) send the level with 0x80
    /// set: 0x83 (3.1), 0x84 (3.1.1), 0x85 (5.0). Decoded as that
    /// version with `bridge`, and encoded back the same way.
    #[test]
    fn bridge_protocol_levels() {
        for (name, raw, protocol) in [
            (&b"MQIsdp"[..], 0x83u8, Protocol::V3_1),
            (&b"MQTT"[..], 0x84, Protocol::V3_1_1),
            (&b"MQTT"[..], 0x85, Protocol::V5),
        ] {
            let mut c = Connect::new(protocol, "edge");
            c.bridge = true;
            let mut out = BytesMut::new();
            c.encode_body(&mut out);
            assert_eq!(out[2 + name.len()], raw, "{protocol:?}");
            let mut r = Reader::new(out.freeze());
            let back = Connect::decode(&mut r).unwrap();
            assert_eq!(back, c);
        }
        // 0x80 on its own, or on a level that does not exist, is refused.
        for raw in [0x80u8, 0x86, 0xff] {
            let mut body = vec![0, 4];
            body.extend_from_slice(b"MQTT");
            body.extend_from_slice(&[raw, 2, 0, 60, 0, 0]);
            let e = Connect::decode(&mut Reader::new(Bytes::from(body))).unwrap_err();
            assert_eq!(e, DecodeError::UnsupportedProtocolLevel(raw));
        }
    }

    /// [MQTT-3.1.2-2] an unsupported protocol level gets 0x01 / 0x84.
    #[test]
    fn mqtt_3_1_2_2_unsupported_protocol_level() {
        for level in [0u8, 3, 6, 255] {
            let mut body = field(b"MQTT");
            body.extend_from_slice(&[level, 2, 0, 60]);
            body.extend(field(b"c"));
            let e = err(Protocol::V3_1_1, &body);
            assert_eq!(e, DecodeError::UnsupportedProtocolLevel(level));
            assert_eq!(e.reason_code(), ReasonCode::UnsupportedProtocolVersion);
            assert_eq!(e.reason_code().to_v3_connack(), 0x01);
        }
        let mut body = field(b"MQIsdp");
        body.extend_from_slice(&[4, 2, 0, 60]);
        body.extend(field(b"c"));
        assert_eq!(
            err(Protocol::V3_1_1, &body),
            DecodeError::UnsupportedProtocolLevel(4)
        );
    }

    /// [MQTT-3.1.2-3] the reserved flag must be 0.
    #[test]
    fn mqtt_3_1_2_3_reserved_flag() {
        let e = err(Protocol::V3_1_1, &v311(0x03, b"c", &[]));
        assert_eq!(e, DecodeError::ConnectReservedFlag);
        assert_eq!(e.reason_code(), ReasonCode::MalformedPacket);
    }

    /// [MQTT-3.1.2-11] will QoS must be 0 without a will.
    #[test]
    fn mqtt_3_1_2_11_will_qos_without_will_flag() {
        assert_eq!(
            err(Protocol::V3_1_1, &v311(0x02 | 0x08, b"c", &[])),
            DecodeError::WillQosWithoutWill
        );
    }

    /// [MQTT-3.1.2-12] will QoS 3 is invalid.
    #[test]
    fn mqtt_3_1_2_12_will_qos_3() {
        let mut rest = field(b"t");
        rest.extend(field(b"p"));
        assert_eq!(
            err(Protocol::V3_1_1, &v311(0x04 | 0x18, b"c", &rest)),
            DecodeError::InvalidWillQos
        );
    }

    /// [MQTT-3.1.2-13] will retain must be 0 without a will.
    #[test]
    fn mqtt_3_1_2_13_will_retain_without_will_flag() {
        assert_eq!(
            err(Protocol::V3_1_1, &v311(0x20, b"c", &[])),
            DecodeError::WillRetainWithoutWill
        );
    }

    /// [MQTT-3.1.2-22] 3.1.1: a password needs a user name; MQTT 5 lifted the rule.
    #[test]
    fn mqtt_3_1_2_22_password_without_username() {
        let e = err(Protocol::V3_1_1, &v311(0x40, b"c", &field(b"pw")));
        assert_eq!(e, DecodeError::PasswordWithoutUsername);
        let mut v5 = Connect::new(Protocol::V5, "c");
        v5.password = Some(b(b"token"));
        round_trip(v5.into(), Protocol::V5);
    }

    /// [MQTT-3.1.3-10]/[MQTT-3.3.2-2] the will topic is a topic name.
    #[test]
    fn will_topic_must_not_contain_wildcards() {
        let mut rest = field(b"a/#");
        rest.extend(field(b"p"));
        let e = err(Protocol::V3_1_1, &v311(0x04, b"c", &rest));
        assert!(matches!(e, DecodeError::InvalidTopicName(_)));
    }

    /// [MQTT-1.5.4-1] ill-formed UTF-8 and surrogates; [MQTT-1.5.4-2] U+0000.
    #[test]
    fn mqtt_1_5_4_1_and_2_client_id_strings() {
        assert_eq!(
            err(Protocol::V3_1_1, &v311(2, b"\xff\xfe", &[])),
            DecodeError::InvalidUtf8("the client identifier")
        );
        assert_eq!(
            err(Protocol::V3_1_1, &v311(2, b"a\xed\xa0\x80", &[])),
            DecodeError::Surrogate("the client identifier")
        );
        assert_eq!(
            err(Protocol::V3_1_1, &v311(2, b"a\x00b", &[])),
            DecodeError::NullCharacter("the client identifier")
        );
        // Overlong encoding of '/' (C0 AF) is ill-formed too.
        assert_eq!(
            err(Protocol::V3_1_1, &v311(2, b"\xc0\xaf", &[])),
            DecodeError::InvalidUtf8("the client identifier")
        );
        for e in [
            DecodeError::InvalidUtf8("x"),
            DecodeError::Surrogate("x"),
            DecodeError::NullCharacter("x"),
        ] {
            assert_eq!(e.reason_code(), ReasonCode::MalformedPacket);
        }
    }

    #[test]
    fn empty_client_id_is_left_to_the_session_rules() {
        // [MQTT-3.1.3-6]/[MQTT-3.1.3-8] are decided by the broker, not the codec.
        round_trip(Connect::new(Protocol::V3_1_1, "").into(), Protocol::V3_1_1);
    }

    #[test]
    fn truncated_and_trailing_bytes_are_malformed() {
        let body = v311(2, b"c", &[]);
        assert_eq!(
            err(Protocol::V3_1_1, &body[..body.len() - 1]),
            DecodeError::Truncated("the client identifier")
        );
        let mut extra = body.clone();
        extra.push(0);
        let e = err(Protocol::V3_1_1, &extra);
        assert_eq!(
            e,
            DecodeError::TrailingBytes {
                packet: crate::PacketType::Connect,
                extra: 1
            }
        );
        assert_eq!(e.reason_code(), ReasonCode::MalformedPacket);
    }

    /// [MQTT-2.2.2-2] CONNECT flags in the fixed header are 0000.
    #[test]
    fn mqtt_2_2_2_2_fixed_header_flags() {
        let e = decode_body(Protocol::V3_1_1, 0x11, &v311(2, b"c", &[])).unwrap_err();
        assert!(matches!(e, DecodeError::InvalidFlags { flags: 1, .. }));
    }

    /// Table 2-4: a PUBLISH-only property in CONNECT, a CONNECT property in
    /// the will properties: a Malformed Packet (§2.2.2.2), CONNACK 0x81.
    #[test]
    fn properties_outside_their_packet_are_malformed() {
        let mut c = Connect::new(Protocol::V5, "c");
        c.properties.push(Property::TopicAlias(1));
        let e = decode(Protocol::V5, &encode(&c.into(), Protocol::V5)).unwrap_err();
        assert_eq!(
            e,
            DecodeError::PropertyNotAllowed {
                property: PropertyId::TopicAlias,
                packet: "CONNECT"
            }
        );
        assert_eq!(e.reason_code(), ReasonCode::MalformedPacket);

        let mut c = Connect::new(Protocol::V5, "c");
        c.will = Some(LastWill {
            topic: "t".into(),
            payload: b(b""),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: Properties::new().with(Property::SessionExpiryInterval(1)),
        });
        let e = decode(Protocol::V5, &encode(&c.into(), Protocol::V5)).unwrap_err();
        assert_eq!(
            e,
            DecodeError::PropertyNotAllowed {
                property: PropertyId::SessionExpiryInterval,
                packet: "will properties"
            }
        );
    }

    /// §3.1.2.11.10: Authentication Data without an Authentication Method.
    #[test]
    fn authentication_data_needs_a_method() {
        let mut c = Connect::new(Protocol::V5, "c");
        c.properties.push(Property::AuthenticationData(b(b"x")));
        let e = decode(Protocol::V5, &encode(&c.into(), Protocol::V5)).unwrap_err();
        assert_eq!(e, DecodeError::AuthDataWithoutMethod);
        assert_eq!(e.reason_code(), ReasonCode::ProtocolError);
    }

    #[test]
    fn oversized_fields_are_refused_when_encoding() {
        let c = Connect::new(Protocol::V3_1_1, "x".repeat(70_000));
        let mut out = bytes::BytesMut::new();
        assert_eq!(
            Packet::from(c).encode(Protocol::V3_1_1, &mut out),
            Err(crate::EncodeError::FieldTooLong("client identifier"))
        );
        assert!(out.is_empty());
    }
}
