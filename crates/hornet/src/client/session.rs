//! One MQTT conversation with a broker, from CONNECT to DISCONNECT: the
//! socket side of `hornet pub` / `hornet sub`. The conversation itself —
//! packet ids, the inflight window, resend after a reconnect, the QoS 1
//! and 2 flows in both directions, keep-alive — is `hornet-client`'s
//! sans-IO [`hornet_client::Session`], the same one Hornet's bridges run;
//! this file only moves its packets over the [`Stream`], on tokio's clock,
//! and prints the `-d` lines.
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

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use bytes::BytesMut;
use hornet_client::{Event, Options};
use hornet_codec::{
    ConnAck, Connect, DecodeError, Decoder, Disconnect, Packet, Properties, Property, Protocol,
    Publish, QoS, ReasonCode, SubAck, UnsubAck,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

impl From<hornet_client::ClientError> for ClientError {
    fn from(e: hornet_client::ClientError) -> Self {
        use hornet_client::ClientError as E;
        match e {
            E::Refused(code) => ClientError::Refused(code),
            E::Disconnected(code) => ClientError::Disconnected(code, None),
            E::Timeout(secs) => ClientError::KeepAlive(secs),
            E::BeforeConnAck(t) => ClientError::Unexpected(format!("expected CONNACK, got {t:?}")),
            E::Unexpected(t) => {
                ClientError::Unexpected(format!("unexpected {t:?} from the broker"))
            }
            other => ClientError::Unexpected(other.to_string()),
        }
    }
}

impl From<hornet_client::PublishError> for ClientError {
    fn from(e: hornet_client::PublishError) -> Self {
        ClientError::Unexpected(e.to_string())
    }
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
    core: hornet_client::Session,
    decoder: Decoder,
    rx: BytesMut,
    tx: BytesMut,
    /// The client id, as shown in debug lines (empty until assigned).
    name: String,
    debug: bool,
    /// Message ids of QoS 0 messages handed to the core and not yet
    /// written: their `-d` line shows it, the wire does not.
    qos0_mids: VecDeque<u16>,
    /// Messages ready for [`Session::next_message`].
    ready: VecDeque<Publish>,
    /// SUBACK / UNSUBACK for the call waiting for them.
    acks: VecDeque<Packet>,
    /// Flows finished since [`Session::take_completed`] last ran.
    completed: VecDeque<PublishOutcome>,
}

/// What [`Session::fill`] came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filled {
    /// Bytes arrived (call [`Session::handle_buffered`]).
    Data,
    /// The keep-alive period passed (call [`Session::keep_alive_due`]).
    Timer,
}

/// The core's clock: tokio's (paused in tests that pause it).
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

