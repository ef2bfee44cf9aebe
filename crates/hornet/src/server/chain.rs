//! The server's certificate chain completed as OpenSSL completes it: when
//! `certfile` holds the leaf without its intermediate CA certificates and
//! they are in `cafile` / `capath`, they are sent too (clients that trust
//! only the root then connect, as they do to Mosquitto). Each added
//! certificate must have signed the one before; the root (self-signed) is
//! not sent.

use tokio_rustls::rustls::pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Most certificates added to a chain.
const MAX_ADDED: usize = 8;

/// `chain` with the issuers from `pool` appended, up to the root.
pub(crate) fn complete(
    mut chain: Vec<CertificateDer<'static>>,
    pool: &[CertificateDer<'static>],
) -> Vec<CertificateDer<'static>> {
    for _ in 0..MAX_ADDED {
        let Some(next) = chain.last().and_then(|last| issuer_in(last, pool, &chain)) else {
            break;
        };
        chain.push(next);
    }
    chain
}

/// The certificate of `pool` that signed `cert`, unless `cert` is
/// self-issued, the issuer is a root (self-signed) or already in `chain`.
fn issuer_in(
    cert: &CertificateDer<'_>,
    pool: &[CertificateDer<'static>],
    chain: &[CertificateDer<'static>],
) -> Option<CertificateDer<'static>> {
    let (_, parsed) = X509Certificate::from_der(cert).ok()?;
    if parsed.subject().as_raw() == parsed.issuer().as_raw() {
        return None;
    }
    pool.iter()
        .filter(|c| !chain.contains(c))
        .find(|candidate| {
            X509Certificate::from_der(candidate).is_ok_and(|(_, ca)| {
                ca.subject().as_raw() == parsed.issuer().as_raw()
                    && ca.subject().as_raw() != ca.issuer().as_raw()
                    && parsed.verify_signature(Some(ca.public_key())).is_ok()
            })
        })
        .cloned()
}
