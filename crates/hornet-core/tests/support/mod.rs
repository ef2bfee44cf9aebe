//! The one test harness for the broker core, in the manner of
//! quinn-proto's `tests/util.rs`: a [`Harness`] owns the [`Broker`] under
//! test with its [`Settings`], a virtual clock and the client side of every
//! connection, and drives them the way the shell does.
//!
//! - Time: [`Harness::now`] only moves by [`Harness::advance`], which ticks
//!   the broker at each deadline it reports through
//!   [`Broker::next_deadline`] on the way (never at fixed steps), and
//!   [`Harness::tick`], which ticks at `now` as the shell's ticker does.
//! - Input: every packet a client sends is encoded in its protocol and
//!   decoded by the connection's own server-side [`hornet_codec::Decoder`],
//!   as the shell reads a socket, so the core sees only what a real peer
//!   can make it see, with the real wire length (a refused packet becomes
//!   `decode_failed`).
//! - Output: after every input every [`Action`] is drained, in order, into
//!   the log ([`Harness::mark`] / [`Harness::since`]) and applied: `Send`
//!   lands in the connection's inbox ([`Harness::take`]) after a wire check
//!   (it encodes in the connection's protocol, a client decoder reads it
//!   back, and it fits an MQTT 5 client's Maximum Packet Size), `Close`
//!   marks the connection closed (nothing may be sent to it afterwards, and
//!   it closes once), `CheckPassword` is run at once unless
//!   [`Harness::auto_check`] is off (then [`Harness::pending_checks`]).
//!   A new kind of action gets one arm in [`Harness::pump`] (for durability:
//!   collect the records there and acknowledge them as durable with a new
//!   input method), and the log already has it in order.
//!
//! `flows.rs` adds the common client flows (connect, subscribe, publish at
//! every QoS with its acknowledgements, expecting a DISCONNECT);
//! `packets.rs` builds and picks apart packets; `conn.rs` is one
//! connection's client side. Each test file uses a part, hence the
//! `dead_code` allowance.
#![allow(dead_code)]

mod conn;
mod flows;
mod packets;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hornet_codec::bytes::BytesMut;
use hornet_codec::{DecodeError, EncodeError, Packet};
use hornet_core::persist::StoreOp;
use hornet_core::{
    AckPolicy, Action, Broker, CloseCause, ConnId, ConnInfo, PasswordCheck, Settings,
};

use conn::Conn;
pub(crate) use packets::*;

/// The peer address of [`Harness::open_loopback`].
pub(crate) const LOOPBACK: &str = "127.0.0.1:50000";

/// How a client's packet reached the broker.
#[derive(Debug)]
pub(crate) enum Sent {
    /// The shell's decoder read it; the broker received this packet.
    Received(Packet),
    /// The shell's decoder refused it; the broker was told `decode_failed`.
    DecodeFailed(DecodeError),
    /// The client cannot put it on the wire; the broker saw nothing.
    Unencodable(EncodeError),
}

/// A broker, its virtual clock and the client side of its connections.
pub(crate) struct Harness {
    /// The broker under test (its queries are read directly).
    pub(crate) broker: Broker,
    /// The settings it was built with.
    pub(crate) settings: Settings,
    /// The virtual clock.
    pub(crate) now: Instant,
    /// Run `CheckPassword` at once, as the shell does (off the lock there,
    /// inline here). Off: the checks wait in `pending_checks`.
    pub(crate) auto_check: bool,
    /// Checks the core asked for while `auto_check` was off.
    pub(crate) pending_checks: Vec<(ConnId, PasswordCheck)>,
    /// Report every `Persist` durable at once, as a store that never
    /// fails would. Off: records wait until a test calls
    /// `Broker::durable` or `Broker::persist_failed` itself.
    pub(crate) auto_durable: bool,
    /// Every record from `Persist` actions, in order, until `take_records`.
    pub(crate) records: Vec<StoreOp>,
    /// Connections the core asked to drain (`DrainInput`, see
    /// `Broker::drain_before_takeover`), until a test answers with
    /// `input_drained`.
    pub(crate) drain_requests: Vec<ConnId>,
    next: u64,
    conns: BTreeMap<ConnId, Conn>,
    log: Vec<Action>,
}

impl Harness {
    /// Default settings without `$SYS` publishing (it would fill inboxes).
    pub(crate) fn new() -> Harness {
        Harness::with(Settings {
            sys_interval: None,
            ..Settings::default()
        })
    }

