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
//! Module map: `broker` (tables, inputs, outputs), `lifecycle` (a
//! connection's states and transitions), `violation` (peer errors and
//! their answer), `auth` (passwords,
//! enhanced authentication), `authorize` (ACL decisions), `connect`, `limits` (per-client limits, rates, flapping), `publish`,
//! `subscribe`, `timers`, `sys` (one `impl Broker` concern each),
//! `session` (per-client state), `trie` (subscription index),
//! `retained` (retained message index), `settings`, `logfmt`, `admin`
//! (snapshots and commands for the admin API).

#![forbid(unsafe_code)]

mod admin;
mod auth;
mod authorize;
mod broker;
mod client_ids;
mod connect;
mod durable;
mod hints;
mod identity;
mod lifecycle;
mod limits;
mod logfmt;
mod message_size;
mod outgoing_qos;
pub mod persist;
mod publish;
pub mod retained;
mod session;
mod settings;
mod shared;
mod subscribe;
mod sys;
mod timers;
pub mod trie;
mod violation;

pub use admin::{
    AdminError, AdminPublish, ClientDetail, ClientRow, FilterCount, RetainedRow, SubscriptionRow,
    WillInfo,
};
pub use auth::{AuthExchange, AuthStep, Authenticator, PasswordCheck};
pub use authorize::{Access, Authorizer, Denied, Principal};
pub use broker::{Action, Broker, CloseCause, ConnId, ConnInfo, QueueState};
pub use durable::AckPolicy;
pub use hints::{ConfigWording, Fix, Hint};
pub use settings::{Anonymous, RateAction, Settings, Wording};
pub use shared::SharedStrategy;
pub use sys::{ListenerFigures, Stats, StoreFigures};
pub use violation::PeerError;
