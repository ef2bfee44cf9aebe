//! TLS for the `tls` and `wss` listeners: building the rustls server
//! configuration from PEM files, swapping it on reload, and the user name
//! a client certificate gives.
//!
//! Each TLS listener owns a [`TlsListener`] holding its current
//! `Arc<ServerConfig>`. A handshake takes the configuration current when
//! the client connected, so a reload (SIGHUP, or a changed file noticed by
//! the watcher) only affects new connections; established ones keep their
//! session. A reload that fails (unreadable file, no certificate, a key that
//! does not match) keeps the old configuration and says which file and why.
//!
//! Protocols: TLS 1.2 and 1.3 (`tls_version tlsv1.3` for 1.3 only), ring
//! as the crypto provider. ALPN: `mqtt` on `tls` listeners (as IANA
//! registered it for MQTT over TLS), `http/1.1` on `wss` (browsers offer
//! only that). Client certificates: with `cafile`/`capath` they are
//! verified (webpki, and X.509 v1 leaves from the CAs as OpenSSL accepts
//! them: `client_cert.rs`); `require_certificate` makes one mandatory.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use tokio_rustls::rustls::crypto::ring::default_provider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer,
};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::config::{CertIdentity, ListenerKind, Tls, TlsVersion};

/// One TLS listener's certificates, reloadable.
pub(crate) struct TlsListener {
    settings: Tls,
    kind: ListenerKind,
    /// What the listener is called in log lines.
    name: String,
    current: RwLock<Arc<ServerConfig>>,
    /// The files' modification times when last loaded (or tried).
    stamps: Mutex<Vec<Option<SystemTime>>>,
}

impl TlsListener {
    /// Loads the certificates; an error names the file and the reason.
    pub(crate) fn load(settings: &Tls, kind: ListenerKind, name: String) -> Result<Self, String> {
        let stamps = stamps(settings);
        let config = build(settings, kind)?;
        Ok(TlsListener {
            settings: settings.clone(),
            kind,
            name,
            current: RwLock::new(Arc::new(config)),
            stamps: Mutex::new(stamps),
        })
    }

    /// An acceptor with the current certificates.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        let config = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        TlsAcceptor::from(config)
    }

    /// Reads the files again and uses them for new connections. On error
    /// the old certificates stay, and the error is logged and returned.
    pub(crate) fn reload(&self) -> Result<(), String> {
        *self.stamps.lock().unwrap_or_else(|p| p.into_inner()) = stamps(&self.settings);
        match build(&self.settings, self.kind) {
            Ok(config) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
                tracing::info!(
                    "Reloaded the TLS certificates of the {} listener from {}.",
                    self.name,
                    self.settings.certfile.display()
                );
                Ok(())
            }
            Err(e) => {
                tracing::error!(
                    "Reloading the TLS certificates of the {} listener failed, keeping the \
                     previous ones: {e}",
                    self.name
                );
                Err(e)
            }
        }
    }

    /// The directories to watch for changes of the listener's files: each
    /// file's own directory, and `capath` itself.
    pub(crate) fn watched_dirs(&self) -> Vec<PathBuf> {
        let tls = &self.settings;
        let mut files: Vec<&Path> = vec![&tls.certfile, &tls.keyfile];
        files.extend(tls.cafile.as_deref());
        let mut dirs: Vec<PathBuf> = files
            .iter()
            .map(|f| match f.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
                _ => PathBuf::from("."),
            })
            .collect();
        dirs.extend(tls.capath.clone());
        dirs
    }

    /// Whether any of the files changed since the last (attempted) load.
    pub(crate) fn files_changed(&self) -> bool {
        *self.stamps.lock().unwrap_or_else(|p| p.into_inner()) != stamps(&self.settings)
    }

    /// How the listener treats client certificates, for the banner.
    pub(crate) fn mode(&self) -> String {
        describe(&self.settings)
    }

    /// The MQTT user name the verified client certificate gives, if the
    /// listener takes it from there; an error if it should and cannot.
    /// Whether the user name comes from the client certificate.
    pub(crate) fn identity_required(&self) -> bool {
        self.settings.identity != CertIdentity::None
    }

    pub(crate) fn cert_username(
        &self,
        conn: &rustls::ServerConnection,
    ) -> Result<Option<String>, String> {
        if self.settings.identity == CertIdentity::None {
            return Ok(None);
        }
        // Without require_certificate a client may present none: the core
        // refuses its CONNECT (ConnInfo::identity_required).
        let Some(cert) = conn.peer_certificates().and_then(|c| c.first()) else {
            return Ok(None);
        };
        identity(cert, self.settings.identity).map(Some)
    }
}

