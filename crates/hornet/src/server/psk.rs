//! TLS-PSK listeners (Mosquitto's `psk_hint` and `psk_file`), served with
//! OpenSSL because rustls has no pre-shared keys; every other TLS listener
//! stays on rustls.
//!
//! `psk_file` holds `identity:hexkey` lines, as Mosquitto reads it (`#`
//! comments and blank lines ignored); it is read when the listener is
//! bound. The handshake offers OpenSSL's PSK cipher suites for TLS 1.2 and
//! the TLS 1.3 suites; an unknown identity fails it. With
//! `use_identity_as_username` the client's PSK identity is its MQTT user
//! name. The identity hint marks the listener as PSK in the configuration;
//! the openssl crate offers no safe way to send it, and clients
//! (`mosquitto_pub --psk`, Paho) do not need it.

use std::collections::HashMap;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use openssl::ex_data::Index;
use openssl::ssl::{Ssl, SslAcceptor, SslMethod, SslVersion};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use crate::config::Psk;

/// A TLS-PSK listener's OpenSSL acceptor.
pub(crate) struct PskListener {
    acceptor: SslAcceptor,
    identity_as_username: bool,
    /// Where the key callback leaves the identity it found a key for
    /// (OpenSSL does not report a TLS 1.3 PSK identity afterwards).
    identity: Index<Ssl, String>,
}

/// Reads `identity:hexkey` lines.
pub(crate) fn read_keys(path: &Path) -> Result<HashMap<String, Vec<u8>>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the psk_file {}: {e}", path.display()))?;
    let mut keys = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: &str| format!("{}:{}: {why}", path.display(), n + 1);
        let (identity, hex) = line
            .split_once(':')
            .ok_or_else(|| bad("a line must be identity:hexkey"))?;
        let key = decode_hex(hex.trim())
            .ok_or_else(|| bad("the key must be hexadecimal digits (an even number)"))?;
        if key.is_empty() {
            return Err(bad("the key is empty"));
        }
        keys.insert(identity.to_string(), key);
    }
    Ok(keys)
}

/// Hexadecimal digits (an even number) as bytes; also `bridge_psk`'s.
pub(crate) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

impl PskListener {
    /// The acceptor for `psk`, with the keys of its file.
    pub(crate) fn load(psk: &Psk) -> Result<PskListener, String> {
        let keys = Arc::new(read_keys(&psk.file)?);
        let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())
            .map_err(|e| format!("OpenSSL: {e}"))?;
        builder
            .set_min_proto_version(Some(SslVersion::TLS1_2))
            .map_err(|e| format!("OpenSSL: {e}"))?;
        let ciphers = psk
            .ciphers
            .as_deref()
            .unwrap_or("PSK:!aNULL:!eNULL:!LOW:!EXPORT:!MD5:!RC4:!3DES");
        builder
            .set_cipher_list(ciphers)
            .map_err(|e| format!("OpenSSL: ciphers {ciphers:?} selects no cipher suite: {e}"))?;
        let index = Ssl::new_ex_index::<String>().map_err(|e| format!("OpenSSL: {e}"))?;
        builder.set_psk_server_callback(move |ssl, identity, out| {
            let found = identity
                .and_then(|id| std::str::from_utf8(id).ok())
                .and_then(|id| keys.get_key_value(id));
            match found {
                Some((id, key)) if key.len() <= out.len() => {
                    out[..key.len()].copy_from_slice(key);
                    ssl.set_ex_data(index, id.clone());
                    Ok(key.len())
                }
                // 0 fails the handshake: an unknown identity.
                _ => Ok(0),
            }
        });
        Ok(PskListener {
            acceptor: builder.build(),
            identity_as_username: psk.identity_as_username,
            identity: index,
        })
    }

    /// Runs the handshake; the stream and, with `use_identity_as_username`,
    /// the client's identity as its user name.
    pub(crate) async fn accept(
        &self,
        stream: TcpStream,
    ) -> Result<(SslStream<TcpStream>, Option<String>), String> {
        let ssl = Ssl::new(self.acceptor.context()).map_err(|e| e.to_string())?;
        let mut stream = SslStream::new(ssl, stream).map_err(|e| e.to_string())?;
        Pin::new(&mut stream)
            .accept()
            .await
            .map_err(|e| e.to_string())?;
        let user = if self.identity_as_username {
            let identity = stream.ssl().ex_data(self.identity).cloned();
            Some(identity.ok_or("no PSK identity")?)
        } else {
            None
        };
        Ok((stream, user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psk_file_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("psk");
        std::fs::write(&path, "# devices\n\nsensor-1:deadBEEF01\nsensor-2: 00ff\n").unwrap();
        let keys = read_keys(&path).unwrap();
        assert_eq!(keys["sensor-1"], vec![0xde, 0xad, 0xbe, 0xef, 0x01]);
        assert_eq!(keys["sensor-2"], vec![0x00, 0xff]);
        std::fs::write(&path, "x:abc\n").unwrap();
        assert!(read_keys(&path)
            .unwrap_err()
            .contains(":1: the key must be"));
        std::fs::write(&path, "nocolon\n").unwrap();
        assert!(read_keys(&path).unwrap_err().contains("identity:hexkey"));
    }
}
