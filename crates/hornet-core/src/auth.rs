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
//! The exchange, as the core drives it:
//!
//! ```text
//! CONNECT (method M, data d0)  -> start(M) -> step(d0)
//!   Continue(x)  -> AUTH 0x18 (M, x); wait for AUTH 0x18 (M, d1) -> step(d1) ...
//!   Success(x)   -> CONNACK 0x00 (M, x)
//!   BadCredentials / Refused -> CONNACK 0x86 / 0x87, close
//! after CONNACK: AUTH 0x19 (M, d0) -> start(M) -> step(d0)
//!   Continue(x)  -> AUTH 0x18 (M, x); wait for AUTH 0x18 ...
//!   Success(x)   -> AUTH 0x00 (M, x)
//!   failure      -> DISCONNECT 0x87 (DISCONNECT has no 0x86), close
//! ```
//!
//! Until CONNACK the connection is `Authenticating` (see `lifecycle`), so
//! the connect timeout also ends a client that stalls in the exchange, and
//! a broken AUTH rule is answered with CONNACK (see `violation`). During a
//! re-authentication other packets keep flowing under the previous
//! authentication ([MQTT-4.12.1-*]).

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use bytestring::ByteString;
use hornet_codec::{Auth, Connect, Disconnect, Packet, Properties, Property, ReasonCode};

use crate::broker::{Broker, ConnId};
use crate::connect::{Admission, Credentials};
use crate::lifecycle::ConnState;
use crate::violation::PeerError;

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

impl Broker {
    /// Lets the core check passwords and run enhanced authentication with
    /// `authenticator`. Without one, usernames are not checked (anonymous
    /// policy only) and every Authentication Method is refused with 0x8C.
    /// May be called again at any time (a reload): connections already
    /// past CONNECT keep their session, and the new users apply to the
    /// next CONNECT; checks under way finish with the old store.
    pub fn set_authenticator(&mut self, authenticator: Box<dyn Authenticator>) {
        self.authenticator = Some(Arc::from(authenticator));
    }

    /// Removes the authenticator (a reload without `password_file`).
    pub fn clear_authenticator(&mut self) {
        self.authenticator = None;
    }

    /// Whether an authenticator (a user store) is configured.
    pub fn has_authenticator(&self) -> bool {
        self.authenticator.is_some()
    }

    /// The CONNECT password check for `connect`: `None` when there is
    /// nothing to check (no username or no authenticator).
    pub(crate) fn password_check(&self, connect: &Connect) -> Option<PasswordCheck> {
        let authenticator = self.authenticator.as_ref()?;
        let username = connect.username.as_ref()?;
        Some(PasswordCheck {
            username: username.to_string(),
            password: connect.password.clone().unwrap_or_default(),
            authenticator: authenticator.clone(),
        })
    }

    /// Whether `id` still waits for its password check: the shell skips
    /// checks for connections that closed or timed out while queued, so a
    /// client cannot make the broker hash for sockets it already dropped.
    pub fn awaits_password_check(&self, id: ConnId) -> bool {
        self.conns
            .get(&id)
            .is_some_and(|c| matches!(c.state, ConnState::CheckingPassword(_)))
    }

    /// The shell's verdict on the password check it was asked for with
    /// [`Action::CheckPassword`](crate::Action::CheckPassword): completes
    /// (or refuses) the parked CONNECT, then handles the packets that
    /// arrived meanwhile. Ignored when the connection is gone (closed, or
    /// timed out while the check ran).
    pub fn password_checked(&mut self, now: Instant, id: ConnId, ok: bool) {
        self.now = now;
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let Some((admission, parked)) = conn.state.password_checked() else {
            return;
        };
        self.complete_connect(now, id, admission, Credentials::Password(ok));
        for packet in parked {
            if !self.conns.contains_key(&id) {
                break;
            }
            self.dispatch(now, id, packet);
        }
    }

    /// Enhanced authentication for a CONNECT with Authentication Method
    /// `method`: starts the exchange (the connection is then
    /// `Authenticating`), or refuses an unsupported method with 0x8C.
    pub(crate) fn start_enhanced_auth(
        &mut self,
        now: Instant,
        id: ConnId,
        method: ByteString,
        admission: Admission,
    ) {
        let conn = self.conns.get_mut(&id).expect("caller checked");
        let peer = conn.info.peer;
        let exchange = self.authenticator.as_ref().and_then(|a| a.start(&method));
        let Some(exchange) = exchange else {
            tracing::info!(
                "Client {} from {peer} refused: authentication method '{method}' is not supported{}.",
                admission.connect.client_id,
                if self.authenticator.is_some() {
                    " (Hornet supports SCRAM-SHA-256)"
                } else {
                    " (no password_file is configured, so no method is)"
                }
            );
            let text = "authentication method not supported";
            return self.refuse(id, ReasonCode::BadAuthenticationMethod, Some(text));
        };
        let data = admission
            .connect
            .properties
            .authentication_data()
            .cloned()
            .unwrap_or_default();
        let auth = AuthState {
            method,
            user: None,
            exchange: Some(exchange),
        };
        conn.state.authenticate(auth, admission);
        self.auth_step(now, id, &data);
    }

