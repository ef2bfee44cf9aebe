//! Mosquitto's `ciphers` and `ciphers_tls1.3` on rustls: which of the
//! cipher suites rustls offers a listener keeps.
//!
//! `ciphers` is OpenSSL's cipher list syntax for TLS 1.2: names separated
//! by `:` (or `,`, spaces), `!` / `-` removing what follows, `A+B` for
//! suites that are both, and the
//! usual keywords (`ALL`, `DEFAULT`, `HIGH`, `ECDHE`/`EECDH`, `AESGCM`,
//! `CHACHA20`, `ECDSA`/`aECDSA`, `RSA`/`aRSA`, `AES128`, `AES256`, ...).
//! Names of suites rustls does not offer (CBC, RC4, DHE, PSK, ...) match
//! nothing, as OpenSSL ignores what it does not have; a list that keeps
//! none of rustls' suites is an error naming those it offers.
//! `ciphers_tls1.3` is a `:` list of IANA names (`TLS_AES_128_GCM_SHA256`).

use tokio_rustls::rustls::{CipherSuite, SupportedCipherSuite};

/// rustls' TLS 1.2 suites by their OpenSSL names.
const OPENSSL_NAMES: &[(CipherSuite, &str)] = &[
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "ECDHE-ECDSA-AES256-GCM-SHA384",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "ECDHE-ECDSA-AES128-GCM-SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        "ECDHE-ECDSA-CHACHA20-POLY1305",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "ECDHE-RSA-AES256-GCM-SHA384",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "ECDHE-RSA-AES128-GCM-SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        "ECDHE-RSA-CHACHA20-POLY1305",
    ),
];

fn openssl_name(suite: CipherSuite) -> Option<&'static str> {
    OPENSSL_NAMES
        .iter()
        .find(|(s, _)| *s == suite)
        .map(|(_, n)| *n)
}

/// Whether one cipher list word selects the suite called `name`.
fn selects(word: &str, name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let has = |p: &str| parts.contains(&p);
    match word {
        "ALL" | "DEFAULT" | "HIGH" | "TLSv1.2" | "SSLv3" | "COMPLEMENTOFDEFAULT" => true,
        "ECDHE" | "EECDH" | "kECDHE" | "kEECDH" => has("ECDHE"),
        "ECDSA" | "aECDSA" => has("ECDSA"),
        "RSA" | "aRSA" => !has("ECDSA"),
        "AESGCM" => has("GCM"),
        "AES" => has("AES128") || has("AES256"),
        "CHACHA20" => has("CHACHA20"),
        "AES128" | "AES256" | "SHA256" | "SHA384" => has(word),
        _ => word == name,
    }
}

/// The suites of `all` that `ciphers` (TLS 1.2) and `ciphers_tls13` keep.
pub(crate) fn select(
    all: &[SupportedCipherSuite],
    ciphers: Option<&str>,
    ciphers_tls13: Option<&str>,
) -> Result<Vec<SupportedCipherSuite>, String> {
    let tls12: Vec<SupportedCipherSuite> = all
        .iter()
        .copied()
        .filter(|s| matches!(s, SupportedCipherSuite::Tls12(_)))
        .collect();
    let tls13: Vec<SupportedCipherSuite> = all
        .iter()
        .copied()
        .filter(|s| matches!(s, SupportedCipherSuite::Tls13(_)))
        .collect();
    let tls12 = match ciphers {
        None => tls12,
        Some(list) => {
            let mut kept: Vec<SupportedCipherSuite> = Vec::new();
            let mut removed: Vec<SupportedCipherSuite> = Vec::new();
            for word in list.split([':', ',', ' ']).filter(|w| !w.is_empty()) {
                let (remove, word) = match word.strip_prefix(['!', '-']) {
                    Some(w) => (true, w),
                    None => (false, word),
                };
                // `+` alone moves suites to the end (order is rustls'
                // here); inside a word it means "and".
                if word.starts_with('+') {
                    continue;
                }
                for s in &tls12 {
                    let Some(name) = openssl_name(s.suite()) else {
                        continue;
                    };
                    if !word.split('+').all(|w| selects(w, name)) {
                        continue;
                    }
                    if remove {
                        removed.push(*s);
                    } else if !kept.iter().any(|k| k.suite() == s.suite()) {
                        kept.push(*s);
                    }
                }
            }
            kept.retain(|k| !removed.iter().any(|r| r.suite() == k.suite()));
            if kept.is_empty() {
                return Err(format!(
                    "ciphers {list:?} keeps none of the TLS 1.2 cipher suites Hornet offers: {}",
                    OPENSSL_NAMES
                        .iter()
                        .map(|(_, n)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            kept
        }
    };
    let tls13 = match ciphers_tls13 {
        None => tls13,
        Some(list) => {
            let names: Vec<&str> = list.split(':').map(str::trim).collect();
            let kept: Vec<SupportedCipherSuite> = tls13
                .iter()
                .copied()
                .filter(|s| {
                    let iana = format!("{:?}", s.suite()).replacen("TLS13_", "TLS_", 1);
                    names.contains(&iana.as_str())
                })
                .collect();
            if kept.is_empty() {
                return Err(format!(
                    "ciphers_tls1.3 {list:?} keeps none of the TLS 1.3 cipher suites Hornet \
                     offers: TLS_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256, \
                     TLS_CHACHA20_POLY1305_SHA256"
                ));
            }
            kept
        }
    };
    Ok(tls13.into_iter().chain(tls12).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_rustls::rustls::crypto::ring::ALL_CIPHER_SUITES;

    fn names(list: Option<&str>, tls13: Option<&str>) -> Vec<String> {
        select(ALL_CIPHER_SUITES, list, tls13)
            .unwrap()
            .iter()
            .map(|s| format!("{:?}", s.suite()))
            .collect()
    }

    #[test]
    fn openssl_cipher_lists_select_rustls_suites() {
        assert_eq!(names(None, None).len(), ALL_CIPHER_SUITES.len());
        let one = names(Some("ECDHE-RSA-AES128-GCM-SHA256"), None);
        assert_eq!(one.len(), 4, "{one:?}"); // three TLS 1.3 suites and that one
        assert!(one.contains(&"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".to_string()));
        let high = names(Some("HIGH:!aNULL:!MD5:!CHACHA20"), None);
        assert_eq!(high.len(), 3 + 4, "{high:?}");
        let ecdsa = names(Some("ECDHE+AESGCM:!aRSA"), None);
        assert_eq!(ecdsa.len(), 3 + 2, "{ecdsa:?}");
        let t13 = names(None, Some("TLS_AES_128_GCM_SHA256"));
        assert_eq!(t13.len(), 1 + 6, "{t13:?}");
        assert!(
            select(ALL_CIPHER_SUITES, Some("RC4-SHA:DES-CBC3-SHA"), None)
                .unwrap_err()
                .contains("keeps none")
        );
        assert!(select(ALL_CIPHER_SUITES, None, Some("TLS_NOPE")).is_err());
    }
}
