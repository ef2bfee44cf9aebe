//! The startup banner: what is served where, who may connect, where state
//! lives and the effective limits, logged once the listeners are bound.
//!
//! The words come from [`crate::describe`], which `hornet check-config`
//! prints too, so the banner and the check never disagree.

use crate::config::Config;
use crate::describe::{self, AclCounts, UserCounts};
use crate::server::Server;

/// Logs the banner for `config` as `server` runs it (bound addresses).
pub fn log(config: &Config, server: &Server, users: Option<UserCounts>, acl: Option<AclCounts>) {
    tracing::info!("hornet version {} starting", env!("CARGO_PKG_VERSION"));
    match &config.source {
        Some(path) => tracing::info!("Config loaded from {}.", path.display()),
        None => tracing::info!("Using default config (no -c file given)."),
    }
    tracing::info!(
        "Authentication: {}",
        describe::authentication(config, users)
    );
    if let Some(rule) = describe::anonymous_rule(config) {
        tracing::info!("Note: {rule}");
    }
    tracing::info!("Authorization: {}", describe::authorization(config, acl));
    for (listener, stats) in config.listeners.iter().zip(server.listener_stats()) {
        tracing::info!(
            "Opening {}.",
            describe::listener(config, listener, stats.addr)
        );
    }
    if let Some(addr) = server.admin_addr() {
        tracing::info!("{}", describe::admin(config, Some(addr)));
    }
    if config.persistence.enabled == Some(true) {
        tracing::info!("Persistence: {}", describe::persistence(config));
    } else {
        tracing::info!("Persistence {}", describe::persistence(config));
    }
    let (set, defaults) = describe::limits_summary(config);
    if !set.is_empty() {
        tracing::info!("Limits set in the config: {}.", set.join(", "));
    }
    tracing::info!(
        "Limits at their defaults: {}. `hornet check-config FILE` lists them all; see \
         docs/configuration.md.",
        defaults.join(", ")
    );
}
