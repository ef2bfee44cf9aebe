//! Mosquitto's `check_retain_source`: a retained message remembers the
//! client that published it (client id and user name), and before it goes
//! to a new subscriber that client's write access to the topic is asked
//! again; when the ACL no longer allows it (changed and reloaded since),
//! the message is not sent, as Mosquitto does. Only with an ACL and the
//! setting on (the default) is a source remembered. Messages without one
//! are sent as before: the broker's own (`$SYS`, the admin API), wills
//! (checked at CONNECT), and those restored from the store (the source
//! is not recorded on disk).

use crate::authorize::Access;
use crate::broker::{Broker, ConnId};
use crate::retained::{RetainSource, Retained};

impl Broker {
    /// The source to remember for a retained PUBLISH from connection `id`:
    /// `None` unless there is an ACL and `check_retain_source` is on.
    pub(crate) fn retain_source(&self, id: ConnId) -> Option<Box<RetainSource>> {
        if !self.settings.check_retain_source || !self.has_authorizer() {
            return None;
        }
        let conn = self.conns.get(&id)?;
        Some(Box::new(RetainSource {
            client_id: Box::from(&*conn.client_id),
            username: conn.username.as_deref().map(Into::into),
        }))
    }

    /// Whether `retained` may still go out: its publisher may write its
    /// topic now (always, for a message without a source or with the
    /// check off).
    pub(crate) fn retain_source_allows(&self, retained: &Retained) -> bool {
        let Some(source) = &retained.source else {
            return true;
        };
        if !self.settings.check_retain_source {
            return true;
        }
        match self.authorize(
            &source.client_id,
            source.username.as_deref(),
            &retained.msg.topic,
            Access::Write,
        ) {
            Ok(()) => true,
            Err(why) => {
                tracing::info!(
                    "Retained message on '{}' not sent: its publisher {} may no longer write \
                     there ({why}; check_retain_source).",
                    retained.msg.topic,
                    source.client_id
                );
                false
            }
        }
    }
}
