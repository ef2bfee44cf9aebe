//! One MQTT conversation with a broker, from CONNECT to DISCONNECT.
//!
//! [`Session::connect`] sends CONNECT and waits for CONNACK; a refusal is
//! [`ClientError::Refused`] with the code the broker gave. Afterwards:
//!
//! - [`Session::publish`] sends one message and, at QoS 1 and 2, waits for
//!   its flow to finish (PUBACK, or PUBREC / PUBREL / PUBCOMP);
//! - [`Session::start_publish`] sends one and returns at once: up to
//!   [`Session::window`] QoS 1/2 messages are in flight, their flows
//!   finishing as [`Session::fill`] / [`Session::handle_buffered`] read
//!   the acknowledgements ([`Session::take_completed`] lists them);
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
//!
//! [`Session::reconnect`] starts a new connection for the same session
//! state, as libmosquitto's reconnect does: the same client id (the one
//! the broker assigned, if it did), message ids counting on, and every
//! unfinished outgoing QoS 1/2 flow resumed (PUBLISH again with DUP set,
//! or PUBREL) [MQTT-4.4.0-1].

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
    /// Outgoing QoS 1/2 messages whose flow is not finished, oldest first.
    inflight: VecDeque<Outgoing>,
    /// Flows finished since [`Session::take_completed`] last ran.
    completed: VecDeque<PublishOutcome>,
    /// How many QoS 1/2 messages may be in flight (`-M`).
    max_inflight: u16,
    /// The broker's Receive Maximum (MQTT 5), 65,535 when not given.
    receive_maximum: u16,
}

/// Where an outgoing QoS 1/2 message is in its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Sent; waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    Published,
    /// PUBREL sent; waiting for PUBCOMP.
    Released,
}

/// An outgoing QoS 1/2 message, kept until its flow finishes.
#[derive(Debug)]
struct Outgoing {
    id: PacketId,
    stage: Stage,
    publish: Publish,
}

