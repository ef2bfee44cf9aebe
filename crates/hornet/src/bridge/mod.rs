//! Outgoing bridges (Mosquitto's `connection` blocks): one task per
//! bridge. The remote side is `hornet_client::Session` (sans-IO) driven
//! over TCP or TLS (`link.rs`, `task.rs`); the local side is an internal client
//! of the core (`local.rs`); the topic mapping is the configuration's
//! (`config/bridge_topic.rs`); the figures are `stats.rs`; when a bridge
//! connects and stops (start types, `round_robin false`, the stop signal)
//! is `lifecycle.rs`; the set of running bridges and its reload (SIGHUP)
//! is `set.rs`; the QoS flows between the two, with one packet id per
//! message so the remote side's state is in Hornet's store, are
//! `relay.rs`. See `docs/bridges.md`.

mod lifecycle;
mod link;
mod local;
mod relay;
mod set;
mod stats;
mod task;

pub use set::{Bridges, ReloadSummary};
pub use stats::{BridgeSnapshot, BridgeStatus};
