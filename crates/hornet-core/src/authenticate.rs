//! The MQTT side of authentication, as the broker's rules: the CONNECT
//! password verdict ([`Broker::password_checked`]), the enhanced
//! authentication exchange before CONNACK and re-authentication after it
//! (MQTT 5 §4.12). The interfaces it drives ([`Authenticator`],
//! [`AuthExchange`], [`AuthState`]) live in `auth`.
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

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use bytestring::ByteString;
use hornet_codec::{Auth, Connect, Disconnect, Packet, Properties, Property, ReasonCode};

use crate::auth::{AuthState, AuthStep, Authenticator, PasswordCheck};
use crate::broker::{Broker, ConnId};
use crate::connect::{Admission, Credentials};
use crate::lifecycle::ConnState;
use crate::violation::PeerError;

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
        PasswordCheck::for_connect(self.authenticator.as_ref()?, connect)
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
        let peer = conn.peer;
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
                format!("{} from {}", h.admission.connect.client_id, conn.peer)
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
