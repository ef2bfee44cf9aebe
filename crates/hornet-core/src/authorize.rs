//! Authorization as the core sees it: which client may publish to, subscribe
//! to and receive which topic.
//!
//! The core knows no ACL file: the shell hands it an [`Authorizer`]
//! (`hornet-auth`'s `AclFile` reads Mosquitto's `acl_file` syntax) and the
//! core asks it, synchronously, at each decision point, as Mosquitto does:
//!
//! | when | access | denied |
//! | --- | --- | --- |
//! | CONNECT with a will | [`Access::Write`] on the will topic | CONNACK 0x87 (3.x: 0x05) |
//! | SUBSCRIBE, per filter | [`Access::Subscribe`] on the filter | SUBACK 0x87 for that filter (3.1.1: 0x80) |
//! | PUBLISH from a client | [`Access::Write`] on the topic | dropped; QoS 1/2 still acknowledged: 5.0 PUBACK/PUBREC 0x87, 3.x plain ack (as Mosquitto) |
//! | each delivery to a session | [`Access::Read`] on the topic | not delivered to that session (retained messages on subscribe too) |
//!
//! The read check at delivery is what makes a changed rule apply to
//! subscriptions made before it (a reload, see the shell's `reload`).
//! Denials at CONNECT, SUBSCRIBE and PUBLISH are logged at `info` naming
//! client, user, topic and the rule; denials at delivery at `debug` (one
//! per message and subscriber would flood the log) and are counted in
//! [`Stats`](crate::Stats).
//!
//! Implementations must be quick (the core holds its lock): precompile the
//! rules, allocate only to explain a denial.

use std::fmt;

/// What a client wants to do with a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Receive a message published on a topic name.
    Read,
    /// Publish on a topic name (PUBLISH, or a will).
    Write,
    /// Subscribe with a topic filter (may hold `+` and `#`).
    Subscribe,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Subscribe => "subscribe",
        })
    }
}

/// Who is asking: the client id and, if it logged in with one, the user name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal<'a> {
    /// The client identifier.
    pub client_id: &'a str,
    /// The user name of CONNECT (or of enhanced authentication); `None`
    /// for anonymous clients.
    pub username: Option<&'a str>,
}

/// Why an access was denied: the rule (file and line) or the lack of one,
/// for the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied(pub String);

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Decides topic access for the core (see the module doc).
pub trait Authorizer: Send + Sync + fmt::Debug {
    /// Whether `who` may have `access` to `topic` (a topic name for
    /// [`Access::Read`] and [`Access::Write`], a filter for
    /// [`Access::Subscribe`]; shared subscription prefixes are already
    /// stripped).
    fn authorize(&self, who: Principal<'_>, topic: &str, access: Access) -> Result<(), Denied>;
}

/// `'user'` or `anonymous` for log lines.
pub(crate) fn user_label(username: Option<&str>) -> String {
    match username {
        Some(u) => format!("user '{u}'"),
        None => "no user (anonymous)".to_string(),
    }
}
