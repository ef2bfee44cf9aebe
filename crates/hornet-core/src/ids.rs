//! The handles the parts of the broker use to name each other: a
//! connection ([`ConnId`], chosen by the shell), a session
//! ([`SessionKey`]) and a shared subscription group ([`GroupId`]).

use std::fmt;

/// A connection's identity, chosen by the shell and unique for the
/// broker's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A session's key in the broker's tables (stable for the session's life).
pub(crate) type SessionKey = u64;

/// A shared subscription group's handle in the index.
pub(crate) type GroupId = u32;
