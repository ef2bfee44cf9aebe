//! Node-to-node links: TCP connections carrying [`Frame`]s, one way each.
//!
//! This node dials every node membership reports alive and sends it,
//! in order: Hello, its route snapshot, the wills of its connected
//! clients, its retained set, then route deltas, forwarded messages,
//! retained and will changes as the core emits them
//! ([`Links::apply`]). It accepts the links the others dial and feeds what
//! arrives into the core.
//!
//! Each live node has one bounded queue ([`QUEUE`] frames) from the moment
//! membership reports it until its key goes, across reconnects: what is
//! meant for a node whose link is not up yet (or is being redialed) waits
//! there, and only a full queue drops (counted in `dropped`). A link's
//! first frames are a snapshot taken under the core's lock; the queued
//! frames follow, so what was queued before the snapshot arrives after it:
//! route deltas it already includes are ignored by sequence number, and
//! retained and will changes replay in order to the same final state.
//! The link redials every 0.2 to 2 s until the node's key goes.
//!
//! Frames written into a link stay in the dialer's [`Outbox`] until the
//! receiver acknowledges them (`Ack`, written back on the same TCP
//! connection); a new link resends the unacknowledged ones after its
//! snapshot, and the receiver's [`Inbox`] skips those it applied already.
//! So a link that breaks (a reset, TCP giving up) loses nothing while both
//! nodes live; each frame is applied once. A link whose receiver is
//! [`IN_FLIGHT`] frames behind writes nothing more until Acks come (the
//! queue holds what follows), so nothing written leaves the resend window
//! unacknowledged.
//!
//! The per-message cost of a link is kept to encoding the message once:
//! the core's thread encodes a forwarded message straight into the node's
//! queue (bytes, not frames), the link writes all that is queued in one
//! write and keeps those very bytes as the resend window, and the receiver
//! decodes each message in place, as slices of its read buffer.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use hornet_core::Action;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::codec::{Frame, VERSION};
use super::outbox::{Cursor, Inbox, Outbox, Verdict};
use super::tls::{LinkStream, LinkTls};
use crate::server::Shared;

/// Frames queued per node while its link is down or slow.
pub(crate) const QUEUE: usize = 100_000;

/// A link writes nothing more while this many of its frames wait for the
/// receiver's Ack (they wait in the queue meanwhile): what is written
/// stays resendable, and the frames a client's acknowledgement waits for
/// are never pushed out of the resend window by a flood (a link takes up
/// to [`QUEUE`] frames at once, so the window holds at most twice this).
const IN_FLIGHT: usize = QUEUE;

/// Room made in a link's read buffer when it runs low: what one read can
/// take (a link carries many clients' messages; its frames' messages are
/// slices of this buffer, as a client's are of its own).
const READ_CHUNK: usize = 64 * 1024;

/// How long a dialed-in peer has to say Hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// How often, at most, a full queue is logged (with the count since).
const DROP_LOG_EVERY: Duration = Duration::from_secs(10);

/// Counters of the links, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct LinkStats {
    /// Frames for another node dropped: its queue ([`QUEUE`]) was full, or
    /// a frame left the resend window unacknowledged.
    pub(crate) dropped: AtomicU64,
    /// When a drop was last logged, and the count then.
    drop_logged: Mutex<Option<(Instant, u64)>>,
    /// Links established (dialed), over the process's life.
    pub(crate) connects: AtomicU64,
}

impl LinkStats {
    /// Counts one frame for `node` dropped and logs it, at most once per
    /// [`DROP_LOG_EVERY`] with the number dropped since.
    fn drop_one(&self, node: &str, why: &str) {
        let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        let mut logged = lock(&self.drop_logged);
        let now = Instant::now();
        let since = match *logged {
            Some((at, _)) if now.duration_since(at) < DROP_LOG_EVERY => return,
            Some((_, then)) => total - then,
            None => total,
        };
        *logged = Some((now, total));
        tracing::warn!(
            "cluster: {why} for node {node} ({QUEUE} frames): {since} frame(s) for other nodes dropped since the last report ({total} in all; hornet_cluster_dropped_total)"
        );
    }
}

/// The frames waiting for one node's link, already encoded: whoever
/// queues a frame writes its bytes here (the thread that ran the core, in
/// the core's order), and the link takes all of them at once for one write
/// (no per-frame channel, no copy of the message).
#[derive(Debug, Default)]
struct Queue {
    queued: Mutex<Queued>,
    /// Woken when the first frame is queued into an empty queue.
    ready: Notify,
}

