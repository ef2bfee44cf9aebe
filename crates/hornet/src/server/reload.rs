//! Reloading the password and ACL files (SIGHUP) without a restart.
//!
//! [`Server::reload_auth`] re-reads `password_file` and `acl_file` from the
//! configuration the server was started with, each on its own: a file
//! that reads cleanly replaces the old one in the core (under the core's
//! lock, between two events), a file with an error leaves the old one in
//! force and the error, with file and line, is logged and returned.
//! Connected clients keep their connections and sessions: new users apply
//! to the next CONNECT, new rules to every client's next SUBSCRIBE,
//! PUBLISH and delivery (the core checks `read` per message).
//!
//! Mosquitto does the same on SIGHUP, except that it also disconnects
//! clients whose user was removed; Hornet leaves them connected (their
//! ACL rules, now those of an unknown user, deny what is not granted by
//! patterns).

use std::sync::Arc;

use crate::config::{self, Config, ConfigError};

use super::{lock, Server, Shared};

/// What a signal handler keeps to reload a running server (cheap to clone,
/// `Send`): see [`Server::reload_handle`].
#[derive(Clone)]
pub struct ReloadHandle {
    shared: Arc<Shared>,
    config: Arc<Config>,
}

impl Server {
    /// Re-reads `password_file` and `acl_file` (see the module doc).
    /// Returns the errors of the files that were kept as they were.
    pub fn reload_auth(&self) -> Result<(), Vec<ConfigError>> {
        self.reload_handle().reload_auth()
    }

    /// A handle that reloads this server from another task (SIGHUP).
    pub fn reload_handle(&self) -> ReloadHandle {
        ReloadHandle {
            shared: self.shared.clone(),
            config: self.config.clone(),
        }
    }
}

impl ReloadHandle {
    /// As [`Server::reload_auth`].
    pub fn reload_auth(&self) -> Result<(), Vec<ConfigError>> {
        let mut errors = Vec::new();
        let users = self
            .config
            .password_file
            .as_deref()
            .map(config::load_password_file);
        let acl = self.config.acl_file.as_deref().map(config::load_acl_file);
        let mut core = lock(&self.shared.core);
        let mut new_users = None;
        let mut new_acl = None;
        match users {
            None => new_users = Some(None),
            Some(Ok(users)) => {
                tracing::info!(
                    "Reloaded password_file {}: {} users.",
                    self.config
                        .password_file
                        .clone()
                        .unwrap_or_default()
                        .display(),
                    users.len()
                );
                new_users = Some(Some(users));
            }
            Some(Err(e)) => {
                tracing::error!("Reload: {e}; keeping the previous password_file.");
                errors.push(e);
            }
        }
        match acl {
            None => new_acl = Some(None),
            Some(Ok(acl)) => {
                let path = self.config.acl_file.clone().unwrap_or_default();
                for warning in acl.warnings() {
                    tracing::warn!("{}: {warning}", path.display());
                }
                tracing::info!(
                    "Reloaded acl_file {}: {} rules for {} users.",
                    path.display(),
                    acl.len(),
                    acl.users()
                );
                new_acl = Some(Some(acl));
            }
            Some(Err(e)) => {
                tracing::error!("Reload: {e}; keeping the previous acl_file rules.");
                errors.push(e);
            }
        }
        // With the runtime users and roles beside them (see `runtime_auth`).
        self.shared
            .runtime_auth
            .set_files(&mut core, new_users, new_acl);
        drop(core);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}