/// The TLS mode of a listener in words.
pub(crate) fn describe(tls: &Tls) -> String {
    let version = match tls.min_version {
        TlsVersion::V1_2 => "TLS 1.2 and 1.3",
        TlsVersion::V1_3 => "TLS 1.3",
    };
    let clients = match (tls.require_certificate, tls.identity) {
        (true, CertIdentity::CommonName) => {
            "client certificate required, its CN is the user name".to_string()
        }
        (true, CertIdentity::Subject) => {
            "client certificate required, its subject is the user name".to_string()
        }
        (true, CertIdentity::None) => "client certificate required".to_string(),
        (false, _) if tls.cafile.is_some() || tls.capath.is_some() => {
            "client certificate optional (verified when given)".to_string()
        }
        (false, _) => "no client certificates".to_string(),
    };
    format!(
        "{version}, certificate {}, {clients}",
        tls.certfile.display()
    )
}

/// The user name in a certificate: its CN, or its subject in RFC 2253
/// form (most specific first, as Mosquitto prints it: `CN=x,O=y,C=z`).
fn identity(cert: &CertificateDer<'_>, what: CertIdentity) -> Result<String, String> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(cert.as_ref())
        .map_err(|e| format!("unreadable client certificate: {e}"))?;
    let subject = cert.subject();
    match what {
        CertIdentity::CommonName => subject
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_string)
            .ok_or_else(|| "the client certificate has no common name (CN)".to_string()),
        _ => {
            let registry = x509_parser::objects::oid_registry();
            let mut parts = Vec::new();
            for rdn in subject.iter_rdn() {
                let attrs: Vec<String> = rdn
                    .iter()
                    .map(|a| {
                        let name = x509_parser::objects::oid2abbrev(a.attr_type(), registry)
                            .map(str::to_string)
                            .unwrap_or_else(|_| a.attr_type().to_id_string());
                        let value = a.as_str().unwrap_or("?");
                        format!("{name}={}", escape_rfc2253(value))
                    })
                    .collect();
                parts.push(attrs.join("+"));
            }
            parts.reverse();
            if parts.is_empty() {
                return Err("the client certificate has an empty subject".into());
            }
            Ok(parts.join(","))
        }
    }
}

/// Escapes the characters RFC 2253 reserves in attribute values.
fn escape_rfc2253(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i + 1 == value.chars().count() && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The modification times of every file a listener reads.
fn stamps(tls: &Tls) -> Vec<Option<SystemTime>> {
    let mut paths: Vec<&Path> = vec![&tls.certfile, &tls.keyfile];
    paths.extend(tls.cafile.as_deref());
    paths.extend(tls.capath.as_deref());
    let mut out: Vec<Option<SystemTime>> = paths.iter().map(|p| mtime(p)).collect();
    if let Some(dir) = &tls.capath {
        for file in ca_dir_files(dir) {
            out.push(mtime(&file));
        }
    }
    out
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The certificate files of a `capath` directory, sorted.
fn ca_dir_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && p.extension()
                            .is_some_and(|x| x == "pem" || x == "crt" || x == "cer")
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Reads a file for `what`, naming it on failure.
fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))
}

/// The certificate revocation lists of a PEM `crlfile`.
fn crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
    let pem = read(path, "crlfile")?;
    let crls = CertificateRevocationListDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the crlfile {} is not PEM: {e}", path.display()))?;
    if crls.is_empty() {
        return Err(format!(
            "the crlfile {} holds no certificate revocation list",
            path.display()
        ));
    }
    Ok(crls)
}

fn certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the {what} {} is not valid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "the {what} {} holds no certificate (expected PEM `-----BEGIN CERTIFICATE-----`)",
            path.display()
        ));
    }
    Ok(certs)
}

