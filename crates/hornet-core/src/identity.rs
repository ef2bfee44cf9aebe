//! A listener that takes the user name from the client certificate
//! (Mosquitto's `use_identity_as_username` / `use_subject_as_username`)
//! without requiring one: a client that presented none is refused at
//! CONNECT as Mosquitto refuses it, bad user name or password (MQTT 5
//! 0x86, 3.x 4). Called from `connect.rs` in one line.

use hornet_codec::ReasonCode;

use crate::broker::{Broker, ConnId};

impl Broker {
    /// Refuses a connection that needed a certificate identity and has
    /// none; true when refused.
    pub(crate) fn refuse_missing_identity(&mut self, id: ConnId) -> bool {
        let Some(conn) = self.conns.get(&id) else {
            return false;
        };
        if !conn.identity_required() || conn.cert_username().is_some() {
            return false;
        }
        tracing::info!(
            "Client from {} refused: the listener takes the user name from the client \
             certificate (use_identity_as_username) and it presented none.",
            conn.peer
        );
        self.refuse(
            id,
            ReasonCode::BadUserNameOrPassword,
            Some("a client certificate is needed"),
        );
        true
    }
}