    /// An AUTH packet from a client, before or after CONNACK.
    pub(crate) fn handle_auth(&mut self, now: Instant, id: ConnId, auth: Auth) {
        let conn = self.conns.get_mut(&id).expect("caller checked");
        let active = conn.state.is_connected();
        let Some(state) = conn.state.auth_mut() else {
            // [MQTT-4.12.0-7]: no Authentication Method in CONNECT, no AUTH.
            return self.peer_error(now, id, PeerError::AuthWithoutMethod, None);
        };
        let broken = if auth.properties.authentication_method() != Some(&state.method) {
            Some(PeerError::AuthMethodChanged)
        } else {
            match (auth.reason_code, state.exchange.is_some()) {
                (ReasonCode::ContinueAuthentication, true) => None,
                (ReasonCode::ReAuthenticate, false) if active => None,
                (ReasonCode::ReAuthenticate, _) => Some(PeerError::ReauthenticateOutOfPlace),
                (ReasonCode::ContinueAuthentication, false) => {
                    Some(PeerError::ContinueWithoutExchange)
                }
                (other, _) => Some(PeerError::AuthReasonCode(other)),
            }
        };
        if let Some(error) = broken {
            return self.peer_error(now, id, error, None);
        }
        if auth.reason_code == ReasonCode::ReAuthenticate {
            let exchange = self
                .authenticator
                .as_ref()
                .and_then(|a| a.start(&state.method));
            match exchange {
                Some(exchange) => state.exchange = Some(exchange),
                None => {
                    return self.fail_active(
                        now,
                        id,
                        ReasonCode::BadAuthenticationMethod,
                        "the authentication method is no longer supported",
                    )
                }
            }
        }
        let data = auth
            .properties
            .authentication_data()
            .cloned()
            .unwrap_or_default();
        self.auth_step(now, id, &data);
    }

    /// Runs one step of `id`'s exchange and answers it. Before CONNACK a
    /// success completes the CONNECT the exchange ran for.
    fn auth_step(&mut self, now: Instant, id: ConnId, data: &[u8]) {
        let conn = self.conns.get_mut(&id).expect("caller checked");
        let active = conn.state.is_connected();
        let name = match &conn.state {
            ConnState::Authenticating(h) => {
                format!("{} from {}", h.admission.connect.client_id, conn.info.peer)
            }
            _ => conn.name(),
        };
        let state = conn.state.auth_mut().expect("caller checked");
        let step = state.exchange.as_mut().expect("caller checked").step(data);
        let method = state.method.clone();
        let (reason, why) = match step {
            AuthStep::Continue(data) => {
                let auth = auth_packet(ReasonCode::ContinueAuthentication, method, Some(data));
                self.out.send(id, conn, &mut self.stats, auth);
                return;
            }
            AuthStep::Success { user, data } => {
                state.exchange = None;
                if active && state.user.as_deref().is_some_and(|u| u != user) {
                    let why = format!(
                        "re-authenticated as '{user}', not as the connection's user '{}'",
                        state.user.as_deref().unwrap_or_default()
                    );
                    self.fail_active(now, id, ReasonCode::NotAuthorized, &why);
                    return;
                }
                tracing::info!("Client {name} authenticated as '{user}' with {method}.");
                state.user = Some(user);
                if active {
                    let auth = auth_packet(ReasonCode::Success, method, data);
                    self.out.send(id, conn, &mut self.stats, auth);
                } else if let Some((auth, admission)) = conn.state.authenticated() {
                    let credentials = Credentials::Enhanced { auth, data };
                    self.complete_connect(now, id, admission, credentials);
                }
                return;
            }
            AuthStep::BadCredentials(why) => (ReasonCode::BadUserNameOrPassword, why),
            AuthStep::Refused(why) => (ReasonCode::NotAuthorized, why),
        };
        state.exchange = None;
        if active {
            // DISCONNECT has no 0x86: a wrong password is 0x87 there.
            self.fail_active(now, id, ReasonCode::NotAuthorized, &why);
        } else {
            tracing::warn!("Client {name} refused: {method} authentication failed: {why}.");
            self.hints
                .give(crate::hints::Hint::BadPassword, &self.settings);
            self.refuse(id, reason, Some("authentication failed"));
        }
    }

    /// Re-authentication failed ([MQTT-4.12.1-2]): DISCONNECT and close.
    fn fail_active(&mut self, now: Instant, id: ConnId, reason: ReasonCode, why: &str) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        tracing::warn!(
            "Client {} failed re-authentication: {why}; disconnecting ({reason}).",
            conn.name()
        );
        let packet = Disconnect::new(reason).into();
        self.out.send(id, conn, &mut self.stats, packet);
        self.end_connection(now, id, true);
    }
}

/// An AUTH packet with the Authentication Method and, if any, Data.
fn auth_packet(reason_code: ReasonCode, method: ByteString, data: Option<Bytes>) -> Packet {
    let mut properties = Properties::new();
    properties.push(Property::AuthenticationMethod(method));
    if let Some(data) = data {
        properties.push(Property::AuthenticationData(data));
    }
    Packet::Auth(Auth {
        reason_code,
        properties,
    })
}
