//! Mosquitto's client id policies beyond the protocol's rules, each called
//! from `connect.rs` in one line:
//!
//! - `allow_zero_length_clientid false`: an empty client id is refused
//!   even where the protocol lets the broker assign one, as Mosquitto
//!   answers it (MQTT 5 0x80 Unspecified error, 3.x 0x02 identifier
//!   rejected);
//! - `auto_id_prefix`: the prefix of the ids the broker assigns;
//! - `clientid_prefixes`: only client ids starting with it may connect,
//!   others are refused as not authorised (0x87 / 3.x 0x05), as Mosquitto
//!   answers them.

use hornet_codec::ReasonCode;

use crate::broker::{Broker, ConnId};

impl Broker {
    /// Refuses an empty client id when `allow_zero_length_clientid` is
    /// off; true when refused.
    pub(crate) fn refuse_empty_client_id(
        &mut self,
        id: ConnId,
        peer: std::net::SocketAddr,
    ) -> bool {
        if self.settings.allow_zero_length_clientid {
            return false;
        }
        tracing::info!(
            "Client from {peer} refused: an empty client id (allow_zero_length_clientid false)."
        );
        let v5 = self.conns.get(&id).is_some_and(|c| c.protocol.is_v5());
        let reason = if v5 {
            ReasonCode::UnspecifiedError
        } else {
            ReasonCode::ClientIdentifierNotValid
        };
        self.refuse(id, reason, Some("empty client id not allowed"));
        true
    }

    /// Refuses a client id without the `clientid_prefixes` prefix; true
    /// when refused.
    pub(crate) fn refuse_client_id_prefix(
        &mut self,
        id: ConnId,
        peer: std::net::SocketAddr,
        client_id: &str,
    ) -> bool {
        let Some(prefix) = &self.settings.clientid_prefixes else {
            return false;
        };
        if client_id.starts_with(prefix.as_str()) {
            return false;
        }
        tracing::info!(
            "Client {client_id} from {peer} refused: its client id does not start with \
             {prefix:?} (clientid_prefixes)."
        );
        self.refuse(id, ReasonCode::NotAuthorized, Some("client id not allowed"));
        true
    }
}
