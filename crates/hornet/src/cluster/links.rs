//! Node-to-node links: TCP connections carrying [`Frame`]s, one way each.
//!
//! This node dials every node membership reports alive and sends it,
//! in order: Hello, its route snapshot, its retained set, then route
//! deltas, forwarded messages and retained changes as the core emits them
//! ([`Links::apply`]). It accepts the links the others dial and feeds what
//! arrives into the core. A link is attached (its queue registered) under
//! the core's lock at the same moment the snapshot is taken, so no delta
//! is lost between the two (one sent twice is ignored by sequence number).
//!
//! While a node's link is down, what is meant for it is dropped and
//! counted (`dropped`); the link redials every 0.2 to 2 s until the node's
//! key goes, and its first frames after a reconnect are a fresh snapshot.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use hornet_core::Action;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

use super::codec::{Frame, VERSION};
use crate::server::Shared;

/// How long a dialed-in peer has to say Hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// Counters of the links, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct LinkStats {
    /// Frames for a node whose link was down.
    pub(crate) dropped: AtomicU64,
    /// Links established (dialed), over the process's life.
    pub(crate) connects: AtomicU64,
}

/// The links of this node (see the module doc).
pub(crate) struct Links {
    me: String,
    cluster: String,
    incarnation: u64,
    shared: Weak<Shared>,
    /// Attached outgoing queues, by node.
    out: Mutex<HashMap<String, mpsc::UnboundedSender<Frame>>>,
    /// Dialers, by node, with the address each dials.
    dialers: Mutex<HashMap<String, (String, JoinHandle<()>)>>,
    /// Incoming links, by node: notified to end one (a resync).
    inbound: Mutex<HashMap<String, Arc<Notify>>>,
    pub(crate) stats: LinkStats,
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
            dialers: Mutex::default(),
            inbound: Mutex::default(),
            stats: LinkStats::default(),
        }
    }

    /// Hands one cluster action of the core to the links (called in the
    /// core's order, under the outbox lock).
    pub(crate) fn apply(&self, action: Action) {
        match action {
            Action::Forward { node, publish } => self.send(&node, Frame::Publish(publish)),
            Action::Routes { update } => self.broadcast(Frame::Route(update)),
            Action::Retain { topic, message } => self.broadcast(Frame::Retain {
                fill: false,
                topic,
                message,
            }),
            Action::Resync { node } => {
                if let Some(n) = lock(&self.inbound).get(&*node) {
                    n.notify_one();
                }
            }
            _ => {}
        }
    }

    fn send(&self, node: &str, frame: Frame) {
        let out = lock(&self.out);
        match out.get(node) {
            Some(tx) if tx.send(frame).is_ok() => {}
            _ => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn broadcast(&self, frame: Frame) {
        let out = lock(&self.out);
        for tx in out.values() {
            let _ = tx.send(frame.clone());
        }
    }

    /// Nodes with an attached outgoing link.
    pub(crate) fn connected(&self) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.out).keys().cloned().collect();
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
        lock(&self.out).remove(node);
        let task = tokio::spawn(dialer(self.clone(), node.to_string(), addr.to_string()));
        dialers.insert(node.to_string(), (addr.to_string(), task));
    }

    /// Stops dialing `node` and drops its link (it is dead).
    pub(crate) fn forget(&self, node: &str) {
        if let Some((_, task)) = lock(&self.dialers).remove(node) {
            task.abort();
        }
        lock(&self.out).remove(node);
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

    /// Stops every task (the server is shutting down).
    pub(crate) fn stop(&self) {
        for (_, (_, task)) in lock(&self.dialers).drain() {
            task.abort();
        }
        lock(&self.out).clear();
    }
}

