//! The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as a sans-IO
//! state machine: messages in, messages out, no socket and no clock.
//!
//! ```text
//!            client-first-message            client-final-message
//! AwaitingClientFirst ──────────────> AwaitingClientFinal ──────────────> Done
//!         │  answers server-first-message        │  answers server-final-message (v=...)
//!         └──── error (e=...) ──> Done <─────────┘
//! ```
//!
//! Supported: the GS2 header `n,,` (or `y,,`: the client could bind but
//! believes the server cannot, which is true). Not supported, and refused
//! with the RFC's `e=` values: channel binding (`p=...`), an authorization
//! identity (`a=...`) and mandatory extensions (`m=...`). User names are
//! compared after `=2C`/`=3D` unescaping, without SASLprep (ASCII names are
//! unaffected).
//!
//! The server nonce is passed in (the caller draws it from a random source),
//! which is also how the tests replay RFC 7677's exchange exactly.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::password_file::{hmac_sha256, ScramCredentials};

/// The SASL mechanism name, also the MQTT Authentication Method.
pub const MECHANISM: &str = "SCRAM-SHA-256";

/// Why an exchange failed; [`ScramError::server_error`] is RFC 5802's
/// `server-error-value` for an `e=` message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    /// A message is not valid UTF-8 or does not follow the grammar.
    #[error("malformed SCRAM message: {0}")]
    InvalidEncoding(&'static str),
    /// The client asked for channel binding (`p=`), which Hornet lacks.
    #[error("channel binding is not supported")]
    ChannelBindingNotSupported,
    /// An authorization identity (`a=`) was given.
    #[error("an authorization identity (a=) is not supported")]
    AuthzidNotSupported,
    /// A mandatory extension (`m=`) was given.
    #[error("SCRAM extensions (m=) are not supported")]
    ExtensionsNotSupported,
    /// The user name has a `=` that is not `=2C` or `=3D`.
    #[error("invalid user name encoding")]
    InvalidUsernameEncoding,
    /// The channel binding of client-final does not repeat the GS2 header.
    #[error("the channel binding does not match the GS2 header")]
    ChannelBindingsDontMatch,
    /// The nonce of client-final is not the combined nonce.
    #[error("the nonce does not match")]
    InvalidNonce,
    /// The client proof is wrong: wrong password (or unknown user).
    #[error("the client proof is wrong")]
    InvalidProof,
    /// A message arrived in the wrong state.
    #[error("unexpected message in this state of the exchange")]
    OutOfOrder,
}

impl ScramError {
    /// RFC 5802's `server-error-value` for this error.
    pub fn server_error(&self) -> &'static str {
        match self {
            ScramError::InvalidEncoding(_) => "invalid-encoding",
            ScramError::ChannelBindingNotSupported => "channel-binding-not-supported",
            ScramError::AuthzidNotSupported | ScramError::InvalidNonce | ScramError::OutOfOrder => {
                "other-error"
            }
            ScramError::ExtensionsNotSupported => "extensions-not-supported",
            ScramError::InvalidUsernameEncoding => "invalid-username-encoding",
            ScramError::ChannelBindingsDontMatch => "channel-bindings-dont-match",
            ScramError::InvalidProof => "invalid-proof",
        }
    }

    /// The `server-final-message` that reports this error: `e=...`.
    pub fn message(&self) -> String {
        format!("e={}", self.server_error())
    }
}

enum State {
    AwaitingClientFirst,
    AwaitingClientFinal {
        credentials: ScramCredentials,
        /// `base64(gs2-header)`, what `c=` must be.
        channel_binding: String,
        /// client-first-message-bare + "," + server-first-message.
        auth_message: String,
        nonce: String,
    },
    Done,
}

/// One SCRAM-SHA-256 exchange, server side.
pub struct ScramServer {
    state: State,
    username: Option<String>,
}

