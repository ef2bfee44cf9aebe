//! A connection's life as one typed state machine: [`ConnState`].
//!
//! Where a connection stands decides what it may send and how a broken
//! rule is answered (see `violation`). What exists only in one state lives
//! in that variant (the parked CONNECT, the exchange under way), boxed, so
//! an idle connected client pays 8 bytes for all of it. The methods below
//! are the transitions; nothing else assigns a `ConnState`.
//!
//! ```text
//!                        connection_opened
//!                               |
//!                               v
//!            +------- AwaitingConnect { deadline } ---------+
//!            |                  |                           |
//!  CONNECT with an     CONNECT with a user name    CONNECT needing no check
//!  Authentication      and a password_file         (anonymous policy,
//!  Method              (Action::CheckPassword)     certificate user)
//!            |                  |                           |
//!            v                  v                           |
//!     Authenticating     CheckingPassword                   |
//!     (AUTH / DISCONNECT (later packets are parked)         |
//!      only)                    |                           |
//!            | success          | verdict (password_checked)|
//!            v                  v                           |
//!            +---> AwaitingConnect again, the admitted -----+
//!                  CONNECT in hand: authorized              |
//!                                                           |
//!            the client id is live on another connection    |
//!            whose unread input the shell drains first      |
//!            (Action::DrainInput; see `takeover`)           |
//!                         |                                 |
//!                         v                                 |
//!                   TakingOver (later packets parked)       |
//!     (cluster, persistent session: Claiming first, parked  |
//!      the same way, until the etcd claim answers)          |
//!                         | input_drained / the old one     |
//!                         | ended / the wait is over        |
//!                         v                                 |
//!                  takeover, session, CONNACK <-------------+
//!                                                      connected()
//!                                                           |
//!                                                           v
//!                                                 Connected { auth }
//!                                                 (re-authentication
//!                                                  runs inside)
//!
//!  any state --- refusal, peer error, connect timeout / keep-alive,
//!                DISCONNECT, socket end ---> closed: removed from the
//!                broker's table (Action::Close); later input is ignored
//! ```
//!
//! The connect timeout runs in every state before `Connected`, so a
//! password check that never returns or a stalled exchange cannot hold a
//! socket for ever.

use std::time::Instant;

use bytes::Bytes;
use bytestring::ByteString;
use hornet_codec::{Connect, Packet};

use crate::auth::AuthState;

/// Where a connection is in its life (see the module doc).
#[derive(Debug)]
pub(crate) enum ConnState {
    /// Accepted; CONNECT not yet received, or received and being admitted.
    AwaitingConnect {
        /// The connect timeout.
        deadline: Instant,
    },
    /// The shell checks the CONNECT password; the CONNECT waits here.
    CheckingPassword(Box<PasswordWait>),
    /// The enhanced authentication exchange runs before CONNACK.
    Authenticating(Box<Handshake>),
    /// The CONNECT waits while the shell reads what the connection it
    /// takes over had already received (its DISCONNECT, say).
    TakingOver(Box<TakeoverWait>),
    /// Cluster: a CONNECT for a persistent session waits while the shell
    /// claims its client id in etcd (see `claiming`).
    Claiming(Box<TakeoverWait>),
    /// CONNACK sent.
    Connected {
        /// Enhanced authentication: the method and user, and a
        /// re-authentication under way.
        auth: Option<Box<AuthState>>,
    },
}

/// A CONNECT parked while the shell checks its password.
#[derive(Debug)]
pub(crate) struct PasswordWait {
    pub(crate) deadline: Instant,
    pub(crate) admission: Admission,
    /// Packets that arrived after the CONNECT, handled after it in order.
    pub(crate) parked: Vec<Packet>,
}

/// A CONNECT, authenticated and admitted, waiting for the input of the
/// connection it takes over to be read (see `takeover`).
#[derive(Debug)]
pub(crate) struct TakeoverWait {
    /// When it stops waiting for the shell and takes over anyway.
    pub(crate) deadline: Instant,
    /// The connect timeout to go back to.
    pub(crate) connect_deadline: Instant,
    /// The CONNECT and who it is.
    pub(crate) ready: Ready,
    /// Packets that arrived after the CONNECT, handled after it in order.
    pub(crate) parked: Vec<Packet>,
}

/// A CONNECT held while its enhanced authentication exchange runs.
#[derive(Debug)]
pub(crate) struct Handshake {
    pub(crate) deadline: Instant,
    pub(crate) auth: AuthState,
    pub(crate) admission: Admission,
}

impl ConnState {
    /// A connection just accepted, which must send CONNECT by `deadline`.
    pub(crate) fn new(deadline: Instant) -> ConnState {
        ConnState::AwaitingConnect { deadline }
    }

