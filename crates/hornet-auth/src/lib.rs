//! # hornet-auth
//!
//! Hornet's user store and authentication methods, behind the core's
//! [`hornet_core::Authenticator`] trait:
//!
//! - `password_file`: the user store, read from a password file in
//!   `mosquitto_passwd` format (`$6$`, `$7$`, `$argon2id$`) or with Hornet's
//!   `$scram-sha-256$` lines; plain password checks;
//! - `scram`: the server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as a
//!   sans-IO state machine;
//! - `acl`: [`AclFile`], Mosquitto's `acl_file`, as the core's
//!   [`hornet_core::Authorizer`];
//! - `runtime`: [`RuntimeAuth`], users, roles and topic rules managed at
//!   runtime (the admin API), compiled into the same password checks and
//!   ACL engine, and [`LayeredAuthorizer`], which puts them beside the
//!   `acl_file`;
//! - [`FileAuthenticator`]: both together, as the core calls them: the
//!   CONNECT password check and the `SCRAM-SHA-256` enhanced
//!   authentication method.
//!
//! Like the core, this crate does no I/O and reads no clock: the shell reads
//! the file and passes its text to [`PasswordFile::parse`]. The only outside
//! input is randomness (SCRAM nonces and salts), drawn from the operating
//! system through `getrandom`.
//!
//! ```
//! use hornet_auth::{scram_line, FileAuthenticator, PasswordFile};
//! use hornet_core::Authenticator;
//!
//! let line = scram_line("alice", b"s3cret", 4096).unwrap();
//! let users = PasswordFile::parse(&line).unwrap();
//! let auth = FileAuthenticator::new(users);
//! assert!(auth.check_password("alice", b"s3cret"));
//! assert!(auth.start("SCRAM-SHA-256").is_some());
//! assert!(auth.start("SCRAM-SHA-1").is_none());
//! ```

#![forbid(unsafe_code)]

mod acl;
mod password_file;
mod runtime;
pub mod scram;

use std::sync::Arc;

use bytes::Bytes;
use hornet_core::{AuthExchange, AuthStep, Authenticator};

pub use acl::{AclError, AclFile};
pub use password_file::{
    argon2id_line, pbkdf2_line, scram_line, scram_line_with_salt, sha512_line, ParseError,
    PasswordFile, ScramCredentials, MAX_ARGON2_MEMORY_KIB, MAX_ITERATIONS,
    SCRAM_DEFAULT_ITERATIONS,
};
pub use runtime::{
    LayeredAuthorizer, Role, RuleAccess, RuntimeAuth, RuntimeError, RuntimeUser, TopicRule,
};
pub use scram::{ScramClient, ScramError, ScramServer};

/// The core's authenticator over a password file: CONNECT passwords for
/// every user, SCRAM-SHA-256 for users with SCRAM credentials.
#[derive(Debug, Clone)]
pub struct FileAuthenticator {
    users: Arc<PasswordFile>,
}

impl FileAuthenticator {
    /// An authenticator over `users`.
    pub fn new(users: PasswordFile) -> FileAuthenticator {
        FileAuthenticator {
            users: Arc::new(users),
        }
    }

    /// The user store.
    pub fn users(&self) -> &PasswordFile {
        &self.users
    }
}

impl Authenticator for FileAuthenticator {
    fn check_password(&self, username: &str, password: &[u8]) -> bool {
        self.users.verify_password(username, password)
    }

    fn start(&self, method: &str) -> Option<Box<dyn AuthExchange>> {
        (method == scram::MECHANISM).then(|| {
            Box::new(ScramExchange {
                users: self.users.clone(),
                server: ScramServer::new(),
                nonce: None,
            }) as Box<dyn AuthExchange>
        })
    }
}

/// One SCRAM-SHA-256 exchange over the user store.
#[derive(Debug)]
struct ScramExchange {
    users: Arc<PasswordFile>,
    server: ScramServer,
    /// A fixed server nonce (tests); otherwise a random one per exchange.
    nonce: Option<String>,
}

impl AuthExchange for ScramExchange {
    fn step(&mut self, data: &[u8]) -> AuthStep {
        if self.server.username().is_none() && !self.server.is_done() {
            let nonce = match self.nonce.take() {
                Some(n) => n,
                None => match scram::random_nonce() {
                    Ok(n) => n,
                    Err(e) => return AuthStep::Refused(format!("no random nonce: {e}")),
                },
            };
            let users = &self.users;
            let first = self.server.client_first(data, &nonce, |user| {
                users
                    .scram_credentials(user)
                    .cloned()
                    .unwrap_or_else(|| users.scram_decoy(user))
            });
            return match first {
                Ok(message) => AuthStep::Continue(Bytes::from(message)),
                Err(e) => AuthStep::Refused(e.to_string()),
            };
        }
        let user = self.server.username().unwrap_or_default().to_string();
        match self.server.client_final(data) {
            Ok(message) => AuthStep::Success {
                user,
                data: Some(Bytes::from(message)),
            },
            Err(scram::ScramError::InvalidProof) => {
                AuthStep::BadCredentials(match self.users.kind_of(&user) {
                    None => format!("unknown user '{user}'"),
                    Some(kind @ ("$6$" | "$7$" | "$argon2id$")) => format!(
                        "user '{user}' has no SCRAM-SHA-256 credentials (its password_file \
                         line is {kind}, which allows a CONNECT password only)"
                    ),
                    Some(_) => format!("wrong password for user '{user}'"),
                })
            }
            Err(e) => AuthStep::Refused(format!("user '{user}': {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT_FIRST: &[u8] = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const CLIENT_FINAL: &[u8] = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                  p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";

    fn rfc_users() -> Arc<PasswordFile> {
        use base64::Engine as _;
        let salt = base64::engine::general_purpose::STANDARD
            .decode("W22ZaJ0SNY7soEsUEjb6gQ==")
            .unwrap();
        let line = scram_line_with_salt("user", b"pencil", 4096, &salt).unwrap();
        Arc::new(PasswordFile::parse(&line).unwrap())
    }

    fn exchange(users: Arc<PasswordFile>) -> ScramExchange {
        ScramExchange {
            users,
            server: ScramServer::new(),
            nonce: Some("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0".into()),
        }
    }

    #[test]
    fn the_rfc_exchange_through_the_core_trait() {
        let mut x = exchange(rfc_users());
        let AuthStep::Continue(first) = x.step(CLIENT_FIRST) else {
            panic!("expected Continue")
        };
        assert!(first.starts_with(b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s="));
        assert_eq!(
            x.step(CLIENT_FINAL),
            AuthStep::Success {
                user: "user".into(),
                data: Some(Bytes::from_static(
                    b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
                )),
            }
        );
    }

    #[test]
    fn unknown_users_get_a_decoy_and_bad_credentials() {
        let users = Arc::new(PasswordFile::parse("").unwrap());
        let mut x = exchange(users);
        assert!(matches!(x.step(CLIENT_FIRST), AuthStep::Continue(_)));
        let AuthStep::BadCredentials(why) = x.step(CLIENT_FINAL) else {
            panic!("expected BadCredentials")
        };
        assert_eq!(why, "unknown user 'user'");
    }

    #[test]
    fn malformed_data_is_refused() {
        let mut x = exchange(rfc_users());
        assert!(matches!(x.step(b"garbage"), AuthStep::Refused(_)));
        let mut x = exchange(rfc_users());
        assert!(matches!(x.step(b""), AuthStep::Refused(_)));
    }
}
