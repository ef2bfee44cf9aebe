//! # hornet-core
//!
//! The Hornet broker as a deterministic state machine: sessions, routing,
//! QoS flows, retained messages, wills, keep-alive and `$SYS`.
//!
//! Nothing here touches a socket, a thread or a clock. The shell feeds
//! [`Broker`] events with the current time (`connection_opened`,
//! `packet_received`, `decode_failed`, `connection_closed`,
//! `packets_written`, `tick`) and drains [`Action`]s (send this packet on
//! that connection, close that connection). The same inputs always give the
//! same outputs, which is what makes every rule testable in microseconds
//! (see `tests/`) and the state persistable later without a rewrite.
//!
//! Module map. The coordinator: `broker` (the [`Broker`], its inputs,
//! the dispatch by connection state, the answer to a [`PeerError`]) and its
//! rules, one `impl Broker` concern each: `connect`, `authenticate`,
//! `auto_subscribe` (templates subscribed at CONNECT),
//! `publish`, `subscribe`, `ending` (connection and session end, wills,
//! shared hand-over), `timers`, `delayed_publish` (`$delayed/` messages
//! held and published when due), `records` (persistence records, restore),
//! `durable` (output held for the disk), `admin` (snapshots and commands
//! for the admin API), `admin_sessions` (sessions made for client ids that
//! never connected). The parts, each owning its state behind
//! `pub(crate)` methods and importing no broker: `connections` and `conn`
//! (live connections, deadlines, topic aliases), `lifecycle` (a
//! connection's states), `sessions` and `session` (the sessions table and
//! per-client state), `queue_policy` (what a queue keeps), `route` and `trie` (subscription index, routing),
//! `retained`, `rewrite` (topic rewrite rules), `shared` (shared subscription groups), `exclusive`
//! (`$exclusive/` claims), `delayed` (messages held for `$delayed/`), `wills` (delayed
//! wills), `limits` (flapping, rate buckets, topic limits), `sys` (stats,
//! `$SYS`), `persist` (store records, the journal), `out` (actions, held
//! output), `auth` / `authorize` (the authenticator and ACL interfaces),
//! `violation` (peer errors), `hints` / `wording` (first-time hints),
//! `ids`, `settings`, `logfmt`. The cluster: `cluster` (routes of other
//! nodes, exported filters) and `clustering` (its rules: forwarding,
//! route deltas, membership); `retained_order` (retained writes in the
//! cluster's order: last write wins by `stamp`, a hybrid logical clock,
//! deletes kept as `tombstones`); `claims` (who owns which
//! persistent session's client id) and `claiming` (its rules: claims
//! through etcd fenced by revision, dead owners, cut off from etcd);
//! `moving` (a persistent session crossing to the node that claimed it).

#![forbid(unsafe_code)]

mod acknowledging;
mod admin;
mod admin_sessions;
mod auth;
mod authenticate;
mod authorize;
mod auto_subscribe;
mod backlog;
mod broker;
mod broker_log;
mod claiming;
mod claims;
mod client_ids;
mod client_stamps;
pub mod cluster;
mod cluster_acks;
mod cluster_shared;
mod cluster_wills;
mod clustering;
mod conn;
mod connect;
mod connections;
mod delayed;
mod delayed_publish;
mod durable;
mod ending;
mod exclusive;
mod gated;
mod hints;
mod identity;
mod ids;
mod lifecycle;
mod limits;
mod local_marks;
mod logfmt;
mod message_size;
mod mount_point;
mod moving;
mod out;
mod outgoing_qos;
mod pending_wills;
pub mod persist;
mod publish;
mod queue_policy;
mod records;
mod retain_source;
pub mod retained;
mod retained_order;
mod rewrite;
mod route;
mod session;
mod sessions;
mod settings;
mod shared;
mod stamp;
mod subscribe;
mod sys;
mod takeover;
mod takeovers;
mod timers;
mod tombstones;
pub mod trie;
mod violation;
mod wills;
mod wording;

pub use admin::{
    AdminError, AdminPublish, ClientDetail, ClientRow, FilterCount, RetainedRow, SubscriptionRow,
    WillInfo,
};
pub use admin_sessions::PresetSession;
pub use auth::{AuthExchange, AuthStep, Authenticator, PasswordCheck};
pub use authorize::{Access, Authorizer, Denied, Principal};
pub use broker::{Broker, QueueState};
pub use broker_log::{SUBSCRIBE_LOG_TARGET, UNSUBSCRIBE_LOG_TARGET};
pub use claims::{ClaimResult, MovedSubscription, OrphanSessions, SessionMove};
pub use cluster::{NodeRow, RouteSnapshot, RouteUpdate};
pub use conn::{CloseCause, ConnInfo};
pub use delayed_publish::DelayedRow;
pub use ids::ConnId;
pub use mount_point::check_mount_point;
pub use out::Action;
pub use pending_wills::NodeWill;
pub use persist::AckPolicy;
pub use queue_policy::QueuePolicy;
pub use retained_order::RetainedWrite;
pub use rewrite::{RewriteAction, RewriteRule};
pub use settings::{Anonymous, AutoSubscription, QueueLimits, RateAction, Settings};
pub use shared::SharedStrategy;
pub use stamp::Stamp;
pub use sys::{ListenerFigures, Stats, StoreFigures};
pub use tombstones::{TOMBSTONES_MAX, TOMBSTONE_TTL};
pub use violation::PeerError;
pub use wording::{ConfigWording, Fix, Hint, Wording};