impl std::fmt::Debug for ScramServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::AwaitingClientFirst => "awaiting client-first",
            State::AwaitingClientFinal { .. } => "awaiting client-final",
            State::Done => "done",
        };
        f.debug_struct("ScramServer")
            .field("state", &state)
            .field("username", &self.username)
            .finish()
    }
}

impl Default for ScramServer {
    fn default() -> Self {
        ScramServer::new()
    }
}

impl ScramServer {
    /// An exchange waiting for the client-first-message.
    pub fn new() -> ScramServer {
        ScramServer {
            state: State::AwaitingClientFirst,
            username: None,
        }
    }

    /// The user name of client-first, once received.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// Whether the exchange is over (successfully or not).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Handles the client-first-message and answers the
    /// server-first-message. `credentials` looks up the user named in the
    /// message; `server_nonce` is appended to the client's nonce (printable
    /// ASCII without `,`).
    pub fn client_first(
        &mut self,
        message: &[u8],
        server_nonce: &str,
        credentials: impl FnOnce(&str) -> ScramCredentials,
    ) -> Result<String, ScramError> {
        if !matches!(self.state, State::AwaitingClientFirst) {
            return self.fail(ScramError::OutOfOrder);
        }
        let result = self.parse_client_first(message, server_nonce, credentials);
        if result.is_err() {
            self.state = State::Done;
        }
        result
    }

    fn parse_client_first(
        &mut self,
        message: &[u8],
        server_nonce: &str,
        credentials: impl FnOnce(&str) -> ScramCredentials,
    ) -> Result<String, ScramError> {
        let text = std::str::from_utf8(message)
            .map_err(|_| ScramError::InvalidEncoding("client-first is not UTF-8"))?;
        let (flag, rest) = text.split_once(',').ok_or(ScramError::InvalidEncoding(
            "client-first has no GS2 header",
        ))?;
        match flag {
            "n" | "y" => {}
            f if f.starts_with("p=") => return Err(ScramError::ChannelBindingNotSupported),
            _ => return Err(ScramError::InvalidEncoding("bad GS2 channel binding flag")),
        }
        let (authzid, bare) = rest.split_once(',').ok_or(ScramError::InvalidEncoding(
            "client-first has no GS2 header",
        ))?;
        if authzid.starts_with("a=") {
            return Err(ScramError::AuthzidNotSupported);
        } else if !authzid.is_empty() {
            return Err(ScramError::InvalidEncoding("bad GS2 header"));
        }
        let gs2_header = &text[..text.len() - bare.len()];
        let mut attributes = bare.split(',');
        let user = match attributes.next() {
            Some(a) if a.starts_with("m=") => return Err(ScramError::ExtensionsNotSupported),
            Some(a) => a
                .strip_prefix("n=")
                .ok_or(ScramError::InvalidEncoding("client-first has no n="))?,
            None => return Err(ScramError::InvalidEncoding("client-first has no n=")),
        };
        let user = decode_saslname(user)?;
        let client_nonce = attributes
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .filter(|n| is_nonce(n))
            .ok_or(ScramError::InvalidEncoding("client-first has no valid r="))?;
        let credentials = credentials(&user);
        let nonce = format!("{client_nonce}{server_nonce}");
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&credentials.salt),
            credentials.iterations
        );
        self.state = State::AwaitingClientFinal {
            credentials,
            channel_binding: B64.encode(gs2_header),
            auth_message: format!("{bare},{server_first}"),
            nonce,
        };
        self.username = Some(user);
        Ok(server_first)
    }

    /// Handles the client-final-message: checks channel binding, nonce and
    /// proof, and answers the server-final-message (`v=...`).
    pub fn client_final(&mut self, message: &[u8]) -> Result<String, ScramError> {
        let state = std::mem::replace(&mut self.state, State::Done);
        let State::AwaitingClientFinal {
            credentials,
            channel_binding,
            auth_message,
            nonce,
        } = state
        else {
            return Err(ScramError::OutOfOrder);
        };
        let text = std::str::from_utf8(message)
            .map_err(|_| ScramError::InvalidEncoding("client-final is not UTF-8"))?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or(ScramError::InvalidEncoding("client-final has no p="))?;
        let mut attributes = without_proof.split(',');
        let c = attributes
            .next()
            .and_then(|a| a.strip_prefix("c="))
            .ok_or(ScramError::InvalidEncoding("client-final has no c="))?;
        let r = attributes
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .ok_or(ScramError::InvalidEncoding("client-final has no r="))?;
        if c != channel_binding {
            return Err(ScramError::ChannelBindingsDontMatch);
        }
        if r != nonce {
            return Err(ScramError::InvalidNonce);
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| ScramError::InvalidEncoding("the proof is not base64"))?;
        if proof.len() != 32 {
            return Err(ScramError::InvalidEncoding("the proof is not 32 bytes"));
        }
        let auth_message = format!("{auth_message},{without_proof}");
        let signature = hmac_sha256(&credentials.stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof.iter().zip(signature).map(|(p, s)| p ^ s).collect();
        let stored_key = Sha256::digest(&client_key);
        if !bool::from(stored_key.as_slice().ct_eq(&credentials.stored_key)) {
            return Err(ScramError::InvalidProof);
        }
        let server_signature = hmac_sha256(&credentials.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)))
    }

    fn fail<T>(&mut self, error: ScramError) -> Result<T, ScramError> {
        self.state = State::Done;
        Err(error)
    }
}

