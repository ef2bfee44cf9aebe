//! The instance's certificates: a fresh CA and a server certificate it
//! signed for `localhost`, `127.0.0.1`, `::1`, the machine's host name and
//! any names given, made with rcgen and written as PEM files (the keys
//! with mode 0600).

use std::path::{Path, PathBuf};

use super::InitError;

/// The PEM files written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pki {
    /// The CA certificate: what clients trust (`--cafile`).
    pub(crate) ca_cert: PathBuf,
    /// The CA's private key (to sign client certificates later).
    pub(crate) ca_key: PathBuf,
    /// The server certificate.
    pub(crate) server_cert: PathBuf,
    /// The server's private key.
    pub(crate) server_key: PathBuf,
    /// The names the server certificate is valid for.
    pub(crate) names: Vec<String>,
}

/// Makes the CA and the server certificate for `names` into `dir`.
pub(crate) fn create(dir: &Path, instance: &str, names: &[String]) -> Result<Pki, InitError> {
    let err = |e: rcgen::Error| InitError::Certificates(e.to_string());
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    ca_params.distinguished_name = rcgen::DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("Hornet CA ({instance})"));
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_key = rcgen::KeyPair::generate().map_err(err)?;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
    let ca_key_pem = ca_key.serialize_pem();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(err)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0].clone());
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate().map_err(err)?;
    let cert = params.signed_by(&key, &issuer).map_err(err)?;

    let pki = Pki {
        ca_cert: dir.join("ca.crt"),
        ca_key: dir.join("ca.key"),
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
        names: names.to_vec(),
    };
    super::write(&pki.ca_cert, &ca_cert.pem(), 0o644)?;
    super::write(&pki.ca_key, &ca_key_pem, 0o600)?;
    super::write(&pki.server_cert, &cert.pem(), 0o644)?;
    super::write(&pki.server_key, &key.serialize_pem(), 0o600)?;
    Ok(pki)
}

/// The names of the server certificate: `localhost`, `127.0.0.1`, `::1`,
/// this machine's host name, then `extra`, without repeats.
pub(crate) fn server_names(extra: &[String]) -> Vec<String> {
    let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    for name in std::iter::once(host.trim().to_string()).chain(extra.iter().cloned()) {
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}
