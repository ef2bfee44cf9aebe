//! Ownership of persistent sessions' client ids through etcd (the rules
//! are the core's `claiming`; `docs/cluster.md`): runs the core's
//! [`Action::Claim`] and [`Action::Release`] as etcd transactions, feeds
//! every node's claims from a watch back into the core
//! (`client_claimed`), and the lease watchdog that tells the core when
//! this node is cut off from the etcd quorum (`cluster_cut_off`).
//!
//! Key: `/hornet/{cluster}/clients/{client id}` = `{node} {lease}`. A
//! claim is a write of that key, in one transaction that also checks
//! this node's membership key is still under its current lease (a node
//! the others count dead cannot claim):
//!
//! 1. absent: create it;
//! 2. held by this node, or by a node whose membership key exists
//!    (alive): overwrite it if its mod revision is still the one read
//!    (else read again, at most [`ROUNDS`] times);
//! 3. held by a node that is not alive: [`ClaimResult::Orphaned`], and
//!    the core decides (`orphan_sessions`); with `over` the key is
//!    overwritten only at that revision.
//!
//! The key is not under a lease: a persistent session outlives its
//! connection and, for `orphan_sessions = "refuse"`, its node's death.
//! It goes when the session ends on its owner (a release deletes it only
//! at the revision that claim wrote).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use etcd_client::{
    Client, Compare, CompareOp, EventType, GetOptions, PutOptions, Txn, TxnOp, TxnOpResponse,
    WatchOptions,
};
use hornet_core::{Action, ClaimResult, ConnId};

use crate::config::Cluster as ClusterConfig;
use crate::server::Shared;

/// Reads and writes of one claim before etcd counts as too busy.
const ROUNDS: usize = 5;

/// How long one claim may take before the CONNECT is refused (0x88).
const CLAIM_TIMEOUT: Duration = Duration::from_secs(3);

/// When the last lease keep-alive that succeeded was sent (see
/// [`watchdog`]).
#[derive(Debug)]
pub(crate) struct Health {
    last_ok: Mutex<Instant>,
    /// Wakes a watchdog that waits, cut off, for a keep-alive to succeed.
    changed: tokio::sync::Notify,
}

impl Health {
    pub(crate) fn new() -> Health {
        Health {
            last_ok: Mutex::new(Instant::now()),
            changed: tokio::sync::Notify::new(),
        }
    }

    /// A keep-alive sent at `sent` succeeded: the lease lives at least
    /// until `sent` + its TTL.
    pub(crate) fn ok(&self, sent: Instant) {
        let mut last = self.last_ok.lock().unwrap_or_else(|p| p.into_inner());
        *last = (*last).max(sent);
        self.changed.notify_one();
    }

