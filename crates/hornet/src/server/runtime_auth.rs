//! Users, roles and topic rules changed at runtime (the admin API): the
//! document on disk and putting it to work.
//!
//! The document (`hornet_auth::RuntimeAuth`) lives in the data directory
//! as `runtime-auth.json`; a change is written to a temporary file, synced
//! and renamed over it (then the directory is synced) before it applies,
//! so an acknowledged change survives a crash. It then applies to the core
//! at once: the users join the `password_file`'s in the password checks
//! (the file wins a name both have), and the authorizer becomes the roles'
//! rules for runtime users beside the `acl_file` for everyone else; the
//! core re-checks existing subscriptions against it. A deleted user, or
//! one whose password changed, is disconnected (DISCONNECT 0x98). Once
//! the document exists, user names are always checked (a name nobody
//! knows is refused, 0x86), as with a `password_file`; clients without a
//! user name follow the anonymous policy as before.
//!
//! Without persistence there is no data directory, and changes are refused
//! with a message saying so (they would be lost at the next start).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use hornet_auth::{AclFile, PasswordFile, RuntimeAuth, RuntimeError};
use hornet_core::Broker;

use super::Shared;

/// The file name in the data directory.
pub(crate) const FILE_NAME: &str = "runtime-auth.json";

/// Why a change was not made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ChangeError {
    /// The store refused it (bad input, unknown name, a clash).
    #[error(transparent)]
    Refused(#[from] RuntimeError),
    /// There is nowhere durable to keep it.
    #[error(
        "runtime users and roles are kept in the data directory, and persistence is off: \
         turn it on (persistence true) to manage users here, or use the password_file and acl_file"
    )]
    NoDataDirectory,
    /// Writing the file failed; nothing changed.
    #[error("cannot write {path}: {error}")]
    Write { path: String, error: io::Error },
}

/// The runtime document with the file rules it sits beside.
#[derive(Debug)]
pub(crate) struct RuntimeAuthStore {
    path: Option<PathBuf>,
    state: Mutex<State>,
    /// Held for a whole change (see `change`).
    changing: Mutex<()>,
}

#[derive(Debug, Default)]
struct State {
    auth: RuntimeAuth,
    /// The document exists (read at start or written since): user names
    /// are then always checked, even once every runtime user is deleted,
    /// as with a password_file (a deleted user must not get in as an
    /// unchecked name).
    active: bool,
    /// The password_file's users and the acl_file's rules as last loaded.
    file_users: Option<PasswordFile>,
    file_acl: Option<AclFile>,
}

impl RuntimeAuthStore {
    /// Reads `dir/runtime-auth.json` if it exists (`dir`: the data
    /// directory, `None` without persistence). A file that cannot be read
    /// stops the start with its path and reason.
    pub(crate) fn open(dir: Option<&Path>) -> io::Result<RuntimeAuthStore> {
        let path = dir.map(|d| d.join(FILE_NAME));
        let active = path.as_ref().is_some_and(|p| p.exists());
        let auth = match &path {
            Some(p) if p.exists() => {
                let text = std::fs::read_to_string(p)?;
                RuntimeAuth::parse(&text).map_err(|e| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", p.display()))
                })?
            }
            _ => RuntimeAuth::default(),
        };
        if !auth.users.is_empty() {
            tracing::info!(
                "Runtime users: {} users and {} roles from {}.",
                auth.users.len(),
                auth.roles.len(),
                path.as_deref().unwrap_or(Path::new("?")).display()
            );
        }
        Ok(RuntimeAuthStore {
            path,
            state: Mutex::new(State {
                auth,
                active,
                ..State::default()
            }),
            changing: Mutex::new(()),
        })
    }

    /// A copy of the document.
    pub(crate) fn snapshot(&self) -> RuntimeAuth {
        self.lock().auth.clone()
    }

    /// Whether the password_file has `user`.
    fn in_file(state: &State, user: &str) -> bool {
        state.file_users.as_ref().is_some_and(|u| u.contains(user))
    }

    /// The file rules were (re)loaded: installs them with the runtime
    /// document into `core`. `None` leaves that part as it was.
    pub(crate) fn set_files(
        &self,
        core: &mut Broker,
        users: Option<Option<PasswordFile>>,
        acl: Option<Option<AclFile>>,
    ) {
        let mut state = self.lock();
        if let Some(users) = users {
            state.file_users = users;
        }
        if let Some(acl) = acl {
            state.file_acl = acl;
        }
        install(core, &state);
    }

    /// Applies `change` to the document, writes it durably, then installs
    /// it in the core. `change` gets the document and whether a name is
    /// in the password_file, and returns the user whose clients must be
    /// disconnected, if any.
    pub(crate) fn change(
        &self,
        shared: &Shared,
        change: impl FnOnce(
            &mut RuntimeAuth,
            &dyn Fn(&str) -> bool,
        ) -> Result<Option<String>, RuntimeError>,
    ) -> Result<(), ChangeError> {
        let path = self.path.as_ref().ok_or(ChangeError::NoDataDirectory)?;
        // One change at a time, from the write to the install. Lock order:
        // `changing`, then the core, then `state` (a reload takes the core
        // then `state`); `state` is never held while taking the core.
        let _one = self.changing.lock().unwrap_or_else(|p| p.into_inner());
        let kick = {
            let mut state = self.lock();
            let mut next = state.auth.clone();
            let kick = {
                let in_file = |user: &str| Self::in_file(&state, user);
                change(&mut next, &in_file)?
            };
            write_durably(path, next.to_json().as_bytes()).map_err(|error| ChangeError::Write {
                path: path.display().to_string(),
                error,
            })?;
            state.auth = next;
            state.active = true;
            kick
        };
        shared.with_core(|core| {
            install(core, &self.lock());
            if let Some(user) = &kick {
                let n = core.admin_kick_user(Instant::now(), user);
                if n > 0 {
                    tracing::info!(
                        "User {user} was changed or deleted at runtime: {n} of its clients \
                         disconnected."
                    );
                }
            }
        });
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Puts the file rules and the runtime document to work in `core`.
fn install(core: &mut Broker, state: &State) {
    let runtime = &state.auth;
    let mut users = state.file_users.clone();
    if state.active && users.is_none() {
        users = Some(PasswordFile::parse("").expect("empty"));
    }
    if !runtime.users.is_empty() {
        let lines = PasswordFile::parse(&runtime.password_lines())
            .expect("the runtime store makes valid lines");
        let all = users.get_or_insert_with(|| PasswordFile::parse("").expect("empty"));
        for shadowed in all.add_missing(lines) {
            tracing::warn!(
                "User {shadowed} is both in the password_file and a runtime user; \
                 the password_file's entry is used."
            );
        }
    }
    match users {
        Some(users) => core.set_authenticator(Box::new(hornet_auth::FileAuthenticator::new(users))),
        None => core.clear_authenticator(),
    }
    if runtime.users.is_empty() {
        match state.file_acl.clone() {
            Some(acl) => core.set_authorizer(Box::new(acl)),
            None => core.clear_authorizer(),
        }
        return;
    }
    match runtime.authorizer(state.file_acl.clone()) {
        Ok(authorizer) => core.set_authorizer(Box::new(authorizer)),
        // The store checks every rule as it is changed.
        Err(e) => tracing::error!("Runtime roles cannot be compiled ({e}); rules unchanged."),
    }
}

/// Writes `bytes` to `path` so that after a crash it holds either the old
/// or the new content: a synced temporary file renamed over it, then the
/// directory synced.
fn write_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("json.tmp");
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}
