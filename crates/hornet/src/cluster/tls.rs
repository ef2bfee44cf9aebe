//! TLS on node links (`[cluster] tls = true`): mutual, with rustls as the
//! listeners use it. Each node presents its `certfile` both when it dials
//! (as a client certificate) and when it accepts (as the server's); each
//! verifies the other's chain against `cafile`, and the dialing node also
//! checks that the certificate names the host it dials (`advertise`'s,
//! an IP address or a DNS name). A node with a certificate of another CA,
//! or none, is refused in the handshake, with a log line on both ends.

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::crypto::ring::default_provider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::config::Cluster as ClusterConfig;

/// A link's byte stream: plain TCP or TLS over it.
pub(crate) trait LinkIo: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> LinkIo for T {}

/// A link's stream, whichever it is.
pub(crate) type LinkStream = Box<dyn LinkIo>;

/// Why the link TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LinkTlsError {
    #[error("[cluster] tls = true needs {0} (a PEM file)")]
    Missing(&'static str),
    #[error("cannot read the [cluster] {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: String,
        source: io::Error,
    },
    #[error("the [cluster] {what} {path} holds no usable {expected}")]
    Pem {
        what: &'static str,
        path: String,
        expected: &'static str,
    },
    #[error("[cluster] TLS: {0}")]
    Rustls(String),
}

/// The connector and acceptor of a node's links.
pub(crate) struct LinkTls {
    connector: TlsConnector,
    acceptor: TlsAcceptor,
}

fn read(what: &'static str, path: &Option<String>) -> Result<(String, Vec<u8>), LinkTlsError> {
    let path = path.clone().ok_or(LinkTlsError::Missing(what))?;
    let bytes = std::fs::read(&path).map_err(|source| LinkTlsError::Read {
        what,
        path: path.clone(),
        source,
    })?;
    Ok((path, bytes))
}

fn certs(
    what: &'static str,
    path: &Option<String>,
) -> Result<Vec<CertificateDer<'static>>, LinkTlsError> {
    let (path, pem) = read(what, path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    if certs.is_empty() {
        return Err(LinkTlsError::Pem {
            what,
            path,
            expected: "certificate (-----BEGIN CERTIFICATE-----)",
        });
    }
    Ok(certs)
}

impl LinkTls {
    /// The links' TLS from `[cluster]`, or `None` without `tls = true`.
    pub(crate) fn load(config: &ClusterConfig) -> Result<Option<Arc<LinkTls>>, LinkTlsError> {
        if !config.tls {
            return Ok(None);
        }
        let chain = certs("certfile", &config.certfile)?;
        let (key_path, key_pem) = read("keyfile", &config.keyfile)?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| LinkTlsError::Pem {
            what: "keyfile",
            path: key_path,
            expected: "private key (PEM PKCS#8, PKCS#1 or SEC1)",
        })?;
        let mut roots = RootCertStore::empty();
        for ca in certs("cafile", &config.cafile)? {
            roots
                .add(ca)
                .map_err(|e| LinkTlsError::Rustls(format!("the cafile's certificate: {e}")))?;
        }
        let roots = Arc::new(roots);
        let provider = Arc::new(default_provider());
        let rustls = |e: tokio_rustls::rustls::Error| LinkTlsError::Rustls(e.to_string());
        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|e| LinkTlsError::Rustls(format!("client certificate verifier: {e}")))?;
        let mut server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(rustls)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(rustls)?;
        server.alpn_protocols = vec![b"hornet-link".to_vec()];
        let mut client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(rustls)?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(rustls)?;
        client.alpn_protocols = vec![b"hornet-link".to_vec()];
        Ok(Some(Arc::new(LinkTls {
            connector: TlsConnector::from(Arc::new(client)),
            acceptor: TlsAcceptor::from(Arc::new(server)),
        })))
    }

    /// The client side of a link dialed to `addr` (`host:port`).
    pub(crate) async fn connect(&self, addr: &str, sock: TcpStream) -> io::Result<LinkStream> {
        let host = addr
            .rsplit_once(':')
            .map_or(addr, |(h, _)| h)
            .trim_start_matches('[')
            .trim_end_matches(']');
        let name = ServerName::try_from(host.to_string()).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{host:?} is no name to verify a certificate against: {e}"),
            )
        })?;
        Ok(Box::new(self.connector.connect(name, sock).await?))
    }

    /// The server side of a link another node dialed.
    pub(crate) async fn accept(&self, sock: TcpStream) -> io::Result<LinkStream> {
        Ok(Box::new(self.acceptor.accept(sock).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_needs_its_three_files() {
        let mut config = ClusterConfig::default();
        assert!(LinkTls::load(&config).unwrap().is_none(), "off by default");
        config.tls = true;
        let err = LinkTls::load(&config).err().expect("no certfile");
        assert_eq!(
            err.to_string(),
            "[cluster] tls = true needs certfile (a PEM file)"
        );
        config.certfile = Some("/nonexistent/n1.crt".into());
        let err = LinkTls::load(&config).err().expect("unreadable");
        assert!(
            err.to_string()
                .starts_with("cannot read the [cluster] certfile /nonexistent/n1.crt"),
            "{err}"
        );
    }
}