    fn last_ok(&self) -> Instant {
        *self.last_ok.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How long before its lease could expire a node stops serving what it
/// owns: a quarter of the TTL, at least half a second.
pub(crate) fn margin(lease_ttl: Duration) -> Duration {
    (lease_ttl / 4).max(Duration::from_millis(500))
}

/// This node's claims (see the module doc).
pub(crate) struct Ownership {
    client: Client,
    clients: String,
    nodes: String,
    me: String,
    /// This node's current lease (new after a rejoin).
    lease: Arc<AtomicI64>,
    shared: Weak<Shared>,
    runtime: tokio::runtime::Handle,
}

impl Ownership {
    pub(crate) fn new(
        config: &ClusterConfig,
        client: Client,
        lease: Arc<AtomicI64>,
        shared: Weak<Shared>,
    ) -> Ownership {
        Ownership {
            client,
            clients: format!("/hornet/{}/clients/", config.name),
            nodes: super::membership::prefix(config),
            me: config.node.clone().unwrap_or_default(),
            lease,
            shared,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// Runs one of the core's ownership actions (called under the outbox
    /// lock: the work runs on a task).
    pub(crate) fn apply(self: &Arc<Self>, action: Action) {
        let this = self.clone();
        match action {
            Action::Claim {
                conn,
                client_id,
                over,
            } => {
                self.runtime.spawn(async move {
                    let result = this.claim_within(&client_id, over).await;
                    this.report(conn, result);
                });
            }
            Action::Release {
                client_id,
                revision,
            } => {
                self.runtime
                    .spawn(async move { this.release(&client_id, revision).await });
            }
            _ => {}
        }
    }

    fn report(&self, conn: ConnId, result: ClaimResult) {
        if let Some(shared) = self.shared.upgrade() {
            shared.with_core(|core| core.claim_result(Instant::now(), conn, result));
        }
    }

    async fn claim_within(&self, client_id: &str, over: Option<u64>) -> ClaimResult {
        match tokio::time::timeout(CLAIM_TIMEOUT, self.claim(client_id, over)).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => {
                tracing::warn!("Cluster: claiming client {client_id} in etcd failed: {e}.");
                ClaimResult::Unavailable
            }
            Err(_) => {
                tracing::warn!(
                    "Cluster: etcd did not confirm client {client_id}'s claim within {} s.",
                    CLAIM_TIMEOUT.as_secs()
                );
                ClaimResult::Unavailable
            }
        }
    }

    /// One claim (see the module doc).
    async fn claim(
        &self,
        client_id: &str,
        over: Option<u64>,
    ) -> Result<ClaimResult, etcd_client::Error> {
        let mut client = self.client.clone();
        let key = format!("{}{client_id}", self.clients);
        let node_key = format!("{}{}", self.nodes, self.me);
        let lease = self.lease.load(Ordering::Relaxed);
        let value = format!("{} {lease:x}", self.me);
        let member = Compare::lease(node_key.clone(), CompareOp::Equal, lease);
        let put = || TxnOp::put(key.clone(), value.clone(), None::<PutOptions>);
        let reads = || {
            [
                TxnOp::get(key.clone(), None),
                TxnOp::get(node_key.clone(), None),
            ]
        };
        // The key's holder and mod revision, and whether this node is
        // still a member under its lease, from a failed transaction.
        let judge = |r: &etcd_client::TxnResponse| {
            let mut held = None;
            let mut member = false;
            for (i, op) in r.op_responses().into_iter().enumerate() {
                if let TxnOpResponse::Get(g) = op {
                    let kv = g.kvs().first();
                    if i == 0 {
                        held = kv.map(|kv| {
                            let value = String::from_utf8_lossy(kv.value());
                            let holder = value.split_whitespace().next().unwrap_or("").to_string();
                            (holder, kv.mod_revision())
                        });
                    } else {
                        member = kv.is_some_and(|kv| kv.lease() == lease);
                    }
                }
            }
            (held, member)
        };
        let revision = |r: &etcd_client::TxnResponse| r.header().map_or(0, |h| h.revision()) as u64;
        let mut expect: Option<i64> = over.map(|r| r as i64);
        // The live node the key named (its session follows).
        let mut from: Option<String> = None;
        for _ in 0..ROUNDS {
            let guard = match expect {
                None => Compare::create_revision(key.clone(), CompareOp::Equal, 0),
                Some(rev) => Compare::mod_revision(key.clone(), CompareOp::Equal, rev),
            };
            let txn = Txn::new()
                .when([member.clone(), guard])
                .and_then([put()])
                .or_else(reads());
            let response = client.txn(txn).await?;
            if response.succeeded() {
                return Ok(ClaimResult::Won {
                    revision: revision(&response),
                    from: from.map(Into::into),
                });
            }
            let (held, member) = judge(&response);
            if !member {
                tracing::warn!(
                    "Cluster: cannot claim client {client_id}: this node's membership key is \
                     not under its lease any more (the others count it dead)."
                );
                return Ok(ClaimResult::Unavailable);
            }
            let Some((holder, mod_revision)) = held else {
                expect = None; // deleted meanwhile: create it
                continue;
            };
            from = (holder != self.me).then(|| holder.clone());
            if holder != self.me && expect != Some(mod_revision) {
                let alive = !client
                    .get(format!("{}{holder}", self.nodes), None)
                    .await?
                    .kvs()
                    .is_empty();
                if !alive {
                    return Ok(ClaimResult::Orphaned {
                        node: holder.into(),
                        revision: mod_revision as u64,
                    });
                }
            }
            expect = Some(mod_revision);
        }
        tracing::warn!(
            "Cluster: client {client_id}'s key changed {ROUNDS} times while claiming it; \
             refusing this CONNECT."
        );
        Ok(ClaimResult::Unavailable)
    }

    /// Deletes `client_id`'s key if this node's claim at `revision` is
    /// still its last write.
    async fn release(&self, client_id: &str, revision: u64) {
        let key = format!("{}{client_id}", self.clients);
        let txn = Txn::new()
            .when([Compare::mod_revision(
                key.clone(),
                CompareOp::Equal,
                revision as i64,
            )])
            .and_then([TxnOp::delete(key, None)]);
        let mut client = self.client.clone();
        match tokio::time::timeout(CLAIM_TIMEOUT, client.txn(txn)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(
                "Cluster: could not release client {client_id}'s key ({e}); it names this node \
                 until its next claim."
            ),
            Err(_) => tracing::warn!(
                "Cluster: etcd did not answer the release of client {client_id}'s key; it \
                 names this node until its next claim."
            ),
        }
    }
}

/// Feeds every node's claims to the core, from the revision current at
/// start; after a broken watch it resumes where it stopped (or, if etcd
/// compacted that history, from the current revision).
pub(crate) async fn watch(ownership: Arc<Ownership>) {
    let prefix = ownership.clients.clone();
    let mut client = ownership.client.clone();
    let mut next: Option<i64> = None;
    // The first read gets every key: the sessions restored from this
    // node's store are held under the claims that name it
    // (`cluster_claims_read`), and the watch starts right after it.
    let mut first = true;
    loop {
        let result: Result<(), etcd_client::Error> = async {
            let start = match next {
                Some(n) => n,
                None => {
                    let options = GetOptions::new().with_prefix();
                    let options = if first {
                        options
                    } else {
                        options.with_count_only()
                    };
                    let now = client.get(prefix.clone(), Some(options)).await?;
                    if first {
                        first = false;
                        claims_read(&ownership, &prefix, &now);
                    }
                    now.header().map_or(0, |h| h.revision()) + 1
                }
            };
            // A broken watch resumes here at the latest, so no claim
            // written meanwhile is missed.
            next = Some(start);
            let options = WatchOptions::new().with_prefix().with_start_revision(start);
            let mut stream = client.watch(prefix.clone(), Some(options)).await?;
            while let Some(response) = stream.message().await? {
                if response.compact_revision() > 0 {
                    next = None;
                    return Ok(());
                }
                let Some(shared) = ownership.shared.upgrade() else {
                    return Ok(());
                };
                for event in response.events() {
                    let Some(kv) = event.kv() else { continue };
                    next = next.max(Some(kv.mod_revision() + 1));
                    if event.event_type() != EventType::Put {
                        continue;
                    }
                    let Some(id) = std::str::from_utf8(kv.key())
                        .ok()
                        .and_then(|k| k.strip_prefix(&prefix))
                    else {
                        continue;
                    };
                    let value = String::from_utf8_lossy(kv.value());
                    let node = value.split_whitespace().next().unwrap_or("");
                    let revision = kv.mod_revision() as u64;
                    shared
                        .with_core(|core| core.client_claimed(Instant::now(), id, node, revision));
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!("Cluster: the client id watch broke ({e}); watching again in 1 s.");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Every client id key as read at start, for the core: (client id, the
/// node it names, its mod revision).
fn claims_read(ownership: &Ownership, prefix: &str, got: &etcd_client::GetResponse) {
    let keys: Vec<(bytestring::ByteString, bytestring::ByteString, u64)> = got
        .kvs()
        .iter()
        .filter_map(|kv| {
            let id = std::str::from_utf8(kv.key()).ok()?.strip_prefix(prefix)?;
            let value = String::from_utf8_lossy(kv.value());
            let node = value.split_whitespace().next().unwrap_or("");
            Some((id.into(), node.into(), kv.mod_revision() as u64))
        })
        .collect();
    let Some(shared) = ownership.shared.upgrade() else {
        return;
    };
    let n = keys.len();
    let held = shared.with_core(|core| core.cluster_claims_read(Instant::now(), keys));
    tracing::info!(
        "Cluster: read {n} client id claims from etcd; {held} name sessions restored here."
    );
}

/// Tells the core when this node is cut off: no lease keep-alive sent in
/// the last `lease_ttl` minus [`margin`] succeeded, so its lease may
/// expire before it hears of it. On the monotonic clock, without polling:
/// it sleeps until the moment the last success allows (a timer that also
/// fires at once when the process resumes after a pause past it), and
/// while cut off until a keep-alive succeeds. (It used to check every
/// 100 ms: ten wake-ups a second of an idle node.)
pub(crate) async fn watchdog(config: ClusterConfig, health: Arc<Health>, shared: Weak<Shared>) {
    let ttl = Duration::from_secs(config.lease_ttl);
    let limit = ttl.saturating_sub(margin(ttl));
    let mut cut = false;
    loop {
        let deadline = health.last_ok() + limit;
        let now_cut = Instant::now() >= deadline;
        if now_cut == cut {
            if cut {
                health.changed.notified().await;
            } else {
                tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).await;
            }
            continue;
        }
        let since = health.last_ok().elapsed();
        cut = now_cut;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if cut {
            tracing::error!(
                "Cluster: no etcd lease keep-alive succeeded for {:.1} s (lease_ttl {} s, \
                 margin {:.1} s): cut off from the etcd quorum.",
                since.as_secs_f64(),
                config.lease_ttl,
                margin(ttl).as_secs_f64()
            );
        }
        // Past the whole TTL the lease is gone at etcd, which counts from
        // the last keep-alive it got (no later than our last success):
        // the others published this node's wills already.
        let lease_gone = cut && since >= ttl;
        shared.with_core(|core| core.cluster_cut_off(Instant::now(), cut, lease_gone));
    }
}
