//! Authentication as the core sees it: a plain password check and the
//! MQTT 5 enhanced authentication exchange (§4.12), including
//! re-authentication on a live connection (§4.12.1).
//!
//! The core knows no password file and does no cryptography: the shell
//! hands it an [`Authenticator`] (`hornet-auth` implements one over
//! Mosquitto's password files and SCRAM-SHA-256). The core owns the MQTT
//! side only: which packets are allowed while an exchange runs, the
//! Authentication Method rules, the reason codes and when to close.
//!
//! A CONNECT password check is slow on purpose (a 210,000-iteration PBKDF2
//! costs about 100 ms), so the core never runs it: it emits
//! [`Action::CheckPassword`](crate::Action::CheckPassword) with a
//! [`PasswordCheck`] and parks the CONNECT (`CheckingPassword`, see
//! `lifecycle`). The
//! shell runs [`PasswordCheck::run`] on a blocking thread, off the core's
//! lock, and reports the verdict with [`Broker::password_checked`]; the
//! CONNECT then completes (or is refused with 0x86 / 0x04). Packets the
//! client sends meanwhile wait with the CONNECT and are handled after it,
//! in order. The connect timeout still runs, so a check that never comes
//! back cannot hold a socket forever.
//!
//! The SCRAM steps stay synchronous: a step derives nothing from the
//! password (the stored keys are precomputed), so it is cheap.
//!
//! The exchange itself (which packets are allowed while it runs, the
//! reason codes, re-authentication) is driven by the broker in
//! `authenticate`; this module holds what it drives: the traits, the
//! parked password check and a connection's [`AuthState`].

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use bytestring::ByteString;
use hornet_codec::Connect;

/// Checks credentials for the core. `check_password` may be slow: the
/// shell calls it on a blocking thread through [`PasswordCheck`]. `start`
/// and the exchange steps must be quick: the core calls them while it
/// holds its lock.
pub trait Authenticator: Send + Sync + fmt::Debug {
    /// Whether `password` is `username`'s password (CONNECT User Name and
    /// Password). `false` for unknown users. Compares in constant time.
    fn check_password(&self, username: &str, password: &[u8]) -> bool;

    /// Starts an enhanced authentication exchange with `method`, or `None`
    /// when the method is not supported (CONNACK 0x8C).
    fn start(&self, method: &str) -> Option<Box<dyn AuthExchange>>;
}

/// One running enhanced authentication exchange (server side).
pub trait AuthExchange: Send + fmt::Debug {
    /// Feeds the client's Authentication Data (empty when it sent none) and
    /// says what to answer.
    fn step(&mut self, data: &[u8]) -> AuthStep;
}

/// What an exchange answers to the client's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthStep {
    /// Send this data in AUTH 0x18 Continue authentication and wait.
    Continue(Bytes),
    /// Authenticated as `user`; `data` goes out with CONNACK or AUTH Success.
    Success {
        /// The authenticated user name.
        user: String,
        /// The final data for the client (e.g. SCRAM's server-final-message).
        data: Option<Bytes>,
    },
    /// The credentials are wrong (0x86 Bad User Name or Password). The text
    /// explains why for the log and never contains a secret.
    BadCredentials(String),
    /// The exchange cannot go on: malformed or unsupported data (0x87 Not
    /// authorized). The text explains why for the log.
    Refused(String),
}

/// A CONNECT password check for the shell to run off the core's lock (see
/// the module doc): the credentials and the authenticator that was
/// configured when the CONNECT arrived. Its `Debug` never shows the
/// password.
#[derive(Clone)]
pub struct PasswordCheck {
    username: String,
    password: Bytes,
    authenticator: Arc<dyn Authenticator>,
}

impl PasswordCheck {
    /// The check of `connect`'s User Name and Password: `None` without a
    /// User Name (nothing to check).
    pub(crate) fn for_connect(
        authenticator: &Arc<dyn Authenticator>,
        connect: &Connect,
    ) -> Option<PasswordCheck> {
        let username = connect.username.as_ref()?;
        Some(PasswordCheck {
            username: username.to_string(),
            password: connect.password.clone().unwrap_or_default(),
            authenticator: authenticator.clone(),
        })
    }

    /// Runs the check (slow: call it where blocking is fine).
    pub fn run(&self) -> bool {
        self.authenticator
            .check_password(&self.username, &self.password)
    }

    /// The user name being checked.
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl fmt::Debug for PasswordCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordCheck")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl PartialEq for PasswordCheck {
    fn eq(&self, other: &Self) -> bool {
        self.username == other.username
            && self.password == other.password
            && Arc::ptr_eq(&self.authenticator, &other.authenticator)
    }
}

/// Packets a client may send after CONNECT while its password is checked;
/// one more closes the connection (a client that floods before CONNACK is
/// broken or hostile, and the packets would only pile up in memory).
pub(crate) const MAX_PARKED: usize = 1000;

/// A connection's enhanced authentication: the method agreed in CONNECT,
/// the user it authenticated, and the exchange under way. The CONNECT
/// waiting for the first exchange waits in the connection's state.
#[derive(Debug)]
pub(crate) struct AuthState {
    /// The Authentication Method of CONNECT ([MQTT-4.12.0-5]).
    pub(crate) method: ByteString,
    /// The user the last successful exchange authenticated.
    pub(crate) user: Option<String>,
    /// The exchange under way, if any.
    pub(crate) exchange: Option<Box<dyn AuthExchange>>,
}