/// Builds a listener's rustls configuration from its files.
pub(crate) fn build(tls: &Tls, kind: ListenerKind) -> Result<ServerConfig, String> {
    let chain = certs(&tls.certfile, "certfile")?;
    let key_pem = read(&tls.keyfile, "keyfile")?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        format!(
            "the keyfile {} holds no usable private key (PEM PKCS#8, PKCS#1 or SEC1): {e}",
            tls.keyfile.display()
        )
    })?;
    let mut provider = default_provider();
    provider.cipher_suites = super::ciphers::select(
        &provider.cipher_suites,
        tls.ciphers.as_deref(),
        tls.ciphers_tls13.as_deref(),
    )?;
    let provider = Arc::new(provider);
    let versions: &[&rustls::SupportedProtocolVersion] = match tls.min_version {
        TlsVersion::V1_2 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::V1_3 => &[&rustls::version::TLS13],
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| format!("TLS versions: {e}"))?;
    let mut roots = RootCertStore::empty();
    let mut ca_files: Vec<PathBuf> = tls.cafile.iter().cloned().collect();
    if let Some(dir) = &tls.capath {
        let found = ca_dir_files(dir);
        if found.is_empty() && tls.cafile.is_none() {
            return Err(format!(
                "the capath {} holds no *.pem or *.crt certificates",
                dir.display()
            ));
        }
        ca_files.extend(found);
    }
    let mut cas: Vec<CertificateDer<'static>> = Vec::new();
    for file in &ca_files {
        for cert in certs(file, "cafile")? {
            cas.push(cert.clone());
            roots.add(cert).map_err(|e| {
                format!(
                    "the cafile {} holds a certificate that cannot be a CA: {e}",
                    file.display()
                )
            })?;
        }
    }
    // The intermediates from cafile/capath, as OpenSSL completes a chain.
    let chain = super::chain::complete(chain, &cas);
    let builder = if ca_files.is_empty() {
        builder.with_no_client_auth()
    } else {
        let algorithms = provider.signature_verification_algorithms;
        let crls = match &tls.crlfile {
            Some(path) => crls(path)?,
            None => Vec::new(),
        };
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .with_crls(crls.clone())
            // As OpenSSL checks a crlfile: the client certificate itself.
            .only_check_end_entity_revocation();
        let verifier = if tls.require_certificate {
            verifier
        } else {
            verifier.allow_unauthenticated()
        };
        let verifier = verifier
            .build()
            .map_err(|e| format!("client certificate verifier: {e}"))?;
        // X.509 v1 client certificates from the CAs, as OpenSSL accepts them.
        let verifier = super::client_cert::ClientVerifier::new(verifier, cas, crls, algorithms);
        builder.with_client_cert_verifier(Arc::new(verifier))
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| {
        format!(
            "the certificate {} and key {} do not make a usable pair: {e}",
            tls.certfile.display(),
            tls.keyfile.display()
        )
    })?;
    config.alpn_protocols = match kind {
        ListenerKind::Wss => vec![b"http/1.1".to_vec()],
        _ => vec![b"mqtt".to_vec()],
    };
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2253_escapes() {
        assert_eq!(escape_rfc2253("a,b"), "a\\,b");
        assert_eq!(escape_rfc2253("#x"), "\\#x");
        assert_eq!(escape_rfc2253("plain"), "plain");
    }

    #[test]
    fn missing_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("s.crt");
        let key = dir.path().join("s.key");
        let err = build(&Tls::new(&cert, &key), ListenerKind::Tls).unwrap_err();
        assert!(err.contains("cannot read the certfile"), "{err}");
        assert!(err.contains("s.crt"), "{err}");
        std::fs::write(&cert, "not pem\n").unwrap();
        let err = build(&Tls::new(&cert, &key), ListenerKind::Tls).unwrap_err();
        assert!(err.contains("holds no certificate"), "{err}");

        let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        std::fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let err = build(&Tls::new(&cert, &key), ListenerKind::Tls).unwrap_err();
        assert!(err.contains("s.key"), "{err}");

        // a key of another certificate
        let other = rcgen::generate_simple_self_signed(vec!["other".into()]).unwrap();
        std::fs::write(&key, other.signing_key.serialize_pem()).unwrap();
        let err = build(&Tls::new(&cert, &key), ListenerKind::Tls).unwrap_err();
        assert!(err.contains("do not make a usable pair"), "{err}");

        std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
        let config = build(&Tls::new(&cert, &key), ListenerKind::Tls).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"mqtt".to_vec()]);
    }

    #[test]
    fn identity_from_certificates() {
        let mut params = rcgen::CertificateParams::new(vec!["dev".into()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CountryName, "DE");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Acme, Inc");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "device-7");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let der = cert.der();
        assert_eq!(identity(der, CertIdentity::CommonName).unwrap(), "device-7");
        assert_eq!(
            identity(der, CertIdentity::Subject).unwrap(),
            "CN=device-7,O=Acme\\, Inc,C=DE"
        );
    }
}
