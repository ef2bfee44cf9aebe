//! One MQTT conversation with a broker, from CONNECT to DISCONNECT.
//!
//! [`Session::connect`] sends CONNECT and waits for CONNACK; a refusal is
//! [`ClientError::Refused`] with the code the broker gave. Afterwards:
//!
//! - [`Session::publish`] sends one message and, at QoS 1 and 2, waits for
//!   its flow to finish (PUBACK, or PUBREC / PUBREL / PUBCOMP);
//! - [`Session::subscribe`] / [`Session::unsubscribe`] wait for their acks;
//! - [`Session::next_message`] returns the next message received. QoS 1
//!   messages are acknowledged on arrival; QoS 2 messages are delivered
//!   when the broker's PUBREL arrives, as libmosquitto does, so a re-sent
//!   PUBLISH is never delivered twice.
//!
//! While any of these waits, the session answers what else arrives and
//! keeps the connection alive: a PINGREQ goes out when nothing was sent
//! for the keep-alive period, and a broker silent for another period after
//! it is a lost connection. A DISCONNECT from the broker (MQTT 5) ends the
//! session with its reason code.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::num::NonZeroU16;
use std::time::Duration;

use bytes::BytesMut;
use hornet_codec::{
    Ack, ConnAck, Connect, DecodeError, Decoder, Disconnect, Packet, PacketId, Properties,
    Property, Protocol, Publish, QoS, ReasonCode, SubAck, Subscribe, UnsubAck, Unsubscribe,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::debug::{self, Direction};
use super::transport::Stream;

/// How long to wait for CONNACK when keep-alive is off.
const CONNACK_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the session ended or a call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    /// The connection failed or was closed under us.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The broker sent bytes that are not MQTT.
    #[error("protocol error: {0}")]
    Decode(#[from] DecodeError),
    /// The broker refused the CONNECT with this code.
    #[error("connection refused: {}", .0.name())]
    Refused(ReasonCode),
    /// The broker sent a packet that makes no sense here.
    #[error("protocol error: {0}")]
    Unexpected(String),
    /// The broker closed the session with DISCONNECT (MQTT 5).
    #[error("disconnected by the broker: {} ({:#04x})", .0.name(), .0.as_u8())]
    Disconnected(ReasonCode, Option<String>),
    /// The broker answered neither our messages nor our PINGREQ.
    #[error("the broker did not answer for {0} seconds (keep-alive)")]
    KeepAlive(u16),
}

/// What a publish came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PublishOutcome {
    /// The packet identifier used (0 at QoS 0).
    pub(crate) mid: u16,
    /// The broker's reason code (PUBACK / PUBREC; Success at QoS 0 and 3.x).
    pub(crate) reason: ReasonCode,
}

/// A connected MQTT session.
pub(crate) struct Session {
    stream: Stream,
    protocol: Protocol,
    decoder: Decoder,
    rx: BytesMut,
    tx: BytesMut,
    /// The client id, as shown in debug lines (empty until assigned).
    name: String,
    debug: bool,
    keep_alive: u16,
    last_sent: Instant,
    ping_sent: Option<Instant>,
    next_id: u16,
    /// QoS 2 messages received, waiting for PUBREL.
    awaiting_rel: HashMap<u16, Publish>,
    /// Messages ready for [`Session::next_message`].
    ready: VecDeque<Publish>,
    /// Topic aliases the broker set up for us (MQTT 5).
    aliases: HashMap<u16, hornet_codec::ByteString>,
}

impl Session {
    /// Sends `connect` over `stream` and waits for CONNACK.
    pub(crate) async fn connect(
        stream: Stream,
        connect: Connect,
        debug: bool,
    ) -> Result<(Session, ConnAck), ClientError> {
        let protocol = connect.protocol;
        let mut session = Session {
            stream,
            protocol,
            decoder: Decoder::with_protocol(protocol),
            rx: BytesMut::with_capacity(4096),
            tx: BytesMut::new(),
            name: connect.client_id.to_string(),
            debug,
            keep_alive: connect.keep_alive,
            last_sent: Instant::now(),
            ping_sent: None,
            next_id: 0,
            awaiting_rel: HashMap::new(),
            ready: VecDeque::new(),
            aliases: HashMap::new(),
        };
        session.send(Packet::from(connect)).await?;
        let wait = if session.keep_alive > 0 {
            Duration::from_secs(u64::from(session.keep_alive))
        } else {
            CONNACK_TIMEOUT
        };
        let first = tokio::time::timeout(wait, session.read_raw())
            .await
            .map_err(|_| ClientError::KeepAlive(session.keep_alive))??;
        let connack = match first {
            Packet::ConnAck(c) => c,
            other => {
                return Err(ClientError::Unexpected(format!(
                    "expected CONNACK, got {:?}",
                    other.packet_type()
                )))
            }
        };
        if let Some(id) = connack.properties.iter().find_map(|p| match p {
            Property::AssignedClientIdentifier(id) => Some(id.to_string()),
            _ => None,
        }) {
            session.name = id;
        }
        if let Some(secs) = connack.properties.iter().find_map(|p| match p {
            Property::ServerKeepAlive(s) => Some(*s),
            _ => None,
        }) {
            session.keep_alive = secs;
        }
        session.log(Direction::Received, &Packet::ConnAck(connack.clone()));
        if connack.reason_code.is_error() {
            return Err(ClientError::Refused(connack.reason_code));
        }
        Ok((session, connack))
    }