    /// A broker with exactly `settings`.
    pub(crate) fn with(settings: Settings) -> Harness {
        let now = Instant::now();
        Harness {
            broker: Broker::new(settings.clone(), now),
            settings,
            now,
            auto_check: true,
            pending_checks: Vec::new(),
            auto_durable: true,
            records: Vec::new(),
            drain_requests: Vec::new(),
            next: 1,
            conns: BTreeMap::new(),
            log: Vec::new(),
        }
    }

    /// A broker with durability on (`policy`) and `$SYS` off; records are
    /// reported durable at once until `auto_durable` is turned off.
    pub(crate) fn persistent(policy: AckPolicy) -> Harness {
        let mut h = Harness::new();
        h.broker.enable_persistence(policy);
        h
    }

    /// The records emitted since the last call.
    pub(crate) fn take_records(&mut self) -> Vec<StoreOp> {
        self.pump();
        std::mem::take(&mut self.records)
    }

    /// Reports every record emitted so far durable.
    pub(crate) fn settle(&mut self) {
        self.pump();
        let (last, durable) = self.broker.persist_seqs();
        if last > durable {
            self.broker.durable(self.now, last);
            self.pump();
        }
    }

    // ---- the clock ----

    /// Moves the clock on by `by`, ticking the broker at every deadline it
    /// reports up to the new time, each at its own instant.
    pub(crate) fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        while let Some(at) = self.broker.next_deadline() {
            if at > end {
                break;
            }
            self.now = self.now.max(at);
            self.tick();
            if let Some(next) = self.broker.next_deadline() {
                assert!(
                    next > self.now,
                    "after a tick at {:?} the broker still reports a deadline at {:?} (a shell would spin)",
                    self.now,
                    next
                );
            }
        }
        self.now = end;
    }

    /// Ticks the broker at `now`, as the shell's periodic ticker does.
    pub(crate) fn tick(&mut self) {
        self.broker.tick(self.now);
        self.pump();
    }

    // ---- input ----

    /// Accepts a connection from `peer` on port 1883.
    pub(crate) fn open(&mut self, peer: &str) -> ConnId {
        let peer: SocketAddr = peer.parse().expect("a socket address");
        self.open_with(ConnInfo::new(peer, 1883))
    }

    /// Accepts a connection from [`LOOPBACK`].
    pub(crate) fn open_loopback(&mut self) -> ConnId {
        self.open(LOOPBACK)
    }

    /// Accepts a connection described by `info`.
    pub(crate) fn open_with(&mut self, info: ConnInfo) -> ConnId {
        let id = ConnId(self.next);
        self.next += 1;
        self.conns
            .insert(id, Conn::new(self.settings.max_packet_size as usize));
        self.broker.connection_opened(self.now, id, info);
        self.pump();
        id
    }

    /// The client of `conn` sends `packet` (through the codec); it must be
    /// encodable.
    pub(crate) fn send(&mut self, conn: ConnId, packet: impl Into<Packet>) {
        let packet = packet.into();
        if let Sent::Unencodable(e) = self.try_send(conn, packet.clone()) {
            panic!("the client cannot send {packet:?}: {e}");
        }
    }

    /// The client of `conn` sends `packet` if it can encode it; the shell's
    /// decoder for the connection reads it and the broker gets the result.
    pub(crate) fn try_send(&mut self, conn: ConnId, packet: Packet) -> Sent {
        let c = self
            .conns
            .get_mut(&conn)
            .unwrap_or_else(|| panic!("{conn} was never opened"));
        let protocol = match &packet {
            Packet::Connect(connect) => connect.protocol,
            _ => c.protocol(),
        };
        let mut buf = BytesMut::new();
        if let Err(e) = packet.encode(protocol, &mut buf) {
            return Sent::Unencodable(e);
        }
        let wire_len = buf.len();
        let decoded = c.shell.decode(&mut buf);
        let sent = match decoded {
            Ok(Some(decoded)) => {
                assert!(buf.is_empty(), "the decoder left bytes of {packet:?}");
                if let Packet::Connect(connect) = &decoded {
                    c.note_connect(connect);
                }
                self.broker
                    .packet_received(self.now, conn, decoded.clone(), wire_len);
                Sent::Received(decoded)
            }
            Ok(None) => panic!("a whole frame of {packet:?} was not decoded"),
            Err(e) => {
                c.decode_failed = true;
                let protocol = c.shell.protocol();
                self.broker.decode_failed(self.now, conn, &e, protocol);
                Sent::DecodeFailed(e)
            }
        };
        self.pump();
        sent
    }

    /// Sends `packet` and returns the actions it caused, in order.
    pub(crate) fn send_actions(&mut self, conn: ConnId, packet: impl Into<Packet>) -> Vec<Action> {
        let mark = self.mark();
        self.send(conn, packet);
        self.since(mark)
    }

    /// The shell's decoder refused the connection's bytes with `error`.
    pub(crate) fn decode_failed(&mut self, conn: ConnId, error: &DecodeError) {
        let c = self.conn_mut(conn);
        c.decode_failed = true;
        let protocol = c.shell.protocol();
        self.broker.decode_failed(self.now, conn, error, protocol);
        self.pump();
    }

    /// The peer closed the socket.
    pub(crate) fn close(&mut self, conn: ConnId) {
        self.close_with(conn, CloseCause::PeerClosed);
    }

    /// The socket ended for `cause`.
    pub(crate) fn close_with(&mut self, conn: ConnId, cause: CloseCause) {
        self.broker.connection_closed(self.now, conn, cause);
        self.pump();
    }

    /// The shell wrote up to `count` of the packets handed out for `conn`
    /// (reported as 10 bytes each); returns how many it reported.
    pub(crate) fn written(&mut self, conn: ConnId, count: usize) -> usize {
        let c = self.conn_mut(conn);
        let n = count.min(c.unwritten);
        c.unwritten -= n;
        self.broker.packets_written(conn, n, n * 10);
        self.pump();
        n
    }

    /// The shell has fed `conn` everything it had received.
    pub(crate) fn input_drained(&mut self, conn: ConnId) {
        self.broker.input_drained(self.now, conn);
        self.pump();
    }

    /// Reports the verdict of a password check.
    pub(crate) fn password_checked(&mut self, conn: ConnId, ok: bool) {
        self.broker.password_checked(self.now, conn, ok);
        self.pump();
    }

    // ---- output ----

    /// Drains the broker's actions into the log and applies each.
    pub(crate) fn pump(&mut self) {
        while let Some(action) = self.broker.poll_action() {
            match &action {
                Action::Send { conn, packet } => self.conn_mut(*conn).receive(*conn, packet),
                Action::SendMany { conns, publish } => {
                    let packet = Packet::Publish(publish.clone());
                    for conn in conns {
                        self.conn_mut(*conn).receive(*conn, &packet);
                    }
                }
                Action::Close { conn } => {
                    let c = self.conn_mut(*conn);
                    assert!(!c.closed, "{conn} closed twice");
                    c.closed = true;
                }
                Action::CheckPassword { conn, check } => {
                    if self.auto_check {
                        let ok = check.run();
                        self.broker.password_checked(self.now, *conn, ok);
                    } else {
                        self.pending_checks.push((*conn, check.clone()));
                    }
                }
                Action::DrainInput { conn } => self.drain_requests.push(*conn),
                Action::Persist { seq, records } => {
                    self.records.extend(records.iter().cloned());
                    if self.auto_durable {
                        self.broker.durable(self.now, *seq);
                    }
                }
                // Cluster actions are only logged (tests/cluster.rs reads them).
                Action::Forward { .. }
                | Action::Applied { .. }
                | Action::Routes { .. }
                | Action::Retain { .. }
                | Action::Will { .. }
                | Action::Takeover { .. }
                | Action::Resync { .. }
                | Action::Claim { .. }
                | Action::MoveSession { .. }
                | Action::Release { .. } => {}
            }
            self.log.push(action);
        }
    }

    /// Everything `conn` was sent since the last call.
    pub(crate) fn take(&mut self, conn: ConnId) -> Vec<Packet> {
        std::mem::take(&mut self.conn_mut(conn).inbox)
    }

    /// Puts `packets` back in front of what `conn` has not taken yet.
    pub(crate) fn put_back(&mut self, conn: ConnId, mut packets: Vec<Packet>) {
        let inbox = &mut self.conn_mut(conn).inbox;
        packets.append(inbox);
        *inbox = packets;
    }

    /// The broker closed `conn`.
    pub(crate) fn is_closed(&self, conn: ConnId) -> bool {
        self.conns.get(&conn).is_some_and(|c| c.closed)
    }

    /// A position in the action log, for [`Harness::since`].
    pub(crate) fn mark(&self) -> usize {
        self.log.len()
    }

    /// Every action since `mark`, in order.
    pub(crate) fn since(&self, mark: usize) -> Vec<Action> {
        self.log[mark..].to_vec()
    }

    fn conn_mut(&mut self, conn: ConnId) -> &mut Conn {
        self.conns
            .get_mut(&conn)
            .unwrap_or_else(|| panic!("{conn} was never opened"))
    }
}