/// `saslname`: `=2C` is `,` and `=3D` is `=`; any other `=` is an error.
fn decode_saslname(text: &str) -> Result<String, ScramError> {
    if text.is_empty() {
        return Err(ScramError::InvalidEncoding("empty user name"));
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let escape = rest.get(i..i + 3);
        match escape {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(ScramError::InvalidUsernameEncoding),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A nonce: printable ASCII except `,`, not empty.
fn is_nonce(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

/// A fresh server nonce: 18 random bytes in base64 (24 characters).
pub fn random_nonce() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes)?;
    Ok(B64.encode(bytes))
}

/// The client side of SCRAM-SHA-256, for tests and future clients of
/// Hornet's own (a bridge): GS2 header `n,,`, no channel binding.
pub struct ScramClient {
    bare: String,
    nonce: String,
    password: Vec<u8>,
    server_signature: Option<[u8; 32]>,
}

impl std::fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramClient")
            .field("bare", &self.bare)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// A client for `user` with `password` and its nonce `client_nonce`
    /// (printable ASCII without `,`; use [`random_nonce`]).
    pub fn new(user: &str, password: &[u8], client_nonce: &str) -> ScramClient {
        let user = user.replace('=', "=3D").replace(',', "=2C");
        ScramClient {
            bare: format!("n={user},r={client_nonce}"),
            nonce: client_nonce.to_string(),
            password: password.to_vec(),
            server_signature: None,
        }
    }

    /// The client-first-message.
    pub fn client_first(&self) -> String {
        format!("n,,{}", self.bare)
    }

    /// Answers the server-first-message with the client-final-message.
    pub fn client_final(&mut self, server_first: &[u8]) -> Result<String, ScramError> {
        let text = std::str::from_utf8(server_first)
            .map_err(|_| ScramError::InvalidEncoding("server-first is not UTF-8"))?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for attribute in text.split(',') {
            match attribute.split_at_checked(2) {
                Some(("r=", v)) => nonce = Some(v),
                Some(("s=", v)) => salt = B64.decode(v).ok(),
                Some(("i=", v)) => iterations = v.parse::<u32>().ok(),
                _ => return Err(ScramError::InvalidEncoding("server-first attribute")),
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(ScramError::InvalidEncoding(
                "server-first needs r=, s= and i=",
            ));
        };
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err(ScramError::InvalidNonce);
        }
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(&self.password, &salt, iterations, &mut salted);
        let client_key = hmac_sha256(&salted, b"Client Key");
        let stored_key: [u8; 32] = Sha256::digest(client_key).into();
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{text},{without_proof}", self.bare);
        let signature = hmac_sha256(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = hmac_sha256(&salted, b"Server Key");
        self.server_signature = Some(hmac_sha256(&server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", B64.encode(proof)))
    }

    /// Checks the server-final-message: the server knew the credentials.
    pub fn verify_server_final(&self, server_final: &[u8]) -> Result<(), ScramError> {
        let expected = self.server_signature.ok_or(ScramError::OutOfOrder)?;
        let text = std::str::from_utf8(server_final)
            .map_err(|_| ScramError::InvalidEncoding("server-final is not UTF-8"))?;
        let v = text
            .strip_prefix("v=")
            .and_then(|v| B64.decode(v).ok())
            .ok_or(ScramError::InvalidEncoding("server-final has no valid v="))?;
        if bool::from(v.ct_eq(&expected)) {
            Ok(())
        } else {
            Err(ScramError::InvalidProof)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn pencil() -> ScramCredentials {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        ScramCredentials::derive(b"pencil", &salt, 4096)
    }

    fn started() -> ScramServer {
        let mut s = ScramServer::new();
        let first = s
            .client_first(CLIENT_FIRST.as_bytes(), SERVER_NONCE, |_| pencil())
            .unwrap();
        assert_eq!(first, SERVER_FIRST);
        s
    }

    /// RFC 7677 §3: the whole exchange, byte for byte.
    #[test]
    fn rfc_7677_test_vector() {
        let mut s = ScramServer::new();
        let mut asked = None;
        let first = s
            .client_first(CLIENT_FIRST.as_bytes(), SERVER_NONCE, |u| {
                asked = Some(u.to_string());
                pencil()
            })
            .unwrap();
        assert_eq!(asked.as_deref(), Some("user"));
        assert_eq!(first, SERVER_FIRST);
        assert_eq!(s.username(), Some("user"));
        let last = s.client_final(CLIENT_FINAL.as_bytes()).unwrap();
        assert_eq!(last, SERVER_FINAL);
        assert!(s.is_done());
        // Nothing after the end.
        assert_eq!(
            s.client_final(CLIENT_FINAL.as_bytes()),
            Err(ScramError::OutOfOrder)
        );
    }

    /// The client reproduces RFC 7677's messages too, and the two sides
    /// agree with fresh nonces.
    #[test]
    fn client_and_server_agree() {
        let mut client = ScramClient::new("user", b"pencil", "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(client.client_first(), CLIENT_FIRST);
        let last = client.client_final(SERVER_FIRST.as_bytes()).unwrap();
        assert_eq!(last, CLIENT_FINAL);
        client.verify_server_final(SERVER_FINAL.as_bytes()).unwrap();

        let mut client = ScramClient::new("a,b", b"pw", &random_nonce().unwrap());
        let mut server = ScramServer::new();
        let creds = ScramCredentials::derive(b"pw", b"salt", 16);
        let first = server
            .client_first(
                client.client_first().as_bytes(),
                &random_nonce().unwrap(),
                |u| {
                    assert_eq!(u, "a,b");
                    creds.clone()
                },
            )
            .unwrap();
        let last = client.client_final(first.as_bytes()).unwrap();
        let done = server.client_final(last.as_bytes()).unwrap();
        client.verify_server_final(done.as_bytes()).unwrap();
        assert!(client.verify_server_final(b"v=AAAA").is_err());
    }

    #[test]
    fn a_wrong_password_gives_invalid_proof() {
        let mut s = ScramServer::new();
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        s.client_first(CLIENT_FIRST.as_bytes(), SERVER_NONCE, |_| {
            ScramCredentials::derive(b"crayon", &salt, 4096)
        })
        .unwrap();
        let e = s.client_final(CLIENT_FINAL.as_bytes()).unwrap_err();
        assert_eq!(e, ScramError::InvalidProof);
        assert_eq!(e.message(), "e=invalid-proof");
    }

    #[test]
    fn channel_binding_is_refused() {
        let mut s = ScramServer::new();
        let e = s
            .client_first(b"p=tls-unique,,n=user,r=abc", "x", |_| pencil())
            .unwrap_err();
        assert_eq!(e.message(), "e=channel-binding-not-supported");
        assert!(s.is_done());
    }

    #[test]
    fn client_first_grammar() {
        let cases: &[(&[u8], ScramError)] = &[
            (b"n,a=admin,n=user,r=abc", ScramError::AuthzidNotSupported),
            (b"n,,m=ext,n=user,r=abc", ScramError::ExtensionsNotSupported),
            (b"n,,n=us=er,r=abc", ScramError::InvalidUsernameEncoding),
            (
                b"x,,n=user,r=abc",
                ScramError::InvalidEncoding("bad GS2 channel binding flag"),
            ),
            (
                b"n,,n=user",
                ScramError::InvalidEncoding("client-first has no valid r="),
            ),
            (
                b"n,,r=abc",
                ScramError::InvalidEncoding("client-first has no n="),
            ),
            (
                b"n,,n=user,r=",
                ScramError::InvalidEncoding("client-first has no valid r="),
            ),
            (
                b"",
                ScramError::InvalidEncoding("client-first has no GS2 header"),
            ),
            (
                b"n,,n=\xff,r=a",
                ScramError::InvalidEncoding("client-first is not UTF-8"),
            ),
        ];
        for (message, expected) in cases {
            let mut s = ScramServer::new();
            let got = s.client_first(message, "x", |_| pencil()).unwrap_err();
            assert_eq!(&got, expected, "{}", String::from_utf8_lossy(message));
        }
    }

    #[test]
    fn escaped_user_names_are_decoded() {
        let mut s = ScramServer::new();
        s.client_first(b"n,,n=a=2Cb=3Dc,r=abc", "x", |u| {
            assert_eq!(u, "a,b=c");
            pencil()
        })
        .unwrap();
        assert_eq!(s.username(), Some("a,b=c"));
    }

    #[test]
    fn the_y_flag_must_be_repeated_in_the_channel_binding() {
        // "y,," is accepted; client-final must then carry c=eSws.
        let mut s = ScramServer::new();
        s.client_first(b"y,,n=user,r=abc", "def", |_| pencil())
            .unwrap();
        let e = s
            .client_final(b"c=biws,r=abcdef,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .unwrap_err();
        assert_eq!(e, ScramError::ChannelBindingsDontMatch);
    }

    #[test]
    fn client_final_checks() {
        let proof = "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        let nonce = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let cases = [
            (
                format!("c=biws,r=rOprNGfwEbeRWgbNEkqO,{proof}"),
                ScramError::InvalidNonce,
            ),
            (
                format!("c=eSws,{nonce},{proof}"),
                ScramError::ChannelBindingsDontMatch,
            ),
            (
                format!("c=biws,{nonce}"),
                ScramError::InvalidEncoding("client-final has no p="),
            ),
            (
                format!("c=biws,{nonce},p=AAAA"),
                ScramError::InvalidEncoding("the proof is not 32 bytes"),
            ),
            (
                format!("{nonce},{proof}"),
                ScramError::InvalidEncoding("client-final has no c="),
            ),
        ];
        for (message, expected) in cases {
            let mut s = started();
            assert_eq!(
                s.client_final(message.as_bytes()).unwrap_err(),
                expected,
                "{message}"
            );
            assert!(s.is_done());
        }
    }

    #[test]
    fn client_final_before_client_first_is_out_of_order() {
        let mut s = ScramServer::new();
        assert_eq!(
            s.client_final(CLIENT_FINAL.as_bytes()),
            Err(ScramError::OutOfOrder)
        );
    }

    #[test]
    fn random_nonces_are_valid_and_differ() {
        let a = random_nonce().unwrap();
        let b = random_nonce().unwrap();
        assert!(is_nonce(&a) && is_nonce(&b));
        assert_ne!(a, b);
    }
}
