//! The client side of TLS-PSK, for outgoing bridges (`bridge_identity`,
//! `bridge_psk`): OpenSSL through tokio-openssl, as the PSK listeners
//! (`server/psk.rs`) do, because rustls has no pre-shared keys. The
//! handshake offers OpenSSL's PSK cipher suites for TLS 1.2 and the TLS
//! 1.3 suites (the key with SHA-256), optionally one version only
//! (`bridge_tls_version`) and an ALPN protocol (`bridge_alpn`). There is
//! no certificate to check: the key is the proof on both sides, and a
//! wrong one fails the handshake.

use std::pin::Pin;

use openssl::ssl::{Ssl, SslConnector, SslMethod, SslVerifyMode, SslVersion};
use tokio_openssl::SslStream;

use super::transport::Stream;

/// OpenSSL's PSK suites for TLS 1.2, as Mosquitto's PSK listeners take.
const CIPHERS: &str = "PSK:!aNULL:!eNULL:!LOW:!EXPORT:!MD5:!RC4:!3DES";

/// Why a TLS-PSK connection failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PskError {
    /// `bridge_psk` is not hexadecimal (checked when the file is read).
    #[error("the pre-shared key is not hexadecimal")]
    Key,
    /// `bridge_tls_version` is not one OpenSSL is given here.
    #[error("TLS version {0:?} is not tlsv1.2 or tlsv1.3")]
    Version(String),
    /// OpenSSL refused the settings.
    #[error("OpenSSL: {0}")]
    Setup(#[from] openssl::error::ErrorStack),
    /// The handshake failed: most often a wrong key or an identity the
    /// remote does not know.
    #[error("TLS-PSK handshake failed: {0}")]
    Handshake(String),
}

/// TLS-PSK settings of one connection.
#[derive(Debug, Clone)]
pub(crate) struct PskOptions {
    /// The identity sent to the remote.
    pub(crate) identity: String,
    /// The key, hexadecimal.
    pub(crate) key_hex: String,
    /// `tlsv1.2` or `tlsv1.3` only; `None`: both.
    pub(crate) version: Option<String>,
    /// ALPN protocol to offer.
    pub(crate) alpn: Option<String>,
}

/// Runs the TLS-PSK handshake over `stream` (a TCP connection).
pub(crate) async fn connect(stream: Stream, options: &PskOptions) -> Result<Stream, PskError> {
    let key = crate::server::psk::decode_hex(&options.key_hex)
        .filter(|k| !k.is_empty())
        .ok_or(PskError::Key)?;
    let mut builder = SslConnector::builder(SslMethod::tls_client())?;
    let version = match options.version.as_deref() {
        None => None,
        Some("tlsv1.2") => Some(SslVersion::TLS1_2),
        Some("tlsv1.3") => Some(SslVersion::TLS1_3),
        Some(other) => return Err(PskError::Version(other.to_string())),
    };
    builder.set_min_proto_version(Some(version.unwrap_or(SslVersion::TLS1_2)))?;
    builder.set_max_proto_version(version)?;
    builder.set_cipher_list(CIPHERS)?;
    builder.set_verify(SslVerifyMode::NONE);
    if let Some(alpn) = &options.alpn {
        let mut wire = vec![alpn.len() as u8];
        wire.extend_from_slice(alpn.as_bytes());
        builder.set_alpn_protos(&wire)?;
    }
    let identity = options.identity.clone().into_bytes();
    builder.set_psk_client_callback(move |_ssl, _hint, identity_out, key_out| {
        // The identity goes NUL-terminated; both must fit OpenSSL's room.
        if identity.len() >= identity_out.len() || key.len() > key_out.len() {
            return Ok(0);
        }
        identity_out[..identity.len()].copy_from_slice(&identity);
        identity_out[identity.len()] = 0;
        key_out[..key.len()].copy_from_slice(&key);
        Ok(key.len())
    });
    let connector = builder.build();
    let ssl: Ssl = connector
        .configure()?
        .use_server_name_indication(false)
        .verify_hostname(false)
        .into_ssl("")?;
    let mut tls = SslStream::new(ssl, stream)?;
    Pin::new(&mut tls)
        .connect()
        .await
        .map_err(|e| PskError::Handshake(e.to_string()))?;
    Ok(Box::new(tls))
}