/// What a [`Queue`] holds.
#[derive(Debug, Default)]
struct Queued {
    /// `frames` encoded frames.
    bytes: BytesMut,
    frames: usize,
    /// (index among `frames`, the core's token) of the frames something
    /// waits for (see `Action::Forward`).
    tokens: Vec<(u32, u64)>,
}

impl Queue {
    /// Queues the frame `encode` writes, with the core's `token` (0:
    /// nothing waits for it); false (nothing written) when [`QUEUE`]
    /// frames wait already.
    fn push(&self, token: u64, encode: impl FnOnce(&mut BytesMut)) -> bool {
        let mut q = lock(&self.queued);
        if q.frames >= QUEUE {
            return false;
        }
        encode(&mut q.bytes);
        if token != 0 {
            let index = q.frames as u32;
            q.tokens.push((index, token));
        }
        q.frames += 1;
        let first = q.frames == 1;
        drop(q);
        if first {
            self.ready.notify_one();
        }
        true
    }

    /// Everything queued, leaving the queue empty (with room for as much
    /// again, within reason: growing from nothing would copy it over and
    /// over).
    fn take(&self) -> Queued {
        let mut q = lock(&self.queued);
        if q.frames == 0 {
            return Queued::default();
        }
        let room = q.bytes.len().clamp(8 * 1024, 256 * 1024);
        std::mem::replace(
            &mut *q,
            Queued {
                bytes: BytesMut::with_capacity(room),
                ..Queued::default()
            },
        )
    }
}

