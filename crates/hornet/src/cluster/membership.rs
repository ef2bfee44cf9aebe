//! Membership through etcd: this node's key under its own lease, kept
//! alive; a watch on every node's key; a node is alive while its key
//! exists and dead exactly when it goes (its lease expired, or it left).
//!
//! Keys: `/hornet/{cluster}/nodes/{node}` = `{advertise} {incarnation}`.
//! Joining is one transaction, "create the key if nobody holds it", so a
//! second live node with the same name is refused (and says so) while the
//! first one's lease lives. etcd unreachable at start is logged and
//! retried until it answers.
//!
//! When a node dies, every survivor runs the same election for its
//! clients' wills: a transaction creating
//! `/hornet/{cluster}/wills/{node}/{incarnation}` under the survivor's
//! lease; the one that creates it publishes the wills, the others drop
//! their copies of the connected clients' wills and keep standby copies of
//! the delayed ones. The key goes with its winner's lease: when any node
//! dies (or this node joins again after its lease expired), the survivors
//! holding standby copies run that election again, so a new winner
//! publishes what the dead winner had not.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, PutOptions, Txn, TxnOp,
    TxnOpResponse, WatchOptions,
};

use super::links::Links;
use crate::config::Cluster as ClusterConfig;
use crate::server::Shared;

/// Why this node cannot join.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JoinError {
    /// etcd did not answer (retried at start).
    #[error("etcd at {endpoints} did not answer: {source}")]
    Etcd {
        endpoints: String,
        #[source]
        source: etcd_client::Error,
    },
    /// Another live node holds this name.
    #[error(
        "another live node already holds the name {node:?} (etcd key {key} = {holder:?}); \
         refusing to join. Node names must be unique; after a crash, the old lease \
         expires within lease_ttl"
    )]
    Taken {
        node: String,
        key: String,
        holder: String,
    },
}

/// This node's place in etcd.
pub(crate) struct Joined {
    pub(crate) client: Client,
    pub(crate) lease: i64,
}

impl Joined {
    /// The incarnation links announce: the lease id, new at every join.
    pub(crate) fn incarnation(&self) -> u64 {
        self.lease as u64
    }
}

/// The key prefix of `cluster`'s nodes.
pub(crate) fn prefix(cluster: &ClusterConfig) -> String {
    format!("/hornet/{}/nodes/", cluster.name)
}