    /// CONNACK was sent.
    pub(crate) fn is_connected(&self) -> bool {
        matches!(self, ConnState::Connected { .. })
    }

    /// The connect timeout, in every state before `Connected`.
    pub(crate) fn connect_deadline(&self) -> Option<Instant> {
        match self {
            ConnState::AwaitingConnect { deadline } => Some(*deadline),
            ConnState::CheckingPassword(wait) => Some(wait.deadline),
            ConnState::Authenticating(handshake) => Some(handshake.deadline),
            ConnState::TakingOver(wait) | ConnState::Claiming(wait) => Some(wait.deadline),
            ConnState::Connected { .. } => None,
        }
    }

    /// The enhanced authentication, under way or done.
    pub(crate) fn auth_mut(&mut self) -> Option<&mut AuthState> {
        match self {
            ConnState::Authenticating(handshake) => Some(&mut handshake.auth),
            ConnState::Connected { auth } => auth.as_deref_mut(),
            _ => None,
        }
    }

    /// AwaitingConnect -> CheckingPassword: `admission` waits for the
    /// shell's verdict.
    pub(crate) fn check_password(&mut self, admission: Admission) {
        let deadline = self.before_connack("check a password");
        *self = ConnState::CheckingPassword(Box::new(PasswordWait {
            deadline,
            admission,
            parked: Vec::new(),
        }));
    }

    /// CheckingPassword -> AwaitingConnect: the CONNECT to complete with
    /// the verdict, and the packets parked behind it. `None` (and no
    /// change) in any other state.
    pub(crate) fn password_checked(&mut self) -> Option<(Admission, Vec<Packet>)> {
        let ConnState::CheckingPassword(wait) = self else {
            return None;
        };
        let deadline = wait.deadline;
        let ConnState::CheckingPassword(wait) =
            std::mem::replace(self, ConnState::AwaitingConnect { deadline })
        else {
            unreachable!("matched above");
        };
        let PasswordWait {
            admission, parked, ..
        } = *wait;
        Some((admission, parked))
    }

    /// AwaitingConnect -> Authenticating: the exchange `auth` runs for
    /// `admission`.
    pub(crate) fn authenticate(&mut self, auth: AuthState, admission: Admission) {
        let deadline = self.before_connack("start an exchange");
        *self = ConnState::Authenticating(Box::new(Handshake {
            deadline,
            auth,
            admission,
        }));
    }

    /// Authenticating -> AwaitingConnect: the exchange succeeded; its
    /// state and the CONNECT to complete. `None` (and no change) in any
    /// other state.
    pub(crate) fn authenticated(&mut self) -> Option<(AuthState, Admission)> {
        let ConnState::Authenticating(handshake) = self else {
            return None;
        };
        let deadline = handshake.deadline;
        let ConnState::Authenticating(handshake) =
            std::mem::replace(self, ConnState::AwaitingConnect { deadline })
        else {
            unreachable!("matched above");
        };
        let Handshake {
            auth, admission, ..
        } = *handshake;
        Some((auth, admission))
    }

    /// AwaitingConnect -> TakingOver: `ready` waits until `deadline` at
    /// the latest for the input of the connection it takes over.
    pub(crate) fn await_takeover(&mut self, deadline: Instant, ready: Ready) {
        let connect_deadline = self.before_connack("wait for a takeover");
        *self = ConnState::TakingOver(Box::new(TakeoverWait {
            deadline: deadline.min(connect_deadline),
            connect_deadline,
            ready,
            parked: Vec::new(),
        }));
    }

    /// TakingOver -> AwaitingConnect: the CONNECT to complete and the
    /// packets parked behind it. `None` (and no change) in any other state.
    pub(crate) fn takeover_ready(&mut self) -> Option<(Ready, Vec<Packet>)> {
        let ConnState::TakingOver(wait) = self else {
            return None;
        };
        let deadline = wait.connect_deadline;
        let ConnState::TakingOver(wait) =
            std::mem::replace(self, ConnState::AwaitingConnect { deadline })
        else {
            unreachable!("matched above");
        };
        let TakeoverWait { ready, parked, .. } = *wait;
        Some((ready, parked))
    }

    /// AwaitingConnect -> Claiming: `ready` waits for the etcd claim of its
    /// client id, at most until the connect timeout.
    pub(crate) fn await_claim(&mut self, ready: Ready) {
        let connect_deadline = self.before_connack("claim a client id");
        *self = ConnState::Claiming(Box::new(TakeoverWait {
            deadline: connect_deadline,
            connect_deadline,
            ready,
            parked: Vec::new(),
        }));
    }