/// The links of this node (see the module doc).
pub(crate) struct Links {
    me: String,
    cluster: String,
    incarnation: u64,
    shared: Weak<Shared>,
    /// Outgoing queues, by live node (made by the first frame for it,
    /// possibly before membership reported it: a message forwarded along a
    /// route that arrived first; its dialer takes it when it starts).
    out: Mutex<HashMap<String, Arc<Queue>>>,
    /// Nodes whose outgoing link is up now.
    up: Mutex<std::collections::HashSet<String>>,
    /// Dialers, by node, with the address each dials.
    dialers: Mutex<HashMap<String, (String, JoinHandle<()>)>>,
    /// Incoming links, by node: notified to end one (a resync).
    inbound: Mutex<HashMap<String, Arc<Notify>>>,
    pub(crate) stats: LinkStats,
    /// The etcd client and this node's current lease, to leave at shutdown.
    etcd: std::sync::OnceLock<(etcd_client::Client, Arc<std::sync::atomic::AtomicI64>)>,
    /// TLS on every link (`[cluster] tls`), if on.
    tls: std::sync::OnceLock<Arc<LinkTls>>,
    /// What was applied of each node's stream (across its links).
    inboxes: Mutex<HashMap<String, Arc<Mutex<Inbox>>>>,
    /// What the core lets each node's incoming link acknowledge (stream,
    /// last frame): `Action::Applied`, after the disk when acknowledgements
    /// wait for it.
    acks: Mutex<HashMap<String, watch::Sender<(u64, u64)>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Links {
    pub(crate) fn new(me: &str, cluster: &str, incarnation: u64, shared: Weak<Shared>) -> Links {
        Links {
            me: me.to_string(),
            cluster: cluster.to_string(),
            incarnation,
            shared,
            out: Mutex::default(),
            up: Mutex::default(),
            dialers: Mutex::default(),
            inbound: Mutex::default(),
            stats: LinkStats::default(),
            etcd: std::sync::OnceLock::new(),
            tls: std::sync::OnceLock::new(),
            inboxes: Mutex::default(),
            acks: Mutex::default(),
        }
    }

    /// Hands one cluster action of the core to the links (called in the
    /// core's order, under the outbox lock).
    pub(crate) fn apply(&self, action: Action) {
        match action {
            Action::Forward {
                node,
                publish,
                plain,
                groups,
                ack,
            } => self.send_with(&node, ack, |out| {
                Frame::encode_forward(out, *publish, plain, &groups);
            }),
            Action::Applied { node, stream, upto } => {
                self.ack_watch(&node).send_replace((stream, upto));
            }
            Action::Routes { update } => {
                let token = update.ack_token();
                self.broadcast(Frame::Route(update), token);
            }
            Action::Retain {
                topic,
                message,
                stamp,
            } => self.broadcast(
                Frame::Retain {
                    topic,
                    stamp,
                    message: message.map(|m| *m),
                },
                0,
            ),
            Action::Will {
                client_id,
                will,
                due_in,
            } => self.broadcast(
                Frame::Will {
                    client_id,
                    will: will.map(|w| *w),
                    due_in,
                },
                0,
            ),
            Action::Takeover { client_id, stamp } => {
                self.broadcast(Frame::Takeover { client_id, stamp }, 0)
            }
            Action::MoveSession { node, session } => self.send(&node, Frame::Session(session), 0),
            Action::Resync { node } => {
                if let Some(n) = lock(&self.inbound).get(&*node) {
                    n.notify_one();
                }
            }
            _ => {}
        }
    }

    /// What the core lets `node`'s incoming links acknowledge.
    fn ack_watch(&self, node: &str) -> watch::Sender<(u64, u64)> {
        lock(&self.acks)
            .entry(node.to_string())
            .or_insert_with(|| watch::Sender::new((0, 0)))
            .clone()
    }

    fn send(&self, node: &str, frame: Frame, token: u64) {
        self.send_with(node, token, |out| frame.encode(out));
    }

    /// Queues the frame `encode` writes for `node`, with the core's
    /// `token`, unless its queue is full.
    fn send_with(&self, node: &str, token: u64, encode: impl FnOnce(&mut BytesMut)) {
        let mut out = lock(&self.out);
        let queue = match out.get(node) {
            Some(queue) => queue,
            None => out.entry(node.to_string()).or_default(),
        };
        if !queue.push(token, encode) {
            self.stats.drop_one(node, "the queue is full");
        }
    }

    fn broadcast(&self, frame: Frame, token: u64) {
        let mut bytes = BytesMut::new();
        frame.encode(&mut bytes);
        let out = lock(&self.out);
        for (node, queue) in out.iter() {
            if !queue.push(token, |out| out.extend_from_slice(&bytes)) {
                self.stats.drop_one(node, "the queue is full");
            }
        }
    }

    /// Nodes whose outgoing link is up.
    pub(crate) fn connected(&self) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.up).iter().cloned().collect();
        v.sort();
        v
    }

    /// Dials `node` at `addr` from now on (again, if the address changed).
    pub(crate) fn dial(self: &Arc<Self>, node: &str, addr: &str) {
        let mut dialers = lock(&self.dialers);
        if let Some((old, task)) = dialers.get(node) {
            if old == addr {
                return;
            }
            task.abort();
        }
        let queue = lock(&self.out).entry(node.to_string()).or_default().clone();
        lock(&self.up).remove(node);
        let task = tokio::spawn(dialer(
            self.clone(),
            node.to_string(),
            addr.to_string(),
            queue,
        ));
        dialers.insert(node.to_string(), (addr.to_string(), task));
    }

    /// Stops dialing `node` and drops its link (it is dead).
    pub(crate) fn forget(&self, node: &str) {
        if let Some((_, task)) = lock(&self.dialers).remove(node) {
            task.abort();
        }
        lock(&self.out).remove(node);
        lock(&self.up).remove(node);
        lock(&self.inboxes).remove(node);
        lock(&self.acks).remove(node);
        if let Some(n) = lock(&self.inbound).remove(node) {
            n.notify_one();
        }
    }

    /// Ends every link; each dials again and starts with a snapshot (after
    /// this node joined again).
    pub(crate) fn restart_all(self: &Arc<Self>) {
        let nodes: Vec<(String, String)> = lock(&self.dialers)
            .iter()
            .map(|(n, (a, _))| (n.clone(), a.clone()))
            .collect();
        for (node, addr) in nodes {
            self.forget(&node);
            self.dial(&node, &addr);
        }
    }

    /// Makes every link TLS (before the first is dialed or accepted).
    pub(crate) fn set_tls(&self, tls: Arc<LinkTls>) {
        let _ = self.tls.set(tls);
    }

    /// `sock` as this node's links speak: TLS when on (the handshake
    /// bounded by [`HELLO_TIMEOUT`]), else as it is.
    async fn secure(&self, sock: TcpStream, dialed: Option<&str>) -> std::io::Result<LinkStream> {
        let Some(tls) = self.tls.get() else {
            return Ok(Box::new(sock));
        };
        let handshake = async {
            match dialed {
                Some(addr) => tls.connect(addr, sock).await,
                None => tls.accept(sock).await,
            }
        };
        tokio::time::timeout(HELLO_TIMEOUT, handshake)
            .await
            .unwrap_or_else(|_| {
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no TLS handshake within 5 s",
                ))
            })
    }

    /// Remembers how to leave the cluster (see [`Links::leave`]).
    pub(crate) fn set_etcd(
        &self,
        client: etcd_client::Client,
        lease: Arc<std::sync::atomic::AtomicI64>,
    ) {
        let _ = self.etcd.set((client, lease));
    }

    /// Leaves the cluster at a clean shutdown: revokes this node's lease,
    /// so the other nodes count it dead now instead of after `lease_ttl`.
    pub(crate) async fn leave(&self) {
        let Some((client, lease)) = self.etcd.get() else {
            return;
        };
        let id = lease.load(Ordering::Relaxed);
        let mut client = client.clone();
        let revoke = client.lease_revoke(id);
        match tokio::time::timeout(Duration::from_secs(2), revoke).await {
            Ok(Ok(_)) => tracing::info!(
                "Cluster: left (lease revoked): the other nodes count this node dead now."
            ),
            Ok(Err(e)) => tracing::warn!(
                "Cluster: could not revoke the lease ({e}); the other nodes count this node \
                 dead when it expires."
            ),
            Err(_) => tracing::warn!(
                "Cluster: etcd did not answer the lease revocation within 2 s; the other nodes \
                 count this node dead when it expires."
            ),
        }
    }

    /// Stops every task (the server is shutting down).
    pub(crate) fn stop(&self) {
        for (_, (_, task)) in lock(&self.dialers).drain() {
            task.abort();
        }
        lock(&self.out).clear();
        lock(&self.up).clear();
    }
}

