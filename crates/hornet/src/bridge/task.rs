//! One bridge's task: connect to the remote (each address in turn),
//! drive the client session over the socket, carry messages between it and
//! the local side, publish the notifications, and after any failure wait
//! `restart_timeout` (backing off to its cap) before the next attempt:
//! a refusing, closing or misbehaving remote costs a log line and a wait,
//! never a hot loop. When to connect and to stop otherwise (the stop
//! signal of a reload, `start_type`, `round_robin false`) is asked of
//! `lifecycle.rs`; a stop or a planned disconnection publishes `0` on the
//! remote and sends DISCONNECT.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use hornet_client::{Event, Options, Session, State};
use hornet_codec::{
    Decoder, LastWill, Protocol, Publish, QoS, SubscribeFilter, SubscriptionOptions,
    MAX_PACKET_SIZE,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use super::lifecycle::{self, PrimaryWatch, Stop};
use super::link;
use super::local::{notification, FromLocal, Local};
use super::relay::Relay;
use super::stats::BridgeStatus;
use crate::config::bridge::BridgeProtocol;
use crate::config::Bridge;
use crate::server::Shared;

/// How long the local side waits before reconnecting after the core
/// closed or refused it.
const LOCAL_RETRY: Duration = Duration::from_secs(1);

/// How often a lazy bridge looks at its queue besides being told of
/// each message.
const LAZY_LOOK: Duration = Duration::from_millis(500);

/// How long a planned disconnection may take to write its last packets.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// The client options a bridge asks for.
fn options(bridge: &Bridge) -> Options {
    let protocol = match bridge.protocol {
        BridgeProtocol::V31 => Protocol::V3_1,
        BridgeProtocol::V311 => Protocol::V3_1_1,
        BridgeProtocol::V5 => Protocol::V5,
    };
    let mut o = Options::new(protocol, bridge.remote_client_id());
    o.clean_start = bridge.clean_session;
    o.keep_alive = bridge.keepalive;
    o.username = bridge.remote_username.clone().map(Into::into);
    o.password = bridge
        .remote_password
        .clone()
        .map(|p| bytes::Bytes::from(p.into_bytes()));
    // The bridge bit on the protocol level is a 3.x convention: Mosquitto
    // 2.0 refuses a CONNECT with level 0x85, and MQTT 5 says the same with
    // No Local and Retain As Published on each subscription.
    o.bridge = bridge.try_private && !protocol.is_v5();
    o.max_inflight = u16::MAX;
    // What comes in is acknowledged to the remote once the local broker
    // has it (stored, with persistence), not when it reaches the bridge.
    o.manual_ack = true;
    // The QoS 2 state is the local broker's, in its store (`relay.rs`).
    o.manual_qos2 = true;
    if !bridge.clean_session {
        o.session_expiry = u32::MAX;
    }
    if bridge.max_packet_size > 0 {
        o.max_packet_size = Some(bridge.max_packet_size);
    }
    if bridge.notifications && !bridge.notifications_local_only {
        let n = notification(&bridge.notification_topic(), false);
        o.will = Some(LastWill {
            topic: n.topic,
            payload: n.payload,
            qos: n.qos,
            retain: true,
            properties: Default::default(),
        });
    }
    o
}

/// Why a connection ended.
enum End {
    /// Before CONNACK: try the next address.
    Early(String),
    /// After CONNACK.
    Lost(String),
    /// Asked to stop (reload, server): disconnected cleanly.
    Stopped,
    /// A lazy bridge with nothing to send for `idle_timeout`.
    Idle,
    /// `round_robin false`: the main address is back.
    Primary,
}

struct Run {
    bridge: Bridge,
    status: Arc<BridgeStatus>,
    shared: Arc<Shared>,
    local: Local,
    local_retry: Option<Instant>,
    session: Session,
    /// The QoS 1/2 flows between the two sides.
    relay: Relay,
    /// The state last published locally.
    notified: Option<bool>,
    /// A CONNACK was received before (the next one is a reconnection).
    connected_before: bool,
    /// Asked to stop by a reload or the server.
    stop: Stop,
    /// Told when a message is handed to the session (a lazy bridge waits
    /// for its threshold on it).
    wake: Arc<Notify>,
    /// The last message handed to the session, or the CONNACK (what a
    /// lazy bridge's idle time counts from).
    last_out: Instant,
    /// Connected to another address than the main one (`round_robin
    /// false`): the watch on the main one.
    primary: Option<PrimaryWatch>,
    /// The local side was closed (a `once` bridge that ended).
    local_closed: bool,
}

/// Runs one bridge until the server stops.
pub(crate) async fn run(
    shared: Arc<Shared>,
    bridge: Bridge,
    status: Arc<BridgeStatus>,
    stop: Stop,
) {
    let local = Local::open(shared.clone(), &bridge);
    let session = Session::new(options(&bridge));
    let mut run = Run {
        bridge,
        status,
        shared,
        local,
        local_retry: None,
        session,
        relay: Relay::default(),
        notified: None,
        connected_before: false,
        stop,
        wake: Arc::new(Notify::new()),
        last_out: Instant::now(),
        primary: None,
        local_closed: false,
    };
    let _stopped = run.lifetime().await;
    if !run.local_closed {
        run.local.close();
    }
    tracing::info!("Bridge {} stopped.", run.bridge.name);
}

impl Run {
    /// Connects, serves and reconnects until asked to stop (`None`).
    async fn lifetime(&mut self) -> Option<()> {
        let name = self.bridge.name.clone();
        let mut attempt: u32 = 0;
        let mut index = 0;
        let count = self.bridge.addresses.len();
        loop {
            // A lazy bridge waits for its threshold of queued messages.
            while !lifecycle::wants_connection(&self.bridge, self.queued()) {
                // Told at each message; looked at again every LAZY_LOOK for
                // those waiting beyond the local inflight window.
                let wake = self.wake.clone();
                let look = tokio::time::timeout(LAZY_LOOK, wake.notified());
                let _ = self.serving(look).await?;
            }
            let (host, port) = self.bridge.addresses[index % count].clone();
            tracing::info!("Connecting bridge {name} ({host}:{port})");
            self.status.set_address(format!("{host}:{port}"));
            let bridge = self.bridge.clone();
            let end = match self.serving(link::connect(&bridge, &host, port)).await? {
                Ok(stream) => {
                    if !self.bridge.round_robin && index % count != 0 {
                        let (main, main_port) = self.bridge.addresses[0].clone();
                        let every = lifecycle::primary_interval(&self.bridge);
                        self.primary = Some(PrimaryWatch::start(main, main_port, every));
                    }
                    let started = Instant::now();
                    let end = self.connected(stream).await;
                    self.primary = None;
                    if matches!(end, End::Lost(_)) {
                        // A connection that lasted resets the backoff.
                        let cap = self.bridge.restart_cap.unwrap_or(self.bridge.restart_base);
                        if started.elapsed() >= Duration::from_secs(cap.max(1)) {
                            attempt = 0;
                        }
                    }
                    end
                }
                Err(e) => End::Early(format!("cannot connect: {e}")),
            };
            self.session.connection_lost();
            self.status.set_connected(false);
            self.notify_local(false);
            let (why, early) = match end {
                End::Early(why) => (why, true),
                End::Lost(why) => (why, false),
                End::Stopped => return None,
                End::Idle => {
                    tracing::info!(
                        "Bridge {name} ({host}:{port}) idle for {} s: disconnected until {} \
                         messages wait (start_type lazy).",
                        self.bridge.idle_timeout,
                        self.bridge.threshold
                    );
                    attempt = 0;
                    continue;
                }
                End::Primary => {
                    let (main, main_port) = &self.bridge.addresses[0];
                    tracing::info!(
                        "Bridge {name}: the main address {main}:{main_port} is back; leaving \
                         {host}:{port} for it (round_robin false)."
                    );
                    index = 0;
                    attempt = 0;
                    continue;
                }
            };
            self.status.set_error(why.clone());
            if early {
                index += 1;
            }
            if !lifecycle::reconnects(&self.bridge) {
                if early && index < count {
                    // `once`: each address is tried once, in turn.
                    tracing::warn!(
                        "Bridge {name} ({host}:{port}): {why}; trying the next address."
                    );
                    continue;
                }
                tracing::warn!(
                    "Bridge {name} ({host}:{port}): {why}; not reconnecting (start_type once)."
                );
                self.local.close();
                self.local_closed = true;
                self.stop.requested().await;
                return None;
            }
            let delay = self.bridge.restart_delay(attempt);
            attempt = attempt.saturating_add(1);
            tracing::warn!(
                "Bridge {name} ({host}:{port}): {why}; reconnecting in {} s.",
                delay.as_secs()
            );
            self.serving(tokio::time::sleep(delay)).await?;
        }
    }

    /// Messages waiting for the remote (sent and unacknowledged, or not
    /// sent yet): what a lazy bridge's `threshold` counts.
    fn queued(&self) -> usize {
        // Beyond the local inflight window, they wait in the local session.
        let id = self.bridge.local_client_id();
        let local = self
            .shared
            .read_core(|core| core.queue_state(&id).map_or(0, |q| q.queued));
        self.session.inflight_len()
            + self.session.queued_qos0()
            + self.relay.deferred_publishes()
            + local
    }

    /// Awaits `fut` while answering the local side; `None` when asked to
    /// stop meanwhile.
    async fn serving<F: Future>(&mut self, fut: F) -> Option<F::Output> {
        tokio::pin!(fut);
        loop {
            let retry = self.local_retry;
            tokio::select! {
                out = &mut fut => return Some(out),
                () = self.stop.requested() => return None,
                () = self.local.wait() => self.serve_local(),
                () = sleep_until(retry) => self.reopen_local(),
            }
        }
    }

    fn reopen_local(&mut self) {
        self.local_retry = None;
        let fresh = Local::open(self.shared.clone(), &self.bridge);
        let old = std::mem::replace(&mut self.local, fresh);
        old.close();
        self.serve_local();
    }

    /// What the local side emitted.
    fn serve_local(&mut self) {
        for event in self.local.poll() {
            match event {
                FromLocal::Up => {
                    self.relay.local_up(&self.local);
                    self.notified = None;
                    let up = self.status.snapshot().connected;
                    self.notify_local(up);
                }
                FromLocal::Down(why) => {
                    tracing::warn!(
                        "Bridge {}: {why}; its local side reconnects in {} s.",
                        self.bridge.name,
                        LOCAL_RETRY.as_secs()
                    );
                    self.local_retry = Some(Instant::now() + LOCAL_RETRY);
                }
                FromLocal::Message(p) => self.forward(p),
                FromLocal::Stored((id, qos)) => self.session.acknowledge(id, qos),
                FromLocal::Release(id) => {
                    self.relay.local_pubrel(&mut self.session, &self.local, id)
                }
                FromLocal::Completed(id) => self.relay.local_pubcomp(&mut self.session, id),
            }
        }
        if self.local.closed() && self.local_retry.is_none() {
            self.local_retry = Some(Instant::now() + LOCAL_RETRY);
        }
    }

    /// A local message for the remote.
    fn forward(&mut self, p: Publish) {
        let topic = self.bridge.topics.iter().find_map(|t| t.map_out(&p.topic));
        let Some(topic) = topic.filter(|t| hornet_codec::topic::validate_name(t).is_ok()) else {
            tracing::debug!("Bridge {}: no mapping for '{}'", self.bridge.name, p.topic);
            BridgeStatus::count(&self.status.dropped);
            if let Some(id) = p.packet_id {
                self.relay.settle(&self.local, id, p.qos);
            }
            return;
        };
        let mut out = Publish::new(topic, p.payload);
        out.qos = p.qos;
        out.packet_id = p.packet_id;
        out.dup = p.dup;
        out.retain = p.retain && self.bridge.outgoing_retain;
        out.properties = p.properties;
        self.last_out = Instant::now();
        self.wake.notify_one();
        self.relay
            .forward(&mut self.session, &self.local, &self.status, out);
    }

    /// The state, retained, on the local broker (once per change).
    fn notify_local(&mut self, up: bool) {
        if !self.bridge.notifications || self.notified == Some(up) || !self.local.is_up() {
            return;
        }
        self.notified = Some(up);
        self.local
            .publish(notification(&self.bridge.notification_topic(), up), None);
    }

    /// Serves one TCP connection until it ends.
    async fn connected(&mut self, mut stream: crate::client::transport::Stream) -> End {
        let protocol = self.session.protocol();
        let name = self.bridge.name.clone();
        let mut decoder = Decoder::with_protocol(protocol);
        decoder.set_max_packet_size(if self.bridge.max_packet_size > 0 {
            self.bridge.max_packet_size as usize
        } else {
            MAX_PACKET_SIZE
        });
        let mut rbuf = BytesMut::with_capacity(8192);
        let mut wbuf = BytesMut::new();
        let mut acked = false;
        self.session.connect(Instant::now());
        loop {
            if let Some(end) = self.events(&mut acked) {
                return end;
            }
            let now = Instant::now();
            while let Some(packet) = self.session.poll_transmit(now) {
                link::encode(&name, &packet, protocol, &mut wbuf);
            }
            if !wbuf.is_empty() {
                if let Err(e) = stream.write_all(&wbuf).await {
                    return self.ended(acked, format!("write failed: {e}"));
                }
                wbuf.clear();
            }
            let deadline = self.session.next_deadline();
            let retry = self.local_retry;
            let idle = match acked {
                true => lifecycle::idle_deadline(&self.bridge, self.last_out),
                false => None,
            };
            tokio::select! {
                () = self.stop.requested() => return self.close(&mut stream, End::Stopped).await,
                () = lifecycle::primary_back(&mut self.primary) => {
                    return self.close(&mut stream, End::Primary).await;
                }
                () = sleep_until(idle) => {
                    if self.queued() == 0 {
                        return self.close(&mut stream, End::Idle).await;
                    }
                    self.last_out = Instant::now();
                }
                read = stream.read_buf(&mut rbuf) => match read {
                    Ok(0) => return self.ended(acked, "the remote closed the connection".into()),
                    Err(e) => return self.ended(acked, format!("read failed: {e}")),
                    Ok(_) => loop {
                        match decoder.decode(&mut rbuf) {
                            Ok(Some(packet)) => {
                                if let Err(e) = self.session.handle(packet) {
                                    self.events(&mut acked);
                                    return self.ended(acked, e.to_string());
                                }
                            }
                            Ok(None) => break,
                            Err(e) => {
                                return self.ended(acked, format!("the remote sent a bad packet: {e}"));
                            }
                        }
                    },
                },
                () = self.local.wait() => self.serve_local(),
                () = sleep_until(retry) => self.reopen_local(),
                () = sleep_until(deadline) => {
                    if let Err(e) = self.session.tick(Instant::now()) {
                        return self.ended(acked, e.to_string());
                    }
                }
            }
        }
    }

    /// Ends the connection on purpose: once connected, `0` on the remote
    /// (the will is not sent after a DISCONNECT) and DISCONNECT, written
    /// within [`CLOSE_WAIT`]; before CONNACK, the socket is just closed.
    async fn close(&mut self, stream: &mut crate::client::transport::Stream, end: End) -> End {
        let b = &self.bridge;
        if self.session.state() == State::Connected {
            if b.notifications && !b.notifications_local_only {
                let mut n = notification(&b.notification_topic(), false);
                n.qos = QoS::AtMostOnce;
                let _ = self.session.publish(n);
            }
            self.session.disconnect();
        }
        let protocol = self.session.protocol();
        let mut wbuf = BytesMut::new();
        while let Some(packet) = self.session.poll_transmit(Instant::now()) {
            link::encode(&self.bridge.name, &packet, protocol, &mut wbuf);
        }
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            stream.write_all(&wbuf).await?;
            stream.shutdown().await
        })
        .await;
        end
    }

    fn ended(&self, acked: bool, why: String) -> End {
        if acked {
            End::Lost(why)
        } else {
            End::Early(why)
        }
    }

    /// Acts on the session's events; `Some` when the connection must end.
    fn events(&mut self, acked: &mut bool) -> Option<End> {
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Connected { session_present } => {
                    *acked = true;
                    self.on_connack(session_present);
                }
                Event::Message(p) => self.incoming(p),
                Event::Delivered { packet_id, reason } => {
                    self.relay
                        .delivered(&self.local, &self.status, packet_id, Some(reason));
                }
                Event::Received { packet_id } => self.relay.received(&self.local, packet_id),
                Event::Release { packet_id } => self.relay.remote_pubrel(&self.local, packet_id),
                Event::Dropped { packet_id, error } => {
                    tracing::warn!("Bridge {}: dropping a message: {error}", self.bridge.name);
                    match packet_id {
                        Some(id) => self.relay.delivered(&self.local, &self.status, id, None),
                        None => BridgeStatus::count(&self.status.dropped),
                    }
                }
                Event::SubAck(s) => {
                    for code in s.reason_codes.iter().filter(|c| c.is_error()) {
                        tracing::warn!(
                            "Bridge {}: the remote refused a subscription: {}",
                            self.bridge.name,
                            code.name()
                        );
                    }
                }
                Event::UnsubAck(_) => {}
            }
        }
        // Identifiers the remote session used may be free now.
        self.relay
            .retry(&mut self.session, &self.local, &self.status);
        None
    }

    fn on_connack(&mut self, session_present: bool) {
        let b = &self.bridge;
        tracing::info!(
            "Bridge {} connected to {} (session present: {session_present})",
            b.name,
            self.status.snapshot().address
        );
        self.status.set_connected(true);
        self.last_out = Instant::now();
        if std::mem::replace(&mut self.connected_before, true) {
            BridgeStatus::count(&self.status.reconnects);
        }
        let v5 = self.session.protocol().is_v5();
        if b.attempt_unsubscribe {
            let out_only: Vec<_> = b
                .topics
                .iter()
                .filter(|t| !t.direction.incoming())
                .map(|t| t.remote_filter().into())
                .collect();
            if !out_only.is_empty() {
                let _ = self.session.unsubscribe(out_only);
            }
        }
        let filters: Vec<SubscribeFilter> = b
            .topics
            .iter()
            .filter(|t| t.direction.incoming())
            .map(|t| SubscribeFilter {
                filter: t.remote_filter().into(),
                options: SubscriptionOptions {
                    qos: QoS::from_u8(t.qos).unwrap_or_default(),
                    // MQTT 5: nothing the bridge sent comes back, and
                    // retained messages keep their flag.
                    no_local: v5,
                    retain_as_published: v5,
                    ..SubscriptionOptions::qos(QoS::AtMostOnce)
                },
            })
            .collect();
        if !filters.is_empty() {
            let _ = self.session.subscribe(filters);
        }
        if b.notifications && !b.notifications_local_only {
            let _ = self
                .session
                .publish(notification(&b.notification_topic(), true));
        }
        self.notify_local(true);
    }

    /// A message from the remote, published locally.
    fn incoming(&mut self, p: Publish) {
        let topic = self.bridge.topics.iter().find_map(|t| t.map_in(&p.topic));
        let Some(topic) = topic.filter(|t| hornet_codec::topic::validate_name(t).is_ok()) else {
            tracing::debug!("Bridge {}: no mapping for '{}'", self.bridge.name, p.topic);
            BridgeStatus::count(&self.status.dropped);
            if let Some(id) = p.packet_id {
                self.session.acknowledge(id, p.qos);
            }
            return;
        };
        let tag = p.packet_id.map(|id| (id, p.qos));
        let mut local = Publish::new(topic, p.payload);
        local.qos = p.qos;
        local.retain = p.retain;
        local.properties = p.properties;
        BridgeStatus::count(&self.status.received);
        self.local.publish(local, tag);
    }
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
