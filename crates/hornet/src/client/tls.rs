//! The rustls client configuration for `--cafile`, `--capath`,
//! `--cert`/`--key`, `--insecure`, `--tls-version` and `--tls-use-os-certs`.
//!
//! Like `mosquitto_pub`, `--insecure` skips only the host name check: the
//! server's certificate must still chain to a trusted CA and be in date.
//! Without `--cafile`/`--capath`, the system's CA bundle is trusted (the
//! Debian path, `/etc/ssl/certs/ca-certificates.crt`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::crypto::ring::default_provider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    self, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// The system CA bundle on Debian and its derivatives.
pub(crate) const OS_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// What the TLS options of the command line ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsOptions {
    /// PEM file of trusted CA certificates.
    pub(crate) cafile: Option<PathBuf>,
    /// Directory of PEM files of trusted CA certificates.
    pub(crate) capath: Option<PathBuf>,
    /// Client certificate chain (PEM).
    pub(crate) cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub(crate) key: Option<PathBuf>,
    /// Skip the host name check.
    pub(crate) insecure: bool,
    /// `tlsv1.2` or `tlsv1.3`; both when absent.
    pub(crate) version: Option<String>,
    /// ALPN protocol to offer.
    pub(crate) alpn: Option<String>,
}

/// Builds the client configuration; an error names the file or option.
pub(crate) fn build(opts: &TlsOptions) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    if let Some(file) = &opts.cafile {
        add_pem_file(&mut roots, file)?;
    }
    if let Some(dir) = &opts.capath {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| format!("Unable to load CA certificates from {}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() {
                // A directory holds other files too; take what parses.
                let _ = add_pem_file(&mut roots, &path);
            }
        }
    }
    if opts.cafile.is_none() && opts.capath.is_none() {
        add_pem_file(&mut roots, Path::new(OS_CA_BUNDLE))?;
    }
    if roots.is_empty() {
        return Err("Unable to load CA certificates: no certificate found".into());
    }
    let versions: &[&rustls::SupportedProtocolVersion] = match opts.version.as_deref() {
        None => rustls::ALL_VERSIONS,
        Some("tlsv1.3") => &[&rustls::version::TLS13],
        Some("tlsv1.2") => &[&rustls::version::TLS12],
        Some(other) => {
            return Err(format!(
                "Unsupported TLS version {other}: use tlsv1.2 or tlsv1.3"
            ))
        }
    };
    let provider = Arc::new(default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| format!("TLS versions: {e}"))?;
    let roots = Arc::new(roots);
    let builder = if opts.insecure {
        let inner = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| format!("TLS verifier: {e}"))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyName(inner)))
    } else {
        builder.with_root_certificates(roots)
    };
    let mut config = match (&opts.cert, &opts.key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    format!("Unable to load client certificate {}: {e}", cert.display())
                })?;
            let key_der = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("Unable to load client key file {}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| format!("Client certificate and key do not match: {e}"))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err("Both certfile and keyfile must be provided if one of them is set.".into())
        }
    };
    if let Some(alpn) = &opts.alpn {
        config.alpn_protocols = vec![alpn.as_bytes().to_vec()];
    }
    Ok(Arc::new(config))
}

fn add_pem_file(roots: &mut RootCertStore, file: &Path) -> Result<(), String> {
    let certs = CertificateDer::pem_file_iter(file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            format!(
                "Unable to load CA certificates from {}: {e}",
                file.display()
            )
        })?;
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("Bad CA certificate in {}: {e}", file.display()))?;
    }
    Ok(())
}

/// `--insecure`: the chain is checked, the name is not.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_named() {
        let opts = TlsOptions {
            cafile: Some("/nonexistent/ca.crt".into()),
            ..Default::default()
        };
        let err = build(&opts).unwrap_err();
        assert!(err.contains("/nonexistent/ca.crt"), "{err}");
        let opts = TlsOptions {
            cafile: Some("/nonexistent/ca.crt".into()),
            cert: Some("c".into()),
            ..Default::default()
        };
        assert!(build(&opts).is_err());
    }
}