    /// Claiming -> AwaitingConnect: the CONNECT to complete and the packets
    /// parked behind it. `None` (and no change) in any other state.
    pub(crate) fn claim_done(&mut self) -> Option<(Ready, Vec<Packet>)> {
        let ConnState::Claiming(wait) = self else {
            return None;
        };
        let deadline = wait.connect_deadline;
        let ConnState::Claiming(wait) =
            std::mem::replace(self, ConnState::AwaitingConnect { deadline })
        else {
            unreachable!("matched above");
        };
        let TakeoverWait { ready, parked, .. } = *wait;
        Some((ready, parked))
    }

    /// TakingOver: `earlier` packets (parked while claiming) go before
    /// those parked since.
    pub(crate) fn park_more(&mut self, mut earlier: Vec<Packet>) {
        if let ConnState::TakingOver(wait) = self {
            earlier.append(&mut wait.parked);
            wait.parked = earlier;
        }
    }

    /// Claiming: waits at most until `deadline` from now on (for a session
    /// from another node); returns the deadline in force.
    pub(crate) fn claim_wait_until(&mut self, deadline: Instant) -> Option<Instant> {
        let ConnState::Claiming(wait) = self else {
            return None;
        };
        wait.deadline = deadline.min(wait.connect_deadline);
        Some(wait.deadline)
    }

    /// The CONNECT waiting for its claim, if this connection is claiming.
    pub(crate) fn claiming(&self) -> Option<&Ready> {
        match self {
            ConnState::Claiming(wait) => Some(&wait.ready),
            _ => None,
        }
    }

    /// AwaitingConnect -> Connected: CONNACK goes out, with the enhanced
    /// authentication `auth` if there was one.
    pub(crate) fn connected(&mut self, auth: Option<AuthState>) {
        self.before_connack("connect");
        *self = ConnState::Connected {
            auth: auth.map(Box::new),
        };
    }

    /// The deadline of a connection awaiting CONNECT, which a transition
    /// out of that state needs; a call in another state is a bug in the
    /// core.
    fn before_connack(&self, what: &str) -> Instant {
        match self {
            ConnState::AwaitingConnect { deadline } => *deadline,
            other => panic!("cannot {what} in state {other:?}"),
        }
    }
}

/// An admitted CONNECT with who it is: what completing it needs.
#[derive(Debug)]
pub(crate) struct Ready {
    pub(crate) admission: Admission,
    /// The user for the ACL (`None`: anonymous).
    pub(crate) username: Option<ByteString>,
    /// The enhanced authentication that succeeded, if any.
    pub(crate) auth: Option<AuthState>,
    /// Its final data, for CONNACK.
    pub(crate) auth_data: Option<Bytes>,
}

/// A CONNECT that passed validation, on its way to CONNACK: what the
/// later steps need. It waits in the connection's state (see `lifecycle`)
/// while a password check or an enhanced authentication exchange runs.
#[derive(Debug)]
pub(crate) struct Admission {
    /// The CONNECT (a certificate user already in its User Name).
    pub(crate) connect: Connect,
    /// The client identifier, assigned when the client sent none.
    pub(crate) client_id: ByteString,
    /// Whether the broker assigned it (CONNACK then says which).
    pub(crate) assigned: bool,
    /// The keep-alive in force.
    pub(crate) keep_alive: u16,
    /// The keep-alive CONNACK announces when the broker lowered it.
    pub(crate) server_keep_alive: Option<u16>,
    /// A verified TLS client certificate named the user.
    pub(crate) cert_user: bool,
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use hornet_codec::{Connect, Protocol};

    use super::*;

    fn admission() -> Admission {
        Admission {
            connect: Connect::new(Protocol::V5, "c"),
            client_id: "c".into(),
            assigned: false,
            keep_alive: 60,
            server_keep_alive: None,
            cert_user: false,
        }
    }

    #[test]
    fn a_password_check_parks_the_connect_and_keeps_the_deadline() {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut state = ConnState::new(deadline);
        assert_eq!(state.connect_deadline(), Some(deadline));
        state.check_password(admission());
        assert!(matches!(state, ConnState::CheckingPassword(_)));
        assert_eq!(state.connect_deadline(), Some(deadline));
        assert!(state.authenticated().is_none(), "not authenticating");
        let (back, parked) = state.password_checked().expect("was checking");
        assert_eq!(&*back.client_id, "c");
        assert!(parked.is_empty());
        assert_eq!(state.connect_deadline(), Some(deadline));
        assert!(state.password_checked().is_none(), "only once");
        state.connected(None);
        assert!(state.is_connected());
        assert_eq!(state.connect_deadline(), None);
        assert!(state.auth_mut().is_none());
    }

    #[test]
    #[should_panic(expected = "cannot check a password")]
    fn a_connected_client_cannot_go_back_to_a_password_check() {
        let mut state = ConnState::new(Instant::now());
        state.connected(None);
        state.check_password(admission());
    }
}