    /// The protocol version in use.
    pub(crate) fn protocol(&self) -> Protocol {
        self.protocol
    }

    fn log(&self, dir: Direction, packet: &Packet) {
        if self.debug {
            println!("{}", debug::line(&self.name, dir, packet, self.protocol));
        }
    }

    /// Encodes and writes one packet.
    async fn send(&mut self, packet: Packet) -> Result<(), ClientError> {
        self.log(Direction::Sending, &packet);
        self.tx.clear();
        packet.encode(self.protocol, &mut self.tx).map_err(|e| {
            ClientError::Unexpected(format!("cannot encode {:?}: {e}", packet.packet_type()))
        })?;
        self.stream.write_all(&self.tx).await?;
        self.stream.flush().await?;
        self.last_sent = Instant::now();
        Ok(())
    }

    /// The next packet off the wire, with no keep-alive handling.
    async fn read_raw(&mut self) -> Result<Packet, ClientError> {
        loop {
            if let Some(packet) = self.decoder.decode(&mut self.rx)? {
                return Ok(packet);
            }
            if self.stream.read_buf(&mut self.rx).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "The connection was lost.",
                )
                .into());
            }
        }
    }

    /// The next packet, sending PINGREQ when the keep-alive period passes
    /// without anything sent.
    async fn read_packet(&mut self) -> Result<Packet, ClientError> {
        loop {
            if let Some(packet) = self.decoder.decode(&mut self.rx)? {
                return Ok(packet);
            }
            let period = Duration::from_secs(u64::from(self.keep_alive));
            let deadline = match self.ping_sent {
                _ if self.keep_alive == 0 => None,
                Some(at) => Some(at + period),
                None => Some(self.last_sent + period),
            };
            let read = self.stream.read_buf(&mut self.rx);
            let n = match deadline {
                None => Some(read.await?),
                Some(deadline) => tokio::select! {
                    n = read => Some(n?),
                    _ = tokio::time::sleep_until(deadline) => None,
                },
            };
            match n {
                Some(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "The connection was lost.",
                    )
                    .into())
                }
                Some(_) => {}
                None if self.ping_sent.is_some() => {
                    return Err(ClientError::KeepAlive(self.keep_alive))
                }
                None => {
                    self.send(Packet::PingReq).await?;
                    self.ping_sent = Some(Instant::now());
                }
            }
        }
    }

    /// Reads one packet and deals with what every state deals with;
    /// returns the packet for the caller when it is an acknowledgement the
    /// caller waits for (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK).
    async fn pump(&mut self) -> Result<Option<Packet>, ClientError> {
        let packet = self.read_packet().await?;
        // Any packet proves the broker alive.
        self.ping_sent = None;
        self.log(Direction::Received, &packet);
        match packet {
            Packet::Publish(mut p) => {
                self.resolve_alias(&mut p)?;
                match (p.qos, p.packet_id) {
                    (QoS::AtMostOnce, _) => self.ready.push_back(p),
                    (QoS::AtLeastOnce, Some(id)) => {
                        self.send(Packet::PubAck(Ack::new(id))).await?;
                        self.ready.push_back(p);
                    }
                    (QoS::ExactlyOnce, Some(id)) => {
                        self.send(Packet::PubRec(Ack::new(id))).await?;
                        self.awaiting_rel.insert(id.get(), p);
                    }
                    _ => return Err(ClientError::Unexpected("PUBLISH without packet id".into())),
                }
                Ok(None)
            }
            Packet::PubRel(a) => {
                self.send(Packet::PubComp(Ack::new(a.packet_id))).await?;
                if let Some(p) = self.awaiting_rel.remove(&a.packet_id.get()) {
                    self.ready.push_back(p);
                }
                Ok(None)
            }
            Packet::PingResp | Packet::PingReq => Ok(None),
            Packet::Disconnect(d) => {
                let reason = d.properties.iter().find_map(|p| match p {
                    Property::ReasonString(s) => Some(s.to_string()),
                    _ => None,
                });
                Err(ClientError::Disconnected(d.reason_code, reason))
            }
            p @ (Packet::PubAck(_)
            | Packet::PubRec(_)
            | Packet::PubComp(_)
            | Packet::SubAck(_)
            | Packet::UnsubAck(_)) => Ok(Some(p)),
            other => Err(ClientError::Unexpected(format!(
                "unexpected {:?} from the broker",
                other.packet_type()
            ))),
        }
    }

    /// Replaces an MQTT 5 topic alias by its topic [MQTT-3.3.2-12].
    fn resolve_alias(&mut self, p: &mut Publish) -> Result<(), ClientError> {
        let alias = p.properties.iter().find_map(|pr| match pr {
            Property::TopicAlias(a) => Some(*a),
            _ => None,
        });
        if let Some(alias) = alias {
            if p.topic.is_empty() {
                match self.aliases.get(&alias) {
                    Some(topic) => p.topic = topic.clone(),
                    None => {
                        return Err(ClientError::Unexpected(format!(
                            "unknown topic alias {alias}"
                        )))
                    }
                }
            } else {
                self.aliases.insert(alias, p.topic.clone());
            }
        }
        Ok(())
    }

    fn packet_id(&mut self) -> PacketId {
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        NonZeroU16::new(self.next_id).expect("never 0")
    }

    /// Publishes one message; at QoS 1 and 2, returns once its flow is
    /// complete (or the broker answered it with an error code).
    pub(crate) async fn publish(&mut self, mut p: Publish) -> Result<PublishOutcome, ClientError> {
        let qos = p.qos;
        let id = (qos != QoS::AtMostOnce).then(|| self.packet_id());
        p.packet_id = id;
        self.send(Packet::Publish(p)).await?;
        let Some(id) = id else {
            return Ok(PublishOutcome {
                mid: 0,
                reason: ReasonCode::Success,
            });
        };
        let mid = id.get();
        loop {
            match self.pump().await? {
                Some(Packet::PubAck(a)) if qos == QoS::AtLeastOnce && a.packet_id == id => {
                    return Ok(PublishOutcome {
                        mid,
                        reason: a.reason_code,
                    })
                }
                Some(Packet::PubRec(a)) if qos == QoS::ExactlyOnce && a.packet_id == id => {
                    if a.reason_code.is_error() {
                        return Ok(PublishOutcome {
                            mid,
                            reason: a.reason_code,
                        });
                    }
                    self.send(Packet::PubRel(Ack::new(id))).await?;
                }
                Some(Packet::PubComp(a)) if qos == QoS::ExactlyOnce && a.packet_id == id => {
                    return Ok(PublishOutcome {
                        mid,
                        reason: ReasonCode::Success,
                    })
                }
                Some(other) => {
                    return Err(ClientError::Unexpected(format!(
                        "unexpected {:?} while publishing message {mid}",
                        other.packet_type()
                    )))
                }
                None => {}
            }
        }
    }

    /// Subscribes (all `filters` in one SUBSCRIBE) and returns the SUBACK.
    pub(crate) async fn subscribe(
        &mut self,
        filters: Vec<hornet_codec::SubscribeFilter>,
        properties: Properties,
    ) -> Result<SubAck, ClientError> {
        let id = self.packet_id();
        let sub = Subscribe {
            packet_id: id,
            properties,
            filters,
        };
        self.send(Packet::Subscribe(sub)).await?;
        loop {
            match self.pump().await? {
                Some(Packet::SubAck(s)) if s.packet_id == id => return Ok(s),
                Some(other) => {
                    return Err(ClientError::Unexpected(format!(
                        "unexpected {:?} while subscribing",
                        other.packet_type()
                    )))
                }
                None => {}
            }
        }
    }

    /// Unsubscribes from `filters` and returns the UNSUBACK.
    pub(crate) async fn unsubscribe(
        &mut self,
        filters: Vec<hornet_codec::ByteString>,
        properties: Properties,
    ) -> Result<UnsubAck, ClientError> {
        let id = self.packet_id();
        let unsub = Unsubscribe {
            packet_id: id,
            properties,
            filters,
        };
        self.send(Packet::Unsubscribe(unsub)).await?;
        loop {
            match self.pump().await? {
                Some(Packet::UnsubAck(s)) if s.packet_id == id => return Ok(s),
                Some(other) => {
                    return Err(ClientError::Unexpected(format!(
                        "unexpected {:?} while unsubscribing",
                        other.packet_type()
                    )))
                }
                None => {}
            }
        }
    }

    /// The next message from the broker (acknowledged as its QoS asks).
    pub(crate) async fn next_message(&mut self) -> Result<Publish, ClientError> {
        loop {
            if let Some(p) = self.ready.pop_front() {
                return Ok(p);
            }
            if let Some(p) = self.pump().await? {
                return Err(ClientError::Unexpected(format!(
                    "unexpected {:?}",
                    p.packet_type()
                )));
            }
        }
    }

    /// Sends DISCONNECT (with `properties`, MQTT 5) and closes the stream.
    pub(crate) async fn disconnect(mut self, properties: Properties) -> Result<(), ClientError> {
        let mut d = Disconnect::new(ReasonCode::Success);
        d.properties = properties;
        self.send(Packet::Disconnect(d)).await?;
        let _ = self.stream.shutdown().await;
        Ok(())
    }
}