/// What [`Session::fill`] came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filled {
    /// Bytes arrived (call [`Session::handle_buffered`]).
    Data,
    /// The keep-alive period passed (call [`Session::keep_alive_due`]).
    Timer,
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
            inflight: VecDeque::new(),
            completed: VecDeque::new(),
            max_inflight: 20,
            receive_maximum: u16::MAX,
        };
        let connack = session.handshake(connect).await?;
        Ok((session, connack))
    }

    /// Connects again over `stream` for the same session state: the
    /// client id is the one in use (assigned by the broker or not), and
    /// unfinished outgoing QoS 1/2 flows resume once CONNACK is in. QoS 2
    /// messages received but not released are forgotten when the broker
    /// did not keep the session (it will not send their PUBREL).
    pub(crate) async fn reconnect(
        &mut self,
        stream: Stream,
        mut connect: Connect,
    ) -> Result<ConnAck, ClientError> {
        self.stream = stream;
        self.decoder = Decoder::with_protocol(connect.protocol);
        self.rx.clear();
        self.aliases.clear();
        self.ping_sent = None;
        self.keep_alive = connect.keep_alive;
        if connect.client_id.is_empty() && !self.name.is_empty() {
            connect.client_id = self.name.as_str().into();
        }
        let connack = self.handshake(connect).await?;
        if !connack.session_present {
            self.awaiting_rel.clear();
        }
        // Resend what the broker has not acknowledged, in order [MQTT-4.4.0-1].
        for i in 0..self.inflight.len() {
            let (id, stage) = (self.inflight[i].id, self.inflight[i].stage);
            match stage {
                Stage::Published => {
                    let mut p = self.inflight[i].publish.clone();
                    p.dup = true;
                    self.send(Packet::Publish(p)).await?;
                }
                Stage::Released => self.send(Packet::PubRel(Ack::new(id))).await?,
            }
        }
        Ok(connack)
    }

    /// CONNECT out, CONNACK in; takes the broker's assigned client id,
    /// keep-alive and Receive Maximum.
    async fn handshake(&mut self, connect: Connect) -> Result<ConnAck, ClientError> {
        if self.name.is_empty() {
            self.name = connect.client_id.to_string();
        }
        self.send(Packet::from(connect)).await?;
        let wait = if self.keep_alive > 0 {
            Duration::from_secs(u64::from(self.keep_alive))
        } else {
            CONNACK_TIMEOUT
        };
        let first = tokio::time::timeout(wait, self.read_raw())
            .await
            .map_err(|_| ClientError::KeepAlive(self.keep_alive))??;
        let connack = match first {
            Packet::ConnAck(c) => c,
            other => {
                return Err(ClientError::Unexpected(format!(
                    "expected CONNACK, got {:?}",
                    other.packet_type()
                )))
            }
        };
        for p in connack.properties.iter() {
            match p {
                Property::AssignedClientIdentifier(id) => self.name = id.to_string(),
                Property::ServerKeepAlive(s) => self.keep_alive = *s,
                Property::ReceiveMaximum(m) => self.receive_maximum = *m,
                _ => {}
            }
        }
        self.log(Direction::Received, &Packet::ConnAck(connack.clone()));
        if connack.reason_code.is_error() {
            return Err(ClientError::Refused(connack.reason_code));
        }
        Ok(connack)
    }

    /// Sets how many QoS 1/2 messages may be in flight (at least 1).
    pub(crate) fn set_max_inflight(&mut self, n: u16) {
        self.max_inflight = n.max(1);
    }

    /// How many more QoS 1/2 messages may be sent now: `-M`, bounded by
    /// the broker's Receive Maximum [MQTT-3.3.4-7].
    pub(crate) fn window(&self) -> usize {
        usize::from(self.max_inflight.min(self.receive_maximum).max(1))
            .saturating_sub(self.inflight.len())
    }

    /// How many QoS 1/2 flows are unfinished.
    pub(crate) fn inflight(&self) -> usize {
        self.inflight.len()
    }

    /// The flows finished since the last call, in the order they finished.
    pub(crate) fn take_completed(&mut self) -> Vec<PublishOutcome> {
        self.completed.drain(..).collect()
    }

    /// The protocol version in use.
    pub(crate) fn protocol(&self) -> Protocol {
        self.protocol
    }

    fn log(&self, dir: Direction, packet: &Packet) {
        if self.debug {
            // A closed stdout (`| head`) must not end the session.
            use std::io::Write;
            let line = debug::line(&self.name, dir, packet, self.protocol);
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        }
    }

    /// Encodes and writes one packet.
    async fn send(&mut self, packet: Packet) -> Result<(), ClientError> {
        self.log(Direction::Sending, &packet);
        self.write(packet).await
    }

    /// Encodes and writes one packet without a debug line.
    async fn write(&mut self, packet: Packet) -> Result<(), ClientError> {
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
            if self.fill().await? == Filled::Timer {
                self.keep_alive_due().await?;
            }
        }
    }

    /// Waits for bytes from the broker or the keep-alive deadline,
    /// whichever is first. Reads only: safe to cancel (in `select!`).
    pub(crate) async fn fill(&mut self) -> Result<Filled, ClientError> {
        let period = Duration::from_secs(u64::from(self.keep_alive));
        let deadline = match self.ping_sent {
            _ if self.keep_alive == 0 => None,
            Some(at) => Some(at + period),
            None => Some(self.last_sent + period),
        };
        let read = self.stream.read_buf(&mut self.rx);
        let n = match deadline {
            None => read.await?,
            Some(deadline) => tokio::select! {
                n = read => n?,
                _ = tokio::time::sleep_until(deadline) => return Ok(Filled::Timer),
            },
        };
        if n == 0 {
            return Err(
                io::Error::new(io::ErrorKind::UnexpectedEof, "The connection was lost.").into(),
            );
        }
        Ok(Filled::Data)
    }

    /// After [`Filled::Timer`]: sends PINGREQ, or gives up when the
    /// broker did not answer the last one.
    pub(crate) async fn keep_alive_due(&mut self) -> Result<(), ClientError> {
        if self.ping_sent.is_some() {
            return Err(ClientError::KeepAlive(self.keep_alive));
        }
        self.send(Packet::PingReq).await?;
        self.ping_sent = Some(Instant::now());
        Ok(())
    }

    /// Deals with every whole packet read so far (after [`Filled::Data`]).
    pub(crate) async fn handle_buffered(&mut self) -> Result<(), ClientError> {
        while let Some(packet) = self.decoder.decode(&mut self.rx)? {
            if let Some(p) = self.handle(packet).await? {
                return Err(ClientError::Unexpected(format!(
                    "unexpected {:?}",
                    p.packet_type()
                )));
            }
        }
        Ok(())
    }

    /// Reads one packet and deals with what every state deals with;
    /// returns the packet for the caller when it is an acknowledgement the
    /// caller waits for (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK).
    async fn pump(&mut self) -> Result<Option<Packet>, ClientError> {
        let packet = self.read_packet().await?;
        self.handle(packet).await
    }

    /// Deals with one packet from the broker; returns SUBACK and UNSUBACK
    /// for the caller that waits for them.
    async fn handle(&mut self, packet: Packet) -> Result<Option<Packet>, ClientError> {
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
            Packet::PubAck(a) => {
                self.finish(a.packet_id, QoS::AtLeastOnce, a.reason_code);
                Ok(None)
            }
            Packet::PubRec(a) => {
                let at = self.position(a.packet_id, QoS::ExactlyOnce, Stage::Published);
                match at {
                    Some(_) if a.reason_code.is_error() => {
                        self.finish(a.packet_id, QoS::ExactlyOnce, a.reason_code)
                    }
                    Some(i) => {
                        self.inflight[i].stage = Stage::Released;
                        self.send(Packet::PubRel(Ack::new(a.packet_id))).await?;
                    }
                    // A PUBREC for a flow already released (resent after a
                    // reconnect): PUBREL again.
                    None if self
                        .position(a.packet_id, QoS::ExactlyOnce, Stage::Released)
                        .is_some() =>
                    {
                        self.send(Packet::PubRel(Ack::new(a.packet_id))).await?
                    }
                    None => {}
                }
                Ok(None)
            }
            Packet::PubComp(a) => {
                if self
                    .position(a.packet_id, QoS::ExactlyOnce, Stage::Released)
                    .is_some()
                {
                    self.finish(a.packet_id, QoS::ExactlyOnce, ReasonCode::Success);
                }
                Ok(None)
            }
            p @ (Packet::SubAck(_) | Packet::UnsubAck(_)) => Ok(Some(p)),
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

    /// The next packet id, skipping those of unfinished flows.
    fn packet_id(&mut self) -> PacketId {
        loop {
            self.next_id = self.next_id.checked_add(1).unwrap_or(1);
            let id = NonZeroU16::new(self.next_id).expect("never 0");
            if !self.inflight.iter().any(|o| o.id == id) {
                return id;
            }
        }
    }

    /// Where the flow of `id` at `qos` in `stage` is in `inflight`.
    fn position(&self, id: PacketId, qos: QoS, stage: Stage) -> Option<usize> {
        self.inflight
            .iter()
            .position(|o| o.id == id && o.publish.qos == qos && o.stage == stage)
    }

    /// Ends the flow of `id` (an acknowledgement for no flow of ours is
    /// ignored, as libmosquitto does).
    fn finish(&mut self, id: PacketId, qos: QoS, reason: ReasonCode) {
        let Some(i) = self
            .inflight
            .iter()
            .position(|o| o.id == id && o.publish.qos == qos)
        else {
            return;
        };
        self.inflight.remove(i);
        self.completed.push_back(PublishOutcome {
            mid: id.get(),
            reason,
        });
    }

    /// Sends one message and returns its message id without waiting:
    /// a QoS 1/2 message stays in flight until its flow finishes. Check
    /// [`Session::window`] first; this does not wait for room.
    pub(crate) async fn start_publish(&mut self, mut p: Publish) -> Result<u16, ClientError> {
        // Like libmosquitto, QoS 0 messages count message ids too: they
        // show in the -d line (m1, m2, ...) but not on the wire.
        let mid = self.packet_id();
        if p.qos == QoS::AtMostOnce {
            if self.debug {
                let shown = Packet::Publish(Publish {
                    packet_id: Some(mid),
                    ..p.clone()
                });
                self.log(Direction::Sending, &shown);
            }
            self.write(Packet::Publish(p)).await?;
            self.completed.push_back(PublishOutcome {
                mid: mid.get(),
                reason: ReasonCode::Success,
            });
            return Ok(mid.get());
        }
        p.packet_id = Some(mid);
        self.inflight.push_back(Outgoing {
            id: mid,
            stage: Stage::Published,
            publish: p.clone(),
        });
        self.send(Packet::Publish(p)).await?;
        Ok(mid.get())
    }

    /// Publishes one message; at QoS 1 and 2, returns once its flow is
    /// complete (or the broker answered it with an error code).
    pub(crate) async fn publish(&mut self, p: Publish) -> Result<PublishOutcome, ClientError> {
        let mid = self.start_publish(p).await?;
        loop {
            if let Some(i) = self.completed.iter().position(|o| o.mid == mid) {
                return Ok(self.completed.remove(i).expect("found"));
            }
            if let Some(other) = self.pump().await? {
                return Err(ClientError::Unexpected(format!(
                    "unexpected {:?} while publishing message {mid}",
                    other.packet_type()
                )));
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::DuplexStream;

    /// The broker's end of an in-memory connection, speaking through the codec.
    struct Peer {
        io: DuplexStream,
        decoder: Decoder,
        rx: BytesMut,
        protocol: Protocol,
    }

    impl Peer {
        async fn recv(&mut self) -> Packet {
            loop {
                if let Some(p) = self.decoder.decode(&mut self.rx).unwrap() {
                    return p;
                }
                assert!(
                    self.io.read_buf(&mut self.rx).await.unwrap() > 0,
                    "client closed"
                );
            }
        }

        async fn send(&mut self, p: Packet) {
            let mut out = BytesMut::new();
            p.encode(self.protocol, &mut out).unwrap();
            self.io.write_all(&out).await.unwrap();
        }
    }

    async fn pair(protocol: Protocol, keep_alive: u16) -> (Session, Peer) {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let mut peer = Peer {
            io: server,
            decoder: Decoder::new(),
            rx: BytesMut::new(),
            protocol,
        };
        let mut connect = Connect::new(protocol, "t");
        connect.keep_alive = keep_alive;
        let stream: Stream = Box::new(client);
        let broker = async {
            assert!(matches!(peer.recv().await, Packet::Connect(_)));
            peer.send(Packet::ConnAck(ConnAck::new(ReasonCode::Success, false)))
                .await;
        };
        let (session, ()) = tokio::join!(Session::connect(stream, connect, false), broker);
        (session.unwrap().0, peer)
    }

    /// Idle for the keep-alive period, the client sends PINGREQ
    /// [MQTT-3.1.2-23] and keeps waiting after the PINGRESP.
    #[tokio::test]
    async fn idle_client_pings() {
        let (mut session, mut peer) = pair(Protocol::V3_1_1, 1).await;
        let broker = async {
            let started = Instant::now();
            assert_eq!(peer.recv().await, Packet::PingReq);
            assert!(started.elapsed() >= Duration::from_millis(900));
            peer.send(Packet::PingResp).await;
            peer.send(Packet::Publish(Publish::new("a", "after ping")))
                .await;
        };
        let (msg, ()) = tokio::join!(session.next_message(), broker);
        assert_eq!(&msg.unwrap().payload[..], b"after ping");
    }

    /// A QoS 2 message is acknowledged with PUBREC, delivered once on PUBREL
    /// even when re-sent with DUP before it [MQTT-4.3.3-9], and completed
    /// with PUBCOMP.
    #[tokio::test]
    async fn qos2_is_delivered_once_on_pubrel() {
        let (mut session, mut peer) = pair(Protocol::V5, 60).await;
        let id = PacketId::new(9).unwrap();
        let broker = async {
            let mut p = Publish::new("q2", "once");
            p.qos = QoS::ExactlyOnce;
            p.packet_id = Some(id);
            peer.send(Packet::Publish(p.clone())).await;
            assert_eq!(peer.recv().await, Packet::PubRec(Ack::new(id)));
            p.dup = true;
            peer.send(Packet::Publish(p)).await;
            assert_eq!(peer.recv().await, Packet::PubRec(Ack::new(id)));
            peer.send(Packet::PubRel(Ack::new(id))).await;
            assert_eq!(peer.recv().await, Packet::PubComp(Ack::new(id)));
            peer.send(Packet::Publish(Publish::new("q0", "next"))).await;
        };
        let get_two = async {
            let a = session.next_message().await.unwrap();
            let b = session.next_message().await.unwrap();
            (a, b)
        };
        let ((a, b), ()) = tokio::join!(get_two, broker);
        assert_eq!((&*a.topic, &*b.topic), ("q2", "q0"));
    }

    /// A broker's DISCONNECT ends the session with its reason code.
    #[tokio::test]
    async fn broker_disconnect_is_reported() {
        let (mut session, mut peer) = pair(Protocol::V5, 60).await;
        peer.send(Packet::Disconnect(Disconnect::new(
            ReasonCode::SessionTakenOver,
        )))
        .await;
        match session.next_message().await {
            Err(ClientError::Disconnected(ReasonCode::SessionTakenOver, None)) => {}
            other => panic!("{other:?}"),
        }
    }

    /// After a lost connection, the session reconnects with the id the
    /// broker assigned and resumes its unfinished flows in order: the
    /// unacknowledged QoS 1 PUBLISH again with DUP set, the QoS 2 flow at
    /// its PUBREL [MQTT-4.4.0-1]; the window counts them until PUBACK and
    /// PUBCOMP arrive.
    #[tokio::test]
    async fn reconnect_resumes_unfinished_flows() {
        let (mut session, mut peer) = pair(Protocol::V5, 60).await;
        session.set_max_inflight(2);
        let mut q1 = Publish::new("a", "one");
        q1.qos = QoS::AtLeastOnce;
        let mut q2 = Publish::new("a", "two");
        q2.qos = QoS::ExactlyOnce;
        assert_eq!(session.start_publish(q1).await.unwrap(), 1);
        assert_eq!(session.start_publish(q2).await.unwrap(), 2);
        assert_eq!(session.window(), 0);
        assert!(matches!(peer.recv().await, Packet::Publish(p) if !p.dup));
        assert!(matches!(peer.recv().await, Packet::Publish(_)));
        peer.send(Packet::PubRec(Ack::new(PacketId::new(2).unwrap())))
            .await;
        assert_eq!(session.fill().await.unwrap(), Filled::Data);
        session.handle_buffered().await.unwrap();
        assert!(matches!(peer.recv().await, Packet::PubRel(_)));
        drop(peer);

        let (client, server) = tokio::io::duplex(64 * 1024);
        let mut peer = Peer {
            io: server,
            decoder: Decoder::new(),
            rx: BytesMut::new(),
            protocol: Protocol::V5,
        };
        session.name = "assigned".into();
        let broker = async {
            match peer.recv().await {
                Packet::Connect(c) => assert_eq!(&*c.client_id, "assigned"),
                other => panic!("{other:?}"),
            }
            peer.send(Packet::ConnAck(ConnAck::new(ReasonCode::Success, true)))
                .await;
            match peer.recv().await {
                Packet::Publish(p) => assert!(p.dup && &p.payload[..] == b"one"),
                other => panic!("{other:?}"),
            }
            assert_eq!(
                peer.recv().await,
                Packet::PubRel(Ack::new(PacketId::new(2).unwrap()))
            );
            peer.send(Packet::PubAck(Ack::new(PacketId::new(1).unwrap())))
                .await;
            peer.send(Packet::PubComp(Ack::new(PacketId::new(2).unwrap())))
                .await;
        };
        let connect = Connect::new(Protocol::V5, "");
        let (connack, ()) = tokio::join!(session.reconnect(Box::new(client), connect), broker);
        assert!(connack.unwrap().session_present);
        while session.inflight() > 0 {
            session.fill().await.unwrap();
            session.handle_buffered().await.unwrap();
        }
        let done: Vec<u16> = session.take_completed().iter().map(|o| o.mid).collect();
        assert_eq!(done, [1, 2]);
        assert_eq!(session.window(), 2);
    }
}