/// Dials `node` until it is forgotten: each connection serves until it
/// breaks, then the dialer waits 0.2 s, doubling to 2 s while it fails.
async fn dialer(links: Arc<Links>, node: String, addr: String, queue: Arc<Queue>) {
    let mut backoff = Duration::from_millis(200);
    let mut failures = 0u32;
    let mut outbox = Outbox::new(IN_FLIGHT + QUEUE);
    loop {
        match TcpStream::connect(&addr).await {
            Ok(sock) => {
                let _ = sock.set_nodelay(true);
                match links.secure(sock, Some(&addr)).await {
                    Ok(sock) => {
                        failures = 0;
                        backoff = Duration::from_millis(200);
                        let result = serve_out(&links, &node, sock, &queue, &mut outbox).await;
                        lock(&links.up).remove(&node);
                        match result {
                            Ok(()) => tracing::info!("Cluster: link to {node} ({addr}) closed."),
                            Err(e) => {
                                tracing::warn!("Cluster: link to {node} ({addr}) broke: {e}.")
                            }
                        }
                    }
                    Err(e) => {
                        if failures == 0 || failures % 30 == 0 {
                            tracing::error!(
                                "Cluster: TLS with node {node} at {addr} failed: {e}; retrying."
                            );
                        }
                        failures += 1;
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                    }
                }
            }
            Err(e) => {
                if failures == 0 || failures % 30 == 0 {
                    tracing::warn!(
                        "Cluster: cannot connect to node {node} at {addr}: {e}; retrying."
                    );
                }
                failures += 1;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
        tokio::time::sleep(backoff).await;
    }
}

/// One outgoing link: Hello, the snapshot and retained set, then the
/// queue, until the peer closes or a write fails.
async fn serve_out(
    links: &Arc<Links>,
    node: &str,
    sock: LinkStream,
    queue: &Queue,
    outbox: &mut Outbox,
) -> std::io::Result<()> {
    let Some(shared) = links.shared.upgrade() else {
        return Ok(());
    };
    let (snapshot, retained, wills) = shared.with_core(|core| {
        lock(&links.up).insert(node.to_string());
        (
            core.cluster_snapshot().unwrap_or_default(),
            core.cluster_retained(Instant::now()),
            core.cluster_wills(Instant::now()),
        )
    });
    drop(shared);
    links.stats.connects.fetch_add(1, Ordering::Relaxed);
    let deletes = retained.iter().filter(|w| w.message.is_none()).count();
    tracing::info!(
        "Cluster: link to {node} up; sent {} routes, {} retained messages, {deletes} retained \
         deletes and {} wills{}.",
        snapshot.filters.len(),
        retained.len() - deletes,
        wills.len(),
        match outbox.unacked() {
            0 => String::new(),
            n => format!("; resending {n} frames the last link did not deliver"),
        }
    );
    let (mut rd, mut wr) = tokio::io::split(sock);
    let mut buf = BytesMut::new();
    Frame::Hello {
        version: VERSION,
        cluster: links.cluster.clone(),
        node: links.me.clone(),
        incarnation: links.incarnation,
    }
    .encode(&mut buf);
    Frame::Routes(snapshot).encode(&mut buf);
    Frame::Wills(wills).encode(&mut buf);
    for write in retained {
        Frame::Retain {
            topic: write.topic,
            stamp: write.stamp,
            message: write.message,
        }
        .encode(&mut buf);
    }
    outbox.resend(&mut buf);
    wr.write_all(&buf).await?;
    let mut acks = BytesMut::with_capacity(64);
    let mut tokens = Vec::new();
    loop {
        // Everything queued since the last write, in one write: the bytes
        // written are the bytes kept for a resend. Nothing while the
        // receiver is that far behind: its Acks make room.
        let room = outbox.unacked() < IN_FLIGHT;
        let Queued {
            bytes,
            frames,
            tokens: waiting,
        } = if room {
            queue.take()
        } else {
            Queued::default()
        };
        if frames > 0 {
            let bytes = bytes.freeze();
            for _ in 0..outbox.push(bytes.clone(), frames, &waiting) {
                links.stats.drop_one(
                    node,
                    "the resend window (frames written, not yet acknowledged) is full",
                );
            }
            wr.write_all(&bytes).await?;
        }
        tokio::select! {
            () = queue.ready.notified(), if room => {}
            read = rd.read_buf(&mut acks) => match read {
                // EOF or an error: the peer closed the link (a resync, or
                // it stopped).
                Ok(0) => return Ok(()),
                Ok(_) => {
                    while let Some(frame) = Frame::decode(&mut acks)
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?
                    {
                        if let Frame::Ack { seq } = frame {
                            outbox.ack(seq, &mut tokens);
                        }
                    }
                    // Clients' acknowledgements waiting for these frames.
                    if !tokens.is_empty() {
                        if let Some(shared) = links.shared.upgrade() {
                            shared.with_core(|core| {
                                core.node_acked(Instant::now(), node, &tokens);
                            });
                        }
                        tokens.clear();
                    }
                }
                Err(e) => return Err(e),
            },
        }
    }
}

/// Accepts the links other nodes dial.
pub(crate) async fn accept_loop(links: Arc<Links>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((sock, peer)) => {
                let _ = sock.set_nodelay(true);
                let links = links.clone();
                tokio::spawn(async move {
                    match links.secure(sock, None).await {
                        Ok(sock) => serve_in(links, sock, peer).await,
                        Err(e) => tracing::error!(
                            "Cluster: refused the link from {peer}: TLS handshake failed: {e}."
                        ),
                    }
                });
            }
            Err(e) => {
                tracing::warn!("Cluster: accepting a link failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One incoming link: checks Hello, then feeds every frame to the core.
async fn serve_in(links: Arc<Links>, mut sock: LinkStream, peer: SocketAddr) {
    let mut buf = BytesMut::with_capacity(8192);
    let hello = tokio::time::timeout(HELLO_TIMEOUT, async {
        loop {
            if let Some(frame) = Frame::decode(&mut buf).map_err(|e| e.to_string())? {
                return Ok::<Frame, String>(frame);
            }
            match sock.read_buf(&mut buf).await {
                Ok(0) => return Err("closed before Hello".to_string()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await;
    let node = match hello {
        Ok(Ok(Frame::Hello {
            version,
            cluster,
            node,
            incarnation,
        })) => {
            let refuse = if version != VERSION {
                Some(format!(
                    "it speaks link protocol {version}, this node {VERSION}"
                ))
            } else if cluster != links.cluster {
                Some(format!(
                    "it belongs to cluster {cluster:?}, this node to {:?}",
                    links.cluster
                ))
            } else if node == links.me {
                Some(format!(
                    "it calls itself {node:?}, this node's own name: two nodes share a name"
                ))
            } else {
                None
            };
            if let Some(why) = refuse {
                tracing::error!("Cluster: refused the link from {peer}: {why}.");
                return;
            }
            tracing::info!("Cluster: link from {node} ({peer}, incarnation {incarnation:x}) up.");
            node
        }
        Ok(Ok(_)) => {
            tracing::warn!("Cluster: refused the link from {peer}: it did not start with Hello.");
            return;
        }
        Ok(Err(e)) => {
            tracing::warn!("Cluster: refused the link from {peer}: {e}.");
            return;
        }
        Err(_) => {
            tracing::warn!("Cluster: refused the link from {peer}: no Hello within 5 s.");
            return;
        }
    };
    let resync = Arc::new(Notify::new());
    // One link from a node at a time: an older one (its dialer has moved
    // on) ends; what it had not acknowledged comes again on this one.
    if let Some(old) = lock(&links.inbound).insert(node.clone(), resync.clone()) {
        old.notify_one();
    }
    let inbox = lock(&links.inboxes)
        .entry(node.clone())
        .or_default()
        .clone();
    let result = read_frames(&links, &node, &mut sock, &mut buf, &resync, &inbox).await;
    {
        let mut inbound = lock(&links.inbound);
        if inbound.get(&node).is_some_and(|n| Arc::ptr_eq(n, &resync)) {
            inbound.remove(&node);
        }
    }
    match result {
        Ok(true) => tracing::info!(
            "Cluster: link from {node} ended (for a fresh snapshot, or a newer link from it)."
        ),
        Ok(false) => tracing::info!("Cluster: link from {node} closed."),
        Err(e) => tracing::warn!("Cluster: link from {node} broke: {e}."),
    }
}

/// Reads and applies frames until EOF (`false`) or a resync (`true`).
/// What it applied is acknowledged when the core lets it (`Applied`:
/// after the disk when acknowledgements wait for it), on this connection.
async fn read_frames(
    links: &Links,
    node: &str,
    sock: &mut LinkStream,
    buf: &mut BytesMut,
    resync: &Notify,
    inbox: &Mutex<Inbox>,
) -> Result<bool, String> {
    let mut frames = Vec::new();
    let mut cursor = Cursor::default();
    let mut reported = lock(inbox).applied();
    let mut allowed = links.ack_watch(node).subscribe();
    let mut acked = 0;
    let mut ack = BytesMut::with_capacity(16);
    loop {
        let applied = {
            let mut inbox = lock(inbox);
            while let Some(frame) = Frame::decode(buf).map_err(|e| e.to_string())? {
                // Resent frames applied over an earlier link are skipped.
                if inbox.check(&mut cursor, &frame) == Verdict::Apply {
                    frames.push(frame);
                }
            }
            inbox.applied()
        };
        if !frames.is_empty() || applied != reported {
            let Some(shared) = links.shared.upgrade() else {
                return Ok(false);
            };
            shared.with_core(|core| {
                let now = Instant::now();
                for frame in frames.drain(..) {
                    apply(core, now, node, frame);
                }
                if applied != reported {
                    core.node_frames_applied(now, node, applied.0, applied.1);
                }
            });
            reported = applied;
        }
        // Applied (and durable): the sender may forget them, and release
        // its clients' acknowledgements. Only for the stream being read
        // (an older one's number would be wrong for a newer one).
        let (stream, upto) = *allowed.borrow_and_update();
        if stream == applied.0 && upto != acked && upto > 0 {
            acked = upto;
            ack.clear();
            Frame::Ack { seq: acked }.encode(&mut ack);
            sock.write_all(&ack).await.map_err(|e| e.to_string())?;
        }
        if buf.capacity() - buf.len() < READ_CHUNK / 8 {
            buf.reserve(READ_CHUNK);
        }
        tokio::select! {
            read = sock.read_buf(buf) => match read {
                Ok(0) => return Ok(false),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            },
            changed = allowed.changed() => {
                if changed.is_err() {
                    return Ok(false); // forgotten
                }
            }
            () = resync.notified() => return Ok(true),
        }
    }
}

/// One frame from `node` into the core.
fn apply(core: &mut hornet_core::Broker, now: Instant, node: &str, frame: Frame) {
    match frame {
        Frame::Routes(snapshot) => core.node_routes(now, node, snapshot),
        Frame::Route(update) => core.node_route_update(now, node, update),
        Frame::Publish(publish) => {
            core.node_publish(now, node, publish);
        }
        Frame::PublishTo {
            plain,
            groups,
            publish,
        } => {
            core.node_publish_to(now, node, publish, plain, groups);
        }
        Frame::Retain {
            topic,
            stamp,
            message,
        } => core.node_retained(now, node, topic, message, stamp),
        Frame::Will {
            client_id,
            will,
            due_in,
        } => core.node_will(now, node, client_id, will, due_in),
        Frame::Wills(all) => core.node_wills(now, node, all),
        Frame::Takeover { client_id, stamp } => {
            core.node_client_connected(now, node, client_id, stamp)
        }
        Frame::Session(moved) => core.node_session(now, node, *moved),
        Frame::Hello { .. } => {
            tracing::warn!("Cluster: a second Hello from {node} ignored.");
        }
        Frame::Resume { .. } | Frame::Ack { .. } => {}
    }
}