/// Joins, retrying while etcd does not answer (each failure logged with
/// the endpoints and the reason); a taken name is returned at once.
pub(crate) async fn join(cluster: &ClusterConfig, advertise: &str) -> Result<Joined, JoinError> {
    let mut logged = 0u32;
    loop {
        match try_join(cluster, advertise).await {
            Ok(joined) => {
                if logged > 0 {
                    tracing::info!("Cluster: etcd answers; joined.");
                }
                return Ok(joined);
            }
            Err(e @ JoinError::Taken { .. }) => return Err(e),
            Err(e) => {
                // Every failure for the first few, then every 10th.
                if logged < 3 || logged % 10 == 0 {
                    tracing::error!("Cluster: cannot join: {e}; retrying every 2 s.");
                }
                logged += 1;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

async fn try_join(cluster: &ClusterConfig, advertise: &str) -> Result<Joined, JoinError> {
    let endpoints = cluster.etcd.join(", ");
    let etcd = |source| JoinError::Etcd {
        endpoints: endpoints.clone(),
        source,
    };
    let options = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(2))
        .with_timeout(Duration::from_secs(5));
    let mut client = Client::connect(&cluster.etcd, Some(options))
        .await
        .map_err(etcd)?;
    let ttl = i64::try_from(cluster.lease_ttl).unwrap_or(i64::MAX);
    let lease = client.lease_grant(ttl, None).await.map_err(etcd)?.id();
    let node = cluster.node.clone().unwrap_or_default();
    let key = format!("{}{node}", prefix(cluster));
    let value = format!("{advertise} {lease}");
    let txn = Txn::new()
        .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
        .and_then([TxnOp::put(
            key.clone(),
            value,
            Some(PutOptions::new().with_lease(lease)),
        )])
        .or_else([TxnOp::get(key.clone(), None)]);
    let response = client.txn(txn).await.map_err(etcd)?;
    if !response.succeeded() {
        let holder = response
            .op_responses()
            .into_iter()
            .find_map(|r| match r {
                TxnOpResponse::Get(g) => g
                    .kvs()
                    .first()
                    .map(|kv| String::from_utf8_lossy(kv.value()).into_owned()),
                _ => None,
            })
            .unwrap_or_default();
        let _ = client.lease_revoke(lease).await;
        return Err(JoinError::Taken { node, key, holder });
    }
    tracing::info!(
        "Cluster: joined {} as node {node} (etcd {endpoints}, lease {lease:x} of {ttl} s, \
         links at {advertise}).",
        cluster.name
    );
    Ok(Joined { client, lease })
}

/// Keeps the lease alive every third of its TTL. If it expired anyway
/// (etcd unreachable longer than the TTL, or the process paused: every
/// other node has purged this one's routes and published its clients'
/// wills), the node joins again, closes the connections of that time
/// without their wills (`Broker::cluster_lease_expired`) and restarts its
/// links, so every peer gets a fresh snapshot.
pub(crate) async fn keep_alive(
    cluster: ClusterConfig,
    advertise: String,
    mut joined: Joined,
    links: Arc<Links>,
    lease: Arc<AtomicI64>,
    health: Arc<super::ownership::Health>,
    shared: std::sync::Weak<Shared>,
) {
    let every = Duration::from_millis(cluster.lease_ttl * 1000 / 3).max(Duration::from_millis(300));
    let mut last_ok = Instant::now();
    loop {
        let alive = async {
            let (mut keeper, mut stream) = joined.client.lease_keep_alive(joined.lease).await?;
            loop {
                // The lease lives at least TTL after the request left.
                let sent = Instant::now();
                keeper.keep_alive().await?;
                match stream.message().await? {
                    Some(r) if r.ttl() > 0 => {
                        last_ok = Instant::now();
                        health.ok(sent);
                    }
                    _ => return Ok::<bool, etcd_client::Error>(false),
                }
                tokio::time::sleep(every).await;
            }
        }
        .await;
        match alive {
            Ok(_) => tracing::error!(
                "Cluster: this node's etcd lease expired: the other nodes count it dead and \
                 dropped its routes; joining again."
            ),
            Err(e) => {
                let since = last_ok.elapsed();
                if since < Duration::from_secs(cluster.lease_ttl) {
                    tracing::warn!(
                        "Cluster: lease keep-alive failed ({e}); {:.1} s since the last one, \
                         retrying.",
                        since.as_secs_f64()
                    );
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
                tracing::error!(
                    "Cluster: no lease keep-alive for {:.1} s (lease_ttl {} s): the lease has \
                     expired ({e}); joining again.",
                    since.as_secs_f64(),
                    cluster.lease_ttl
                );
            }
        }
        match join(&cluster, &advertise).await {
            Ok(j) => {
                let sent = Instant::now();
                joined = j;
                // First: the wills' elections run again under it.
                lease.store(joined.lease, Ordering::Relaxed);
                // Joining again proves the old key (under the old lease)
                // is gone: the others counted this node dead and published
                // its clients' wills. Those connections end, without the
                // wills; before the watchdog hears of the new lease.
                if let Some(shared) = shared.upgrade() {
                    shared.with_core(|core| core.cluster_lease_expired(Instant::now()));
                }
                last_ok = Instant::now();
                health.ok(sent);
                links.restart_all();
            }
            Err(e) => {
                tracing::error!("Cluster: cannot join again: {e}; retrying in lease_ttl.");
                tokio::time::sleep(Duration::from_secs(cluster.lease_ttl)).await;
            }
        }
    }
}

/// Watches every node's key: a node that appears is alive (and dialed),
/// one whose key goes is dead (its routes are purged). After a broken
/// watch the list is read again and whatever vanished meanwhile is dead.
pub(crate) async fn watch(
    cluster: ClusterConfig,
    mut client: Client,
    shared: Arc<Shared>,
    links: Arc<Links>,
    lease: Arc<AtomicI64>,
) {
    let prefix = prefix(&cluster);
    let me = cluster.node.clone().unwrap_or_default();
    // Each live node's link address and incarnation.
    let mut known: HashMap<String, (String, u64)> = HashMap::new();
    // Each dead node's last incarnation (the name of its wills' election).
    let mut dead: HashMap<String, u64> = HashMap::new();
    let election = Election {
        client: client.clone(),
        prefix: format!("/hornet/{}/wills/", cluster.name),
        lease,
    };
    loop {
        let result: Result<(), etcd_client::Error> = async {
            let list = client
                .get(prefix.clone(), Some(GetOptions::new().with_prefix()))
                .await?;
            let revision = list.header().map_or(0, |h| h.revision());
            let mut now: HashMap<String, (String, u64)> = HashMap::new();
            for kv in list.kvs() {
                if let Some((name, addr)) = parse(&prefix, kv.key(), kv.value()) {
                    now.insert(name, addr);
                }
            }
            let gone: Vec<String> = known
                .keys()
                .filter(|n| !now.contains_key(*n))
                .cloned()
                .collect();
            for name in gone {
                down(&shared, &links, &mut known, &mut dead, &election, &name).await;
            }
            for (name, addr) in now {
                if name != me {
                    up(&shared, &links, &mut known, name, addr);
                }
            }
            let options = WatchOptions::new()
                .with_prefix()
                .with_start_revision(revision + 1);
            let mut stream = client.watch(prefix.clone(), Some(options)).await?;
            while let Some(response) = stream.message().await? {
                for event in response.events() {
                    let Some(kv) = event.kv() else { continue };
                    let Some(name) = std::str::from_utf8(kv.key())
                        .ok()
                        .and_then(|k| k.strip_prefix(&prefix))
                        .map(str::to_string)
                    else {
                        continue;
                    };
                    if name == me {
                        if event.event_type() == EventType::Put {
                            // Joined again (its lease had expired): the
                            // wills it was to publish are standby copies
                            // now; it runs their election again.
                            elect_again(&shared, &dead, &election).await;
                        }
                        continue;
                    }
                    match event.event_type() {
                        EventType::Put => {
                            if let Some((name, addr)) = parse(&prefix, kv.key(), kv.value()) {
                                up(&shared, &links, &mut known, name, addr);
                            }
                        }
                        EventType::Delete => {
                            down(&shared, &links, &mut known, &mut dead, &election, &name).await
                        }
                    }
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!("Cluster: the membership watch broke ({e}); watching again in 1 s.");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A node key's name, link address and incarnation.
fn parse(prefix: &str, key: &[u8], value: &[u8]) -> Option<(String, (String, u64))> {
    let name = std::str::from_utf8(key).ok()?.strip_prefix(prefix)?;
    let value = std::str::from_utf8(value).ok()?;
    let mut words = value.split_whitespace();
    let addr = words.next()?;
    let incarnation = words
        .next()
        .and_then(|w| w.parse::<i64>().ok())
        .unwrap_or(0);
    Some((name.to_string(), (addr.to_string(), incarnation as u64)))
}

fn up(
    shared: &Shared,
    links: &Arc<Links>,
    known: &mut HashMap<String, (String, u64)>,
    name: String,
    node: (String, u64),
) {
    if known.get(&name) == Some(&node) {
        return;
    }
    // Its queue first: a route change the core announces once it counts
    // the node alive (a SUBACK may wait for it) is queued for it.
    links.dial(&name, &node.0);
    shared.with_core(|core| core.node_alive(Instant::now(), &name));
    known.insert(name, node);
}

/// Node `name` is dead: its routes go, and the election decides whether
/// this node publishes its clients' wills (the losers keep standby copies
/// of the delayed ones). It may have been the winner of an earlier dead
/// node's wills: those elections run again.
async fn down(
    shared: &Shared,
    links: &Links,
    known: &mut HashMap<String, (String, u64)>,
    dead: &mut HashMap<String, u64>,
    election: &Election,
    name: &str,
) {
    let incarnation = known.remove(name).map_or(0, |(_, i)| i);
    dead.insert(name.to_string(), incarnation);
    links.forget(name);
    shared.with_core(|core| core.node_dead(Instant::now(), name));
    let won = election.run(name, incarnation).await;
    let count = shared.with_core(|core| core.dead_node_wills(Instant::now(), name, won));
    if count > 0 && !won {
        tracing::info!(
            "Cluster: another node publishes the wills of {count} clients of dead node {name}."
        );
    }
    elect_again(shared, dead, election).await;
}

/// Runs the wills' election again for every dead node whose clients'
/// delayed wills this node holds as standby copies: its key was under its
/// winner's lease, so it is free exactly when that winner died (or its
/// lease expired), and one survivor then wins the wills still waiting.
async fn elect_again(shared: &Shared, dead: &HashMap<String, u64>, election: &Election) {
    let nodes = shared.with_core(|core| core.cluster_standby_will_nodes());
    for node in nodes {
        let Some(&incarnation) = dead.get(&node) else {
            continue;
        };
        if election.run(&node, incarnation).await {
            shared.with_core(|core| core.standby_wills_won(Instant::now(), &node));
        }
    }
}

/// The election for a dead node's wills (see the module doc).
struct Election {
    client: Client,
    prefix: String,
    /// This node's current lease.
    lease: Arc<AtomicI64>,
}

impl Election {
    /// Whether this node won the wills of `node` in `incarnation`.
    async fn run(&self, node: &str, incarnation: u64) -> bool {
        let key = format!("{}{node}/{incarnation:x}", self.prefix);
        let lease = self.lease.load(Ordering::Relaxed);
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key.clone(),
                "",
                Some(PutOptions::new().with_lease(lease)),
            )]);
        match self.client.clone().txn(txn).await {
            Ok(r) => r.succeeded(),
            Err(e) => {
                tracing::error!(
                    "Cluster: the election for the wills of dead node {node} failed ({e}); \
                     this node does not publish them."
                );
                false
            }
        }
    }
}
