//! The cluster shell (`docs/cluster.md`): it moves bytes and reports
//! membership; every MQTT decision is the core's (`hornet-core`'s
//! `clustering`). One job per file: `membership` (etcd: this node's key
//! under its lease, the watch on every node's key), `codec` (the link's
//! frames), `links` (dialing, accepting, and carrying the core's cluster
//! actions to the other nodes), `ownership` (client ids of persistent
//! sessions claimed in etcd, and the lease watchdog), `outbox` (what a
//! link resends after a reconnect, what its receiver skips), `tls` (TLS on
//! the links).

mod codec;
mod links;
mod membership;
mod outbox;
mod ownership;
mod tls;

use std::io;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub(crate) use links::Links;
pub(crate) use ownership::Ownership;

use crate::config::Cluster as ClusterConfig;
use crate::server::Shared;

/// A node that has bound its link listener and joined etcd, before the
/// broker serves.
pub(crate) struct Prepared {
    joined: membership::Joined,
    listener: TcpListener,
    advertise: String,
    tls: Option<Arc<tls::LinkTls>>,
}

impl Prepared {
    /// This node's incarnation (the core's route streams carry it).
    pub(crate) fn incarnation(&self) -> u64 {
        self.joined.incarnation()
    }
}

/// Binds the link listener and joins the cluster: waits (logging, retrying)
/// while etcd does not answer; a name another live node holds is an error.
pub(crate) async fn prepare(config: &ClusterConfig) -> io::Result<Prepared> {
    let tls = tls::LinkTls::load(config).map_err(|e| io::Error::other(e.to_string()))?;
    let listener = TcpListener::bind(&config.listen).await.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot listen for cluster links on {}: {e}", config.listen),
        )
    })?;
    let advertise = match &config.advertise {
        Some(a) => a.clone(),
        None => listener.local_addr()?.to_string(),
    };
    let joined = membership::join(config, &advertise)
        .await
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(Prepared {
        joined,
        listener,
        advertise,
        tls,
    })
}

/// Starts the links, the keep-alive, the membership watch, the claims of
/// client ids and the lease watchdog; the core already knows it is a
/// cluster node.
pub(crate) fn start(
    prepared: Prepared,
    config: &ClusterConfig,
    shared: &Arc<Shared>,
) -> (Arc<Links>, Arc<Ownership>, Vec<JoinHandle<()>>) {
    let node = config.node.clone().unwrap_or_default();
    let links = Arc::new(Links::new(
        &node,
        &config.name,
        prepared.incarnation(),
        Arc::downgrade(shared),
    ));
    let watch_client = prepared.joined.client.clone();
    let lease = Arc::new(std::sync::atomic::AtomicI64::new(prepared.joined.lease));
    links.set_etcd(prepared.joined.client.clone(), lease.clone());
    let ownership = Arc::new(Ownership::new(
        config,
        prepared.joined.client.clone(),
        lease.clone(),
        Arc::downgrade(shared),
    ));
    let health = Arc::new(ownership::Health::new());
    if let Some(tls) = prepared.tls.clone() {
        links.set_tls(tls);
    }
    let tasks = vec![
        tokio::spawn(ownership::watch(ownership.clone())),
        tokio::spawn(ownership::watchdog(
            config.clone(),
            health.clone(),
            Arc::downgrade(shared),
        )),
        tokio::spawn(links::accept_loop(links.clone(), prepared.listener)),
        tokio::spawn(membership::keep_alive(
            config.clone(),
            prepared.advertise,
            prepared.joined,
            links.clone(),
            lease.clone(),
            health,
            Arc::downgrade(shared),
        )),
        tokio::spawn(membership::watch(
            config.clone(),
            watch_client,
            shared.clone(),
            links.clone(),
            lease,
        )),
    ];
    (links, ownership, tasks)
}
