//! The certificates for the TLS listeners of `compare`: a CA and a server
//! certificate for `127.0.0.1` and `localhost` it signed, made with rcgen
//! at the start of a comparison and written as PEM files into its work
//! directory. Both brokers serve the same files; the bench client trusts
//! the CA.

use std::path::{Path, PathBuf};

/// The PEM files of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pki {
    /// The CA certificate (what clients trust).
    pub(crate) ca_file: PathBuf,
    /// The server certificate chain, leaf first.
    pub(crate) cert_file: PathBuf,
    /// The server's private key (PKCS#8).
    pub(crate) key_file: PathBuf,
}

impl Pki {
    /// Makes a fresh CA and server certificate and writes them into `dir`
    /// as `ca.crt`, `server.crt` and `server.key`.
    pub(crate) fn create(dir: &Path) -> Result<Pki, String> {
        let err = |e: rcgen::Error| format!("making the benchmark certificates: {e}");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name = rcgen::DistinguishedName::new();
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "hornet-bench CA");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let ca_key = rcgen::KeyPair::generate().map_err(err)?;
        let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
        let issuer = rcgen::Issuer::new(ca_params, ca_key);

        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .map_err(err)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "127.0.0.1");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let key = rcgen::KeyPair::generate().map_err(err)?;
        let cert = params.signed_by(&key, &issuer).map_err(err)?;

        let pki = Pki {
            ca_file: dir.join("ca.crt"),
            cert_file: dir.join("server.crt"),
            key_file: dir.join("server.key"),
        };
        for (path, text) in [
            (&pki.ca_file, ca_cert.pem()),
            (&pki.cert_file, cert.pem()),
            (&pki.key_file, key.serialize_pem()),
        ] {
            std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        }
        Ok(pki)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_trusts_the_ca_it_writes() {
        let dir = std::env::temp_dir().join(format!("hornet-bench-pki-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pki = Pki::create(&dir).unwrap();
        let key = std::fs::read_to_string(&pki.key_file).unwrap();
        assert!(key.contains("PRIVATE KEY"), "{key}");
        assert!(crate::transport::client_config(&pki.ca_file).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
