//! Client certificates as OpenSSL-based brokers (Mosquitto) accept them:
//! every certificate is verified by webpki as before, and an X.509 **v1**
//! leaf certificate, which webpki refuses (`UnsupportedCertVersion`) but
//! `openssl x509 -req -CA ...` makes without an extensions file, is
//! accepted when it is within its validity period and signed directly by
//! one of the configured CA certificates. Nothing else is loosened: a v3
//! certificate, a v1 certificate from another CA, expired or not yet
//! valid, is refused as before. The handshake signatures of a v1 client
//! are checked with its public key, by webpki's algorithms, and it is
//! refused when the `crlfile` revokes it, as webpki refuses the others.

use std::sync::Arc;

use tokio_rustls::rustls::client::danger::HandshakeSignatureValid;
use tokio_rustls::rustls::crypto::WebPkiSupportedAlgorithms;
use tokio_rustls::rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, SubjectPublicKeyInfoDer, UnixTime,
};
use tokio_rustls::rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use tokio_rustls::rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme,
};
use x509_parser::prelude::{FromDer, X509Certificate, X509Version};

/// webpki's verifier, with v1 leaf certificates from the CAs accepted.
#[derive(Debug)]
pub(crate) struct ClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    /// The configured CA certificates (DER), for v1 leaves.
    cas: Vec<CertificateDer<'static>>,
    /// The `crlfile`'s lists, which v1 leaves are checked against too.
    crls: Vec<CertificateRevocationListDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientVerifier {
    pub(crate) fn new(
        inner: Arc<dyn ClientCertVerifier>,
        cas: Vec<CertificateDer<'static>>,
        crls: Vec<CertificateRevocationListDer<'static>>,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> ClientVerifier {
        ClientVerifier {
            inner,
            cas,
            crls,
            algorithms,
        }
    }

    /// Whether a CRL of `cert`'s issuer lists its serial number.
    fn revoked(&self, cert: &X509Certificate<'_>) -> bool {
        self.crls.iter().any(|der| {
            x509_parser::revocation_list::CertificateRevocationList::from_der(der).is_ok_and(
                |(_, crl)| {
                    crl.issuer().as_raw() == cert.issuer().as_raw()
                        && crl
                            .iter_revoked_certificates()
                            .any(|r| r.raw_serial() == cert.raw_serial())
                },
            )
        })
    }

    /// Whether `leaf` is a v1 certificate valid at `now` and signed by one
    /// of the CAs.
    fn v1_from_a_ca(&self, leaf: &CertificateDer<'_>, now: UnixTime) -> bool {
        let Ok((_, cert)) = X509Certificate::from_der(leaf) else {
            return false;
        };
        if cert.version() != X509Version::V1 {
            return false;
        }
        let Ok(at) = x509_parser::time::ASN1Time::from_timestamp(
            i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
        ) else {
            return false;
        };
        if !cert.validity().is_valid_at(at) || self.revoked(&cert) {
            return false;
        }
        self.cas.iter().any(|ca| {
            X509Certificate::from_der(ca).is_ok_and(|(_, ca)| {
                ca.subject().as_raw() == cert.issuer().as_raw()
                    && cert.verify_signature(Some(ca.public_key())).is_ok()
            })
        })
    }

    /// Checks a handshake signature with a v1 certificate's public key.
    fn v1_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Option<Result<HandshakeSignatureValid, Error>> {
        let (_, parsed) = X509Certificate::from_der(cert).ok()?;
        if parsed.version() != X509Version::V1 {
            return None;
        }
        let spki = SubjectPublicKeyInfoDer::from(parsed.public_key().raw);
        let entity = webpki::RawPublicKeyEntity::try_from(&spki).ok()?;
        let algs = self
            .algorithms
            .mapping
            .iter()
            .find(|(scheme, _)| *scheme == dss.scheme)
            .map(|(_, algs)| *algs)?;
        let valid = algs.iter().any(|alg| {
            entity
                .verify_signature(*alg, message, dss.signature())
                .is_ok()
        });
        Some(if valid {
            Ok(HandshakeSignatureValid::assertion())
        } else {
            Err(Error::InvalidCertificate(CertificateError::BadSignature))
        })
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        match self
            .inner
            .verify_client_cert(end_entity, intermediates, now)
        {
            Ok(v) => Ok(v),
            Err(e) if self.v1_from_a_ca(end_entity, now) => {
                tracing::debug!("Accepted an X.509 v1 client certificate signed by a CA ({e}).");
                Ok(ClientCertVerified::assertion())
            }
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        match self.inner.verify_tls12_signature(message, cert, dss) {
            Ok(v) => Ok(v),
            Err(e) => self.v1_signature(message, cert, dss).unwrap_or(Err(e)),
        }
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        match self.inner.verify_tls13_signature(message, cert, dss) {
            Ok(v) => Ok(v),
            Err(e) => self.v1_signature(message, cert, dss).unwrap_or(Err(e)),
        }
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