impl Session {
    /// Sends `connect` over `stream` and waits for CONNACK.
    pub(crate) async fn connect(
        stream: Stream,
        connect: Connect,
        debug: bool,
    ) -> Result<(Session, ConnAck), ClientError> {
        let mut options = Options::new(connect.protocol, connect.client_id.clone());
        // mosquitto_pub / mosquitto_sub's ways: QoS 2 handed on at PUBREL,
        // messages sent as given (the broker judges them), no topic
        // aliases of our own, at most 20 in flight until `-M` says.
        options.qos2_on_release = true;
        options.server_limits = false;
        options.topic_aliases = false;
        options.connack_timeout = CONNACK_TIMEOUT;
        let mut session = Session {
            stream,
            core: hornet_client::Session::new(options),
            decoder: Decoder::with_protocol(connect.protocol),
            rx: BytesMut::with_capacity(4096),
            tx: BytesMut::new(),
            name: connect.client_id.to_string(),
            debug,
            qos0_mids: VecDeque::new(),
            ready: VecDeque::new(),
            acks: VecDeque::new(),
            completed: VecDeque::new(),
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
        self.core.connection_lost();
        self.qos0_mids.clear();
        if connect.client_id.is_empty() && !self.name.is_empty() {
            connect.client_id = self.name.as_str().into();
        }
        self.handshake(connect).await
    }

    /// CONNECT out, CONNACK in; takes the broker's assigned client id.
    /// The core takes its keep-alive and limits, and resends what the
    /// broker has not acknowledged, in order [MQTT-4.4.0-1].
    async fn handshake(&mut self, connect: Connect) -> Result<ConnAck, ClientError> {
        if self.name.is_empty() {
            self.name = connect.client_id.to_string();
        }
        self.decoder = Decoder::with_protocol(connect.protocol);
        self.rx.clear();
        self.core.connect_with(now(), connect);
        self.flush().await?;
        let first = loop {
            if let Some(packet) = self.decoder.decode(&mut self.rx)? {
                break packet;
            }
            if self.fill().await? == Filled::Timer {
                self.core.tick(now())?;
            }
        };
        let connack = match first {
            Packet::ConnAck(c) => c,
            other => {
                self.core.connection_lost();
                return Err(ClientError::Unexpected(format!(
                    "expected CONNACK, got {:?}",
                    other.packet_type()
                )));
            }
        };
        for p in connack.properties.iter() {
            if let Property::AssignedClientIdentifier(id) = p {
                self.name = id.to_string();
            }
        }
        self.log(Direction::Received, &Packet::ConnAck(connack.clone()));
        self.core.handle(Packet::ConnAck(connack.clone()))?;
        self.drain_events();
        self.flush().await?;
        Ok(connack)
    }

    /// Sets how many QoS 1/2 messages may be in flight (at least 1).
    pub(crate) fn set_max_inflight(&mut self, n: u16) {
        self.core.set_max_inflight(n);
    }

    /// How many more QoS 1/2 messages may be sent now: `-M`, bounded by
    /// the broker's Receive Maximum [MQTT-3.3.4-7].
    pub(crate) fn window(&self) -> usize {
        self.core.window().saturating_sub(self.core.inflight_len())
    }

    /// How many QoS 1/2 flows are unfinished.
    pub(crate) fn inflight(&self) -> usize {
        self.core.inflight_len()
    }

    /// The flows finished since the last call, in the order they finished.
    pub(crate) fn take_completed(&mut self) -> Vec<PublishOutcome> {
        self.completed.drain(..).collect()
    }

    /// The protocol version in use.
    pub(crate) fn protocol(&self) -> Protocol {
        self.core.protocol()
    }

    fn log(&self, dir: Direction, packet: &Packet) {
        if self.debug {
            // A closed stdout (`| head`) must not end the session.
            use std::io::Write;
            let line = debug::line(&self.name, dir, packet, self.protocol());
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        }
    }

    /// Writes everything the core has to send, with its `-d` lines.
    async fn flush(&mut self) -> Result<(), ClientError> {
        let now = now();
        let protocol = self.protocol();
        self.tx.clear();
        while let Some(packet) = self.core.poll_transmit(now) {
            match &packet {
                // Like libmosquitto, QoS 0 messages count message ids
                // too: they show in the -d line (m1, m2, ...) but not on
                // the wire.
                Packet::Publish(p) if p.qos == QoS::AtMostOnce => {
                    let mid = self.qos0_mids.pop_front();
                    if self.debug {
                        let shown = Packet::Publish(Publish {
                            packet_id: mid.and_then(hornet_codec::PacketId::new),
                            ..p.clone()
                        });
                        self.log(Direction::Sending, &shown);
                    }
                }
                other => self.log(Direction::Sending, other),
            }
            packet.encode(protocol, &mut self.tx).map_err(|e| {
                ClientError::Unexpected(format!("cannot encode {:?}: {e}", packet.packet_type()))
            })?;
        }
        if !self.tx.is_empty() {
            self.stream.write_all(&self.tx).await?;
            self.stream.flush().await?;
        }
        Ok(())
    }

    /// Takes what the core has to say: messages, finished flows, acks.
    fn drain_events(&mut self) {
        while let Some(event) = self.core.poll_event() {
            match event {
                Event::Connected { .. } => {}
                Event::Message(p) => self.ready.push_back(p),
                // A PUBCOMP's "Packet identifier not found" (or a broker
                // that lost the session past PUBREC) still ends the flow
                // with the message delivered: not a refusal.
                Event::Delivered { packet_id, reason } => {
                    self.completed.push_back(PublishOutcome {
                        mid: packet_id.get(),
                        reason: if reason == ReasonCode::PacketIdentifierNotFound {
                            ReasonCode::Success
                        } else {
                            reason
                        },
                    })
                }
                Event::Dropped { packet_id, .. } => self.completed.push_back(PublishOutcome {
                    mid: packet_id.map_or(0, |id| id.get()),
                    reason: ReasonCode::UnspecifiedError,
                }),
                Event::SubAck(s) => self.acks.push_back(Packet::SubAck(s)),
                Event::UnsubAck(u) => self.acks.push_back(Packet::UnsubAck(u)),
                // Only with `manual_qos2` (a bridge keeping QoS 2 state in
                // its broker's store); the CLI lets the session answer.
                Event::Received { .. } | Event::Release { .. } => {}
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

    /// Waits for bytes from the broker or the core's next deadline
    /// (PINGREQ or a keep-alive timeout), whichever is first. Reads only:
    /// safe to cancel (in `select!`).
    pub(crate) async fn fill(&mut self) -> Result<Filled, ClientError> {
        let deadline = self.core.next_deadline();
        let read = self.stream.read_buf(&mut self.rx);
        let n = match deadline {
            None => read.await?,
            Some(deadline) => tokio::select! {
                n = read => n?,
                _ = tokio::time::sleep_until(deadline.into()) => return Ok(Filled::Timer),
            },
        };
        if n == 0 {
            self.core.connection_lost();
            return Err(
                io::Error::new(io::ErrorKind::UnexpectedEof, "The connection was lost.").into(),
            );
        }
        Ok(Filled::Data)
    }

    /// After [`Filled::Timer`]: sends PINGREQ, or gives up when the
    /// broker did not answer the last one.
    pub(crate) async fn keep_alive_due(&mut self) -> Result<(), ClientError> {
        self.core.tick(now())?;
        self.flush().await
    }

    /// Deals with every whole packet read so far (after [`Filled::Data`]).
    pub(crate) async fn handle_buffered(&mut self) -> Result<(), ClientError> {
        while let Some(packet) = self.decoder.decode(&mut self.rx)? {
            self.handle(packet).await?;
            if let Some(p) = self.acks.pop_front() {
                return Err(ClientError::Unexpected(format!(
                    "unexpected {:?}",
                    p.packet_type()
                )));
            }
        }
        Ok(())
    }

    /// Reads one packet and deals with it.
    async fn pump(&mut self) -> Result<(), ClientError> {
        let packet = self.read_packet().await?;
        self.handle(packet).await
    }

    /// Hands one packet from the broker to the core and writes its answer.
    async fn handle(&mut self, packet: Packet) -> Result<(), ClientError> {
        self.log(Direction::Received, &packet);
        match packet {
            // Not for a client, but harmless: libmosquitto ignores it too.
            Packet::PingReq => return Ok(()),
            Packet::Disconnect(d) => {
                self.core.connection_lost();
                let reason = d.properties.iter().find_map(|p| match p {
                    Property::ReasonString(s) => Some(s.to_string()),
                    _ => None,
                });
                return Err(ClientError::Disconnected(d.reason_code, reason));
            }
            other => self.core.handle(other)?,
        }
        self.drain_events();
        self.flush().await
    }

    /// Sends one message and returns its message id without waiting:
    /// a QoS 1/2 message stays in flight until its flow finishes. Check
    /// [`Session::window`] first; this does not wait for room.
    pub(crate) async fn start_publish(&mut self, p: Publish) -> Result<u16, ClientError> {
        if p.qos == QoS::AtMostOnce {
            let mid = self
                .core
                .skip_id()
                .ok_or(hornet_client::PublishError::NoPacketId)?
                .get();
            self.qos0_mids.push_back(mid);
            self.core.publish(p)?;
            self.drain_events();
            self.flush().await?;
            self.completed.push_back(PublishOutcome {
                mid,
                reason: ReasonCode::Success,
            });
            return Ok(mid);
        }
        let id = self
            .core
            .publish(p)?
            .ok_or(hornet_client::PublishError::NoPacketId)?;
        self.drain_events();
        self.flush().await?;
        Ok(id.get())
    }

    /// Publishes one message; at QoS 1 and 2, returns once its flow is
    /// complete (or the broker answered it with an error code).
    pub(crate) async fn publish(&mut self, p: Publish) -> Result<PublishOutcome, ClientError> {
        let mid = self.start_publish(p).await?;
        loop {
            if let Some(i) = self.completed.iter().position(|o| o.mid == mid) {
                return Ok(self.completed.remove(i).expect("found"));
            }
            self.pump().await?;
            if let Some(other) = self.acks.pop_front() {
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
        let id = self.core.subscribe_with(filters, properties)?;
        self.flush().await?;
        loop {
            match self.acks.pop_front() {
                Some(Packet::SubAck(s)) if s.packet_id == id => return Ok(s),
                Some(other) => {
                    return Err(ClientError::Unexpected(format!(
                        "unexpected {:?} while subscribing",
                        other.packet_type()
                    )))
                }
                None => self.pump().await?,
            }
        }
    }

    /// Unsubscribes from `filters` and returns the UNSUBACK.
    pub(crate) async fn unsubscribe(
        &mut self,
        filters: Vec<hornet_codec::ByteString>,
        properties: Properties,
    ) -> Result<UnsubAck, ClientError> {
        let id = self.core.unsubscribe_with(filters, properties)?;
        self.flush().await?;
        loop {
            match self.acks.pop_front() {
                Some(Packet::UnsubAck(s)) if s.packet_id == id => return Ok(s),
                Some(other) => {
                    return Err(ClientError::Unexpected(format!(
                        "unexpected {:?} while unsubscribing",
                        other.packet_type()
                    )))
                }
                None => self.pump().await?,
            }
        }
    }

    /// The next message from the broker (acknowledged as its QoS asks).
    pub(crate) async fn next_message(&mut self) -> Result<Publish, ClientError> {
        loop {
            if let Some(p) = self.ready.pop_front() {
                return Ok(p);
            }
            if let Some(p) = self.acks.pop_front() {
                return Err(ClientError::Unexpected(format!(
                    "unexpected {:?}",
                    p.packet_type()
                )));
            }
            self.pump().await?;
        }
    }

    /// Sends DISCONNECT (with `properties`, MQTT 5) and closes the stream.
    pub(crate) async fn disconnect(mut self, properties: Properties) -> Result<(), ClientError> {
        let mut d = Disconnect::new(ReasonCode::Success);
        d.properties = properties;
        self.core.disconnect_with(d);
        self.flush().await?;
        let _ = self.stream.shutdown().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hornet_codec::{Ack, PacketId};
    use tokio::io::DuplexStream;
    use tokio::time::Instant;

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