/// Dials `node` until it is forgotten: each connection serves until it
/// breaks, then the dialer waits 0.2 s, doubling to 2 s while it fails.
async fn dialer(links: Arc<Links>, node: String, addr: String) {
    let mut backoff = Duration::from_millis(200);
    let mut failures = 0u32;
    loop {
        match TcpStream::connect(&addr).await {
            Ok(sock) => {
                failures = 0;
                backoff = Duration::from_millis(200);
                let _ = sock.set_nodelay(true);
                match serve_out(&links, &node, sock).await {
                    Ok(()) => tracing::info!("Cluster: link to {node} ({addr}) closed."),
                    Err(e) => tracing::warn!("Cluster: link to {node} ({addr}) broke: {e}."),
                }
                lock(&links.out).remove(&node);
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
async fn serve_out(links: &Arc<Links>, node: &str, sock: TcpStream) -> std::io::Result<()> {
    let Some(shared) = links.shared.upgrade() else {
        return Ok(());
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (snapshot, retained) = shared.with_core(|core| {
        lock(&links.out).insert(node.to_string(), tx);
        (
            core.cluster_snapshot().unwrap_or_default(),
            core.cluster_retained(),
        )
    });
    drop(shared);
    links.stats.connects.fetch_add(1, Ordering::Relaxed);
    tracing::info!(
        "Cluster: link to {node} up; sent {} routes and {} retained messages.",
        snapshot.filters.len(),
        retained.len()
    );
    let (mut rd, mut wr) = sock.into_split();
    let mut buf = BytesMut::new();
    Frame::Hello {
        version: VERSION,
        cluster: links.cluster.clone(),
        node: links.me.clone(),
        incarnation: links.incarnation,
    }
    .encode(&mut buf);
    Frame::Routes(snapshot).encode(&mut buf);
    for msg in retained {
        Frame::Retain {
            fill: true,
            topic: msg.topic.clone(),
            message: Some(msg),
        }
        .encode(&mut buf);
    }
    wr.write_all(&buf).await?;
    let mut batch = Vec::with_capacity(256);
    let mut scratch = [0u8; 64];
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, 256) => {
                if n == 0 {
                    return Ok(()); // forgotten
                }
                buf.clear();
                for frame in batch.drain(..) {
                    frame.encode(&mut buf);
                }
                wr.write_all(&buf).await?;
            }
            read = rd.read(&mut scratch) => match read {
                // The peer sends nothing on this link: EOF or an error
                // means it closed it (a resync, or it stopped).
                Ok(0) => return Ok(()),
                Ok(_) => {}
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
                tokio::spawn(serve_in(links.clone(), sock, peer));
            }
            Err(e) => {
                tracing::warn!("Cluster: accepting a link failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One incoming link: checks Hello, then feeds every frame to the core.
async fn serve_in(links: Arc<Links>, mut sock: TcpStream, peer: SocketAddr) {
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
    lock(&links.inbound).insert(node.clone(), resync.clone());
    let result = read_frames(&links, &node, &mut sock, &mut buf, &resync).await;
    {
        let mut inbound = lock(&links.inbound);
        if inbound.get(&node).is_some_and(|n| Arc::ptr_eq(n, &resync)) {
            inbound.remove(&node);
        }
    }
    match result {
        Ok(true) => tracing::info!("Cluster: link from {node} ended for a fresh snapshot."),
        Ok(false) => tracing::info!("Cluster: link from {node} closed."),
        Err(e) => tracing::warn!("Cluster: link from {node} broke: {e}."),
    }
}

/// Reads and applies frames until EOF (`false`) or a resync (`true`).
async fn read_frames(
    links: &Links,
    node: &str,
    sock: &mut TcpStream,
    buf: &mut BytesMut,
    resync: &Notify,
) -> Result<bool, String> {
    let mut frames = Vec::new();
    loop {
        while let Some(frame) = Frame::decode(buf).map_err(|e| e.to_string())? {
            frames.push(frame);
        }
        if !frames.is_empty() {
            let Some(shared) = links.shared.upgrade() else {
                return Ok(false);
            };
            shared.with_core(|core| {
                let now = Instant::now();
                for frame in frames.drain(..) {
                    apply(core, now, node, frame);
                }
            });
        }
        tokio::select! {
            read = sock.read_buf(buf) => match read {
                Ok(0) => return Ok(false),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            },
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
        Frame::Retain {
            fill,
            topic,
            message,
        } => core.node_retained(now, node, topic, message, fill),
        Frame::Hello { .. } => {
            tracing::warn!("Cluster: a second Hello from {node} ignored.");
        }
    }
}
