//! Which of two CONNECTs with one client id on two nodes wins: the
//! newer, by the cluster's hybrid logical clock (`stamp`).
//!
//! A clean-session connection that this node announces to the others
//! (`Action::Takeover`) gets a stamp from the node's `Hlc`, kept here by
//! client id until the connection ends. An announcement from another
//! node takes over the local connection only if the local one's stamp is
//! older (or it has none: a persistent session claimed in etcd, or a
//! connection from before the node joined). So every node picks the same
//! winner, the newest CONNECT, in whatever order the announcements cross,
//! and a late or resent announcement of an older connection closes
//! nothing. Held only on a cluster node (`Cluster`), never in `Conn` or
//! `Session`: a single broker pays nothing.

use ahash::AHashMap;
use bytestring::ByteString;

use crate::ids::ConnId;
use crate::stamp::Stamp;

/// The stamps of this node's announced connections, by client id.
#[derive(Debug, Default)]
pub(crate) struct ClientStamps {
    by_client: AHashMap<ByteString, (ConnId, Stamp)>,
}

impl ClientStamps {
    /// Connection `id` of `client_id` was announced with `stamp`.
    pub(crate) fn set(&mut self, client_id: ByteString, id: ConnId, stamp: Stamp) {
        self.by_client.insert(client_id, (id, stamp));
    }

    /// Connection `id` of `client_id` ended (a newer connection with the
    /// id keeps its own stamp).
    pub(crate) fn ended(&mut self, client_id: &str, id: ConnId) {
        if self.by_client.get(client_id).is_some_and(|(c, _)| *c == id) {
            self.by_client.remove(client_id);
        }
    }

    /// The stamp of `client_id`'s connection here, if it has one.
    pub(crate) fn get(&self, client_id: &str) -> Option<&Stamp> {
        self.by_client.get(client_id).map(|(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(ms: u64) -> Stamp {
        Stamp {
            ms,
            counter: 0,
            node: "n1".into(),
        }
    }

    #[test]
    fn only_the_connection_that_holds_the_stamp_removes_it() {
        let mut s = ClientStamps::default();
        let (old, new) = (ConnId(1), ConnId(2));
        s.set("c".into(), old, stamp(1));
        s.set("c".into(), new, stamp(2));
        s.ended("c", old);
        assert_eq!(s.get("c"), Some(&stamp(2)));
        s.ended("c", new);
        assert_eq!(s.get("c"), None);
    }
}
