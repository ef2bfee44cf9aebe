//! The connection to the remote: TCP (from `bridge_bind_address` if set)
//! and TLS when `bridge_cafile` / `bridge_capath` is set, through the CLI
//! client's transport (`crate::client`), or TLS-PSK when
//! `bridge_identity` / `bridge_psk` are (`crate::client::psk`, OpenSSL),
//! within a timeout; and the bytes of the packets the session sends.

use std::time::Duration;

use bytes::BytesMut;
use hornet_codec::{Packet, Protocol};

use crate::client::psk::{self, PskOptions};
use crate::client::tls::{self, TlsOptions};
use crate::client::transport::{self, Stream, Target};
use crate::config::Bridge;

/// How long a connection to the remote (TCP and TLS) may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to `host:port` as the bridge's keys say. The TLS files are
/// read at each attempt, so a file fixed meanwhile is taken.
pub(crate) async fn connect(bridge: &Bridge, host: &str, port: u16) -> Result<Stream, String> {
    let tls = if bridge.tls() {
        Some(tls::build(&TlsOptions {
            cafile: bridge.cafile.clone(),
            capath: bridge.capath.clone(),
            cert: bridge.certfile.clone(),
            key: bridge.keyfile.clone(),
            insecure: bridge.insecure,
            version: bridge.tls_version.clone(),
            alpn: bridge.alpn.clone(),
        })?)
    } else {
        None
    };
    let target = Target {
        host: host.to_string(),
        port,
        tls,
        ws_path: None,
        bind: bridge.bind_address.map(|a| a.to_string()),
        unix: None,
    };
    let psk = bridge.psk().then(|| PskOptions {
        identity: bridge.psk_identity.clone().unwrap_or_default(),
        key_hex: bridge.psk.clone().unwrap_or_default(),
        version: bridge.tls_version.clone(),
        alpn: bridge.alpn.clone(),
    });
    let open = async {
        let stream = transport::connect(&target)
            .await
            .map_err(|e| e.to_string())?;
        match &psk {
            Some(options) => psk::connect(stream, options)
                .await
                .map_err(|e| e.to_string()),
            None => Ok(stream),
        }
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, open).await {
        Ok(result) => result,
        Err(_) => Err(format!("no connection within {CONNECT_TIMEOUT:?}")),
    }
}

/// Encodes `packet` for the remote; a packet that cannot be encoded is
/// logged and left out (the session checked sizes already).
pub(crate) fn encode(name: &str, packet: &Packet, protocol: Protocol, out: &mut BytesMut) {
    if let Err(e) = packet.encode(protocol, out) {
        tracing::warn!("Bridge {name}: cannot encode {}: {e}", packet.packet_type());
    }
}
