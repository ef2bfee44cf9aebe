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
        }
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let name = r.binary("the protocol name")?;
        let level = r.u8("the protocol level")?;
        let protocol = match (&name[..], level) {
            (b"MQTT", 4) => Protocol::V3_1_1,
            (b"MQTT", 5) => Protocol::V5,
            (b"MQIsdp", 3) => Protocol::V3_1,
            (b"MQTT", _) | (b"MQIsdp", _) => {
                // [MQTT-3.1.2-2]: answer CONNACK 0x01 / 0x84 and close.
                return Err(DecodeError::UnsupportedProtocolLevel(level));
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
        out.put_u8(self.protocol.level());
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
