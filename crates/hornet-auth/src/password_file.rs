//! The user store: a password file in `mosquitto_passwd` format, plus
//! Hornet's own line format for SCRAM-SHA-256 credentials.
//!
//! One user per line, `username:credential`; blank lines and lines whose
//! first non-blank character is `#` are skipped. The credential is one of:
//!
//! | line | written by | check |
//! | --- | --- | --- |
//! | `user:$6$SALT$HASH` | `mosquitto_passwd -H sha512` (Mosquitto 1.x) | `HASH = SHA-512(password ‖ SALT)` |
//! | `user:$7$ITER$SALT$HASH` | `mosquitto_passwd` (Mosquitto 2.x) | `HASH = PBKDF2-HMAC-SHA-512(password, SALT, ITER, 64)` |
//! | `user:$argon2id$v=19$m=M,t=T,p=P$SALT$HASH` | Mosquitto 2.1's `mosquitto_passwd`, `argon2` tools, [`argon2id_line`] | Argon2id (RFC 9106), a PHC string |
//! | `user:$scram-sha-256$ITER$SALT$STOREDKEY$SERVERKEY` | Hornet ([`scram_line`]) | RFC 5802 keys, see below |
//!
//! SALT, HASH, STOREDKEY and SERVERKEY are standard base64 (with padding),
//! ITER a decimal iteration count. For the SCRAM line, as RFC 5802 and
//! RFC 7677 define them:
//!
//! ```text
//! SaltedPassword = PBKDF2-HMAC-SHA-256(password, SALT, ITER, 32)
//! STOREDKEY      = SHA-256(HMAC-SHA-256(SaltedPassword, "Client Key"))
//! SERVERKEY      = HMAC-SHA-256(SaltedPassword, "Server Key")
//! ```
//!
//! An `$argon2id$` line is a PHC string as the `argon2` command-line tool
//! and libraries write it (SALT and HASH in base64 without padding); its
//! memory cost is capped at [`MAX_ARGON2_MEMORY_KIB`] so that one login
//! cannot exhaust the machine.
//!
//! Every kind of line accepts a plain CONNECT password. Only SCRAM lines
//! can answer SCRAM-SHA-256: the SCRAM keys cannot be derived from a
//! Mosquitto hash, so a `$6$` or `$7$` user authenticates with a CONNECT
//! password only (re-create the user with [`scram_line`] to enable SCRAM).
//!
//! Any other line is an error naming its line number; a file with an error
//! is refused whole. Passwords never appear in errors or logs. Reading the
//! file is the caller's business: this crate does no I/O.

use std::collections::HashMap;
use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// Iterations of a SCRAM line made by [`scram_line`] (RFC 7677's minimum).
pub const SCRAM_DEFAULT_ITERATIONS: u32 = 4096;

/// More iterations than this make a line an error: checking one password
/// would stall the broker.
pub const MAX_ITERATIONS: u32 = 1_000_000;

/// Largest Argon2id memory cost accepted, in KiB (1 GiB): a line asking for
/// more is an error.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 1024 * 1024;

/// A user's SCRAM-SHA-256 credentials (RFC 5802 §3): what the server keeps
/// instead of the password.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredentials {
    /// The PBKDF2 iteration count.
    pub iterations: u32,
    /// The salt.
    pub salt: Vec<u8>,
    /// `SHA-256(ClientKey)`.
    pub stored_key: [u8; 32],
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: [u8; 32],
}

impl fmt::Debug for ScramCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramCredentials")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl ScramCredentials {
    /// Derives the credentials of `password` with `salt` and `iterations`.
    pub fn derive(password: &[u8], salt: &[u8], iterations: u32) -> ScramCredentials {
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut salted);
        let client_key = hmac_sha256(&salted, b"Client Key");
        ScramCredentials {
            iterations,
            salt: salt.to_vec(),
            stored_key: Sha256::digest(client_key).into(),
            server_key: hmac_sha256(&salted, b"Server Key"),
        }
    }

    /// Whether `password` is the password these credentials were made from.
    pub fn matches(&self, password: &[u8]) -> bool {
        let other = ScramCredentials::derive(password, &self.salt, self.iterations);
        bool::from(other.stored_key.ct_eq(&self.stored_key))
    }
}

/// HMAC-SHA-256 of `data` with `key`.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// How one user's password is stored.
#[derive(Clone, PartialEq, Eq)]
enum Credential {
    /// `$6$`: SHA-512 of password and salt (Mosquitto 1.x).
    Sha512 { salt: Vec<u8>, hash: Vec<u8> },
    /// `$7$`: PBKDF2-HMAC-SHA-512 (Mosquitto 2.x).
    Pbkdf2Sha512 {
        iterations: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    /// `$scram-sha-256$`: Hornet's SCRAM line.
    Scram(ScramCredentials),
    /// `$argon2id$`: a PHC string, checked when parsed.
    Argon2id(String),
}

impl Credential {
    fn kind(&self) -> &'static str {
        match self {
            Credential::Sha512 { .. } => "$6$",
            Credential::Pbkdf2Sha512 { .. } => "$7$",
            Credential::Scram(_) => "$scram-sha-256$",
            Credential::Argon2id(_) => "$argon2id$",
        }
    }
}

/// A line of a password file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it (never the secret itself).
    pub reason: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for ParseError {}

/// The users of a password file.
#[derive(Clone)]
pub struct PasswordFile {
    users: HashMap<String, Credential>,
    /// Secret for decoy SCRAM salts of unknown users (see [`Self::scram_decoy`]).
    decoy_key: [u8; 32],
}

impl fmt::Debug for PasswordFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordFile")
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

impl PasswordFile {
    /// Parses the text of a password file.
    pub fn parse(text: &str) -> Result<PasswordFile, ParseError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut users = HashMap::new();
        let mut first_line: HashMap<String, usize> = HashMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.trim_end();
            let trimmed = content.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let fail = |reason: String| ParseError { line, reason };
            let Some((user, credential)) = content.split_once(':') else {
                return Err(fail(
                    "expected `username:$7$...` (a mosquitto_passwd line), found no ':'".into(),
                ));
            };
            if user.is_empty() {
                return Err(fail("empty user name before ':'".into()));
            }
            let credential =
                parse_credential(credential).map_err(|r| fail(format!("user '{user}': {r}")))?;
            if let Some(previous) = first_line.insert(user.to_string(), line) {
                return Err(fail(format!(
                    "user '{user}' is already defined on line {previous}"
                )));
            }
            users.insert(user.to_string(), credential);
        }
        let mut decoy_key = [0u8; 32];
        // Without randomness the decoys are still unguessable enough to
        // never verify; they only become recognisable as decoys.
        let _ = getrandom::fill(&mut decoy_key);
        Ok(PasswordFile { users, decoy_key })
    }

    /// Users in the file.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the file has no users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Users stored with SCRAM-SHA-256 credentials.
    pub fn scram_len(&self) -> usize {
        self.users
            .values()
            .filter(|c| matches!(c, Credential::Scram(_)))
            .count()
    }

    /// Adds `other`'s users that this store does not have; returns the
    /// names both have (this store's entry is kept).
    pub fn add_missing(&mut self, other: PasswordFile) -> Vec<String> {
        let mut shadowed = Vec::new();
        for (user, credential) in other.users {
            match self.users.entry(user) {
                std::collections::hash_map::Entry::Occupied(e) => shadowed.push(e.key().clone()),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(credential);
                }
            }
        }
        shadowed.sort();
        shadowed
    }

    /// Whether `user` is in the file.
    pub fn contains(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    /// Whether `password` is `user`'s password (false for unknown users).
    /// The comparison of the hashes takes constant time.
    pub fn verify_password(&self, user: &str, password: &[u8]) -> bool {
        match self.users.get(user) {
            None => false,
            Some(Credential::Sha512 { salt, hash }) => {
                let mut digest = Sha512::new();
                digest.update(password);
                digest.update(salt);
                bool::from(digest.finalize().as_slice().ct_eq(hash))
            }
            Some(Credential::Pbkdf2Sha512 {
                iterations,
                salt,
                hash,
            }) => {
                let mut out = vec![0u8; hash.len()];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, *iterations, &mut out);
                bool::from(out.ct_eq(hash))
            }
            Some(Credential::Scram(creds)) => creds.matches(password),
            Some(Credential::Argon2id(phc)) => {
                use argon2::PasswordVerifier as _;
                // Parsed when the file was read, so this cannot fail; the
                // hash comparison inside is constant-time.
                argon2::PasswordHash::new(phc).is_ok_and(|hash| {
                    argon2::Argon2::default()
                        .verify_password(password, &hash)
                        .is_ok()
                })
            }
        }
    }

    /// `user`'s SCRAM-SHA-256 credentials: only for users stored with a
    /// `$scram-sha-256$` line (see the module doc).
    pub fn scram_credentials(&self, user: &str) -> Option<&ScramCredentials> {
        match self.users.get(user)? {
            Credential::Scram(creds) => Some(creds),
            _ => None,
        }
    }

    /// How `user` is stored (`$6$`, `$7$`, `$scram-sha-256$`), for log lines.
    pub fn kind_of(&self, user: &str) -> Option<&'static str> {
        self.users.get(user).map(Credential::kind)
    }

    /// Credentials that never verify, for a user without SCRAM credentials,
    /// so that the exchange looks the same as for a real user (RFC 5802
    /// §5.1): the salt is the same on every attempt for the same name.
    pub fn scram_decoy(&self, user: &str) -> ScramCredentials {
        let salt = hmac_sha256(&self.decoy_key, user.as_bytes());
        let mut stored_key = hmac_sha256(&self.decoy_key, b"stored");
        stored_key[0] ^= 0x5a;
        ScramCredentials {
            iterations: SCRAM_DEFAULT_ITERATIONS,
            salt: salt[..16].to_vec(),
            stored_key,
            server_key: hmac_sha256(&self.decoy_key, b"server"),
        }
    }
}

/// A password file line for `user` with SCRAM-SHA-256 credentials for
/// `password`: a random 16-byte salt and `iterations` (use
/// [`SCRAM_DEFAULT_ITERATIONS`]). Refuses a user name with `:` or a line
/// break, which the file cannot hold.
pub fn scram_line(user: &str, password: &[u8], iterations: u32) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no random salt: {e}"))?;
    scram_line_with_salt(user, password, iterations, &salt)
}

/// [`scram_line`] with a given salt (for tests and reproducible files).
pub fn scram_line_with_salt(
    user: &str,
    password: &[u8],
    iterations: u32,
    salt: &[u8],
) -> Result<String, String> {
    check_user(user)?;
    if iterations == 0 || iterations > MAX_ITERATIONS {
        return Err(format!("iterations must be 1 to {MAX_ITERATIONS}"));
    }
    let c = ScramCredentials::derive(password, salt, iterations);
    Ok(format!(
        "{user}:$scram-sha-256${iterations}${}${}${}",
        B64.encode(&c.salt),
        B64.encode(c.stored_key),
        B64.encode(c.server_key)
    ))
}

/// A `$7$` password file line for `user`, as Mosquitto 2's
/// `mosquitto_passwd` writes it (a random 12-byte salt), with any
/// iteration count (`mosquitto_passwd` uses 101; 210,000 is OWASP's advice
/// for PBKDF2-HMAC-SHA-512).
pub fn pbkdf2_line(user: &str, password: &[u8], iterations: u32) -> Result<String, String> {
    check_user(user)?;
    if iterations == 0 || iterations > MAX_ITERATIONS {
        return Err(format!("iterations must be 1 to {MAX_ITERATIONS}"));
    }
    let mut salt = [0u8; 12];
    getrandom::fill(&mut salt).map_err(|e| format!("no random salt: {e}"))?;
    let mut hash = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<Sha512>(password, &salt, iterations, &mut hash);
    Ok(format!(
        "{user}:$7${iterations}${}${}",
        B64.encode(salt),
        B64.encode(hash)
    ))
}

/// A `$6$` password file line for `user`, as Mosquitto 1.x and
/// `mosquitto_passwd -H sha512` write it: `SHA-512(password ‖ SALT)` with a
/// random 12-byte salt. One hash, no iterations: prefer [`pbkdf2_line`].
pub fn sha512_line(user: &str, password: &[u8]) -> Result<String, String> {
    check_user(user)?;
    let mut salt = [0u8; 12];
    getrandom::fill(&mut salt).map_err(|e| format!("no random salt: {e}"))?;
    let mut digest = Sha512::new();
    digest.update(password);
    digest.update(salt);
    Ok(format!(
        "{user}:$6${}${}",
        B64.encode(salt),
        B64.encode(digest.finalize())
    ))
}

/// An `$argon2id$` password file line for `user` with the `argon2`
/// crate's default parameters (19 MiB, 2 passes, 1 lane) and a random salt.
pub fn argon2id_line(user: &str, password: &[u8]) -> Result<String, String> {
    use argon2::password_hash::{PasswordHasher as _, SaltString};
    check_user(user)?;
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("no random salt: {e}"))?;
    let salt = SaltString::encode_b64(&bytes).map_err(|e| e.to_string())?;
    let hash = argon2::Argon2::default()
        .hash_password(password, &salt)
        .map_err(|e| e.to_string())?;
    Ok(format!("{user}:{hash}"))
}

fn check_user(user: &str) -> Result<(), String> {
    if user.is_empty() || user.contains([':', '\n', '\r']) {
        return Err(format!(
            "user name {user:?} cannot be stored (empty, or has ':' or a line break)"
        ));
    }
    Ok(())
}

fn parse_argon2id(text: &str) -> Result<Credential, String> {
    let hash = argon2::PasswordHash::new(text)
        .map_err(|e| format!("the $argon2id$ line is not a valid PHC string ({e})"))?;
    let params = argon2::Params::try_from(&hash)
        .map_err(|e| format!("the $argon2id$ parameters are invalid ({e})"))?;
    if params.m_cost() > MAX_ARGON2_MEMORY_KIB {
        return Err(format!(
            "the $argon2id$ memory cost m={} KiB is over the limit of {MAX_ARGON2_MEMORY_KIB} KiB",
            params.m_cost()
        ));
    }
    if hash.hash.is_none() || hash.salt.is_none() {
        return Err("the $argon2id$ line has no salt or no hash".into());
    }
    Ok(Credential::Argon2id(text.to_string()))
}

fn parse_credential(text: &str) -> Result<Credential, String> {
    if text.starts_with("$argon2id$") {
        return parse_argon2id(text);
    }
    let fields: Vec<&str> = text.split('$').collect();
    // "$6$a$b" splits into ["", "6", "a", "b"].
    match fields.as_slice() {
        ["", "6", salt, hash] => Ok(Credential::Sha512 {
            salt: base64_field("salt", salt)?,
            hash: sized(base64_field("hash", hash)?, 64, "hash")?,
        }),
        ["", "7", iterations, salt, hash] => Ok(Credential::Pbkdf2Sha512 {
            iterations: iterations_field(iterations)?,
            salt: base64_field("salt", salt)?,
            hash: sized(base64_field("hash", hash)?, 64, "hash")?,
        }),
        ["", "scram-sha-256", iterations, salt, stored, server] => {
            let stored = sized(base64_field("stored key", stored)?, 32, "stored key")?;
            let server = sized(base64_field("server key", server)?, 32, "server key")?;
            Ok(Credential::Scram(ScramCredentials {
                iterations: iterations_field(iterations)?,
                salt: base64_field("salt", salt)?,
                stored_key: stored.try_into().expect("sized"),
                server_key: server.try_into().expect("sized"),
            }))
        }
        ["", kind @ ("6" | "7" | "scram-sha-256"), ..] => Err(format!(
            "a ${kind}$ line has the wrong number of '$' fields (expected {})",
            match *kind {
                "6" => "$6$SALT$HASH",
                "7" => "$7$ITERATIONS$SALT$HASH",
                _ => "$scram-sha-256$ITERATIONS$SALT$STOREDKEY$SERVERKEY",
            }
        )),
        ["", kind, ..] => Err(format!(
            "unknown hash type ${kind}$ (Hornet reads $6$, $7$ and $argon2id$ from mosquitto_passwd, and $scram-sha-256$)"
        )),
        _ => Err(
            "the password is not hashed (run `hornet passwd -U FILE` or `mosquitto_passwd -U FILE` to hash a plain-text file)"
                .into(),
        ),
    }
}

fn base64_field(what: &str, text: &str) -> Result<Vec<u8>, String> {
    let bytes = B64
        .decode(text)
        .map_err(|e| format!("the {what} is not valid base64 ({e})"))?;
    if bytes.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    Ok(bytes)
}

fn sized(bytes: Vec<u8>, len: usize, what: &str) -> Result<Vec<u8>, String> {
    if bytes.len() == len {
        Ok(bytes)
    } else {
        Err(format!(
            "the {what} has {} bytes, expected {len}",
            bytes.len()
        ))
    }
}

fn iterations_field(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(n) if (1..=MAX_ITERATIONS).contains(&n) => Ok(n),
        _ => Err(format!(
            "the iteration count must be 1 to {MAX_ITERATIONS}, not {text:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A password file written by the real `mosquitto_passwd`.
    fn mosquitto_passwd(args: &[&str], user: &str, password: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        let status = Command::new("mosquitto_passwd")
            .args(args)
            .args(["-b", "-c"])
            .arg(&path)
            .args([user, password])
            .status()
            .expect("mosquitto_passwd (Debian package mosquitto) is installed");
        assert!(status.success());
        std::fs::read_to_string(&path).unwrap()
    }

    #[test]
    fn mosquitto_2_pbkdf2_lines_verify() {
        let text = mosquitto_passwd(&[], "alice", "s3cret:with colon");
        assert!(text.starts_with("alice:$7$"), "{text}");
        let file = PasswordFile::parse(&text).unwrap();
        assert!(file.verify_password("alice", b"s3cret:with colon"));
        assert!(!file.verify_password("alice", b"s3cret"));
        assert!(!file.verify_password("bob", b"s3cret:with colon"));
        assert_eq!(file.kind_of("alice"), Some("$7$"));
        assert!(file.scram_credentials("alice").is_none());
    }

    #[test]
    fn mosquitto_1_sha512_lines_verify() {
        let text = mosquitto_passwd(&["-H", "sha512"], "bob", "pencil");
        assert!(text.starts_with("bob:$6$"), "{text}");
        let file = PasswordFile::parse(&text).unwrap();
        assert!(file.verify_password("bob", b"pencil"));
        assert!(!file.verify_password("bob", b"pencil "));
    }

    /// A fixed `$6$` vector built from the algorithm: base64(salt) and
    /// base64(SHA-512(password ‖ salt)).
    #[test]
    fn sha512_vector() {
        let salt = b"0123456789ab";
        let mut d = Sha512::new();
        d.update(b"hunter2");
        d.update(salt);
        let line = format!("u:$6${}${}", B64.encode(salt), B64.encode(d.finalize()));
        let file = PasswordFile::parse(&line).unwrap();
        assert!(file.verify_password("u", b"hunter2"));
        assert!(!file.verify_password("u", b"hunter3"));
    }

    #[test]
    fn scram_lines_verify_plain_passwords_and_give_scram_keys() {
        let line = scram_line("carol", b"pencil", 4096).unwrap();
        let file = PasswordFile::parse(&format!("# users\n\n{line}\n")).unwrap();
        assert!(file.verify_password("carol", b"pencil"));
        assert!(!file.verify_password("carol", b"pen"));
        let creds = file.scram_credentials("carol").unwrap();
        assert_eq!(creds.iterations, 4096);
        assert_eq!(creds.salt.len(), 16);
        assert!(creds.matches(b"pencil"));
    }

    /// RFC 7677's user "user", password "pencil", salt and 4096 iterations.
    #[test]
    fn scram_line_reproduces_rfc_7677_keys() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let line = scram_line_with_salt("user", b"pencil", 4096, &salt).unwrap();
        let creds = PasswordFile::parse(&line)
            .unwrap()
            .scram_credentials("user")
            .unwrap()
            .clone();
        assert_eq!(creds, ScramCredentials::derive(b"pencil", &salt, 4096));
        assert!(line.starts_with("user:$scram-sha-256$4096$W22ZaJ0SNY7soEsUEjb6gQ==$"));
    }

    #[test]
    fn errors_name_the_line_and_reason() {
        let good = scram_line("a", b"x", 1).unwrap();
        let cases = [
            ("nocolon", "found no ':'"),
            (":$7$101$c2FsdA==$aGFzaA==", "empty user name"),
            ("u:plaintext", "not hashed"),
            ("u:$5$abc$def", "unknown hash type $5$"),
            ("u:$7$101$c2FsdA==", "wrong number of '$' fields"),
            ("u:$7$zero$c2FsdA==$aGFzaA==", "iteration count"),
            ("u:$7$101$!!!$aGFzaA==", "salt is not valid base64"),
            (
                "u:$7$101$c2FsdA==$aGFzaA==",
                "hash has 4 bytes, expected 64",
            ),
        ];
        let duplicate = [(good.as_str(), "user 'a' is already defined on line 2")];
        for (line, reason) in cases.into_iter().chain(duplicate) {
            let text = format!("# header\n{good}\n{line}\n");
            let err = PasswordFile::parse(&text).unwrap_err();
            assert_eq!(err.line, 3, "{line}: {err}");
            assert!(err.reason.contains(reason), "{line}: {err}");
            assert!(err.to_string().starts_with("line 3: "), "{err}");
        }
    }

    #[test]
    fn argon2id_lines_verify_in_constant_time() {
        let line = argon2id_line("dora", b"pa$$:word").unwrap();
        assert!(line.starts_with("dora:$argon2id$v=19$m="), "{line}");
        let file = PasswordFile::parse(&line).unwrap();
        assert!(file.verify_password("dora", b"pa$$:word"));
        assert!(!file.verify_password("dora", b"pa$$:wore"));
        assert_eq!(file.kind_of("dora"), Some("$argon2id$"));
    }

    /// A PHC string written by the reference `argon2` tool (Debian package
    /// `argon2`): `echo -n password | argon2 somesalt -id -t 2 -m 16 -p 4 -e`.
    #[test]
    fn argon2id_reference_vector() {
        let line = "u:$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$\
                    GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo";
        let file = PasswordFile::parse(line).unwrap();
        assert!(file.verify_password("u", b"password"));
        assert!(!file.verify_password("u", b"passwore"));
    }

    /// Lines made by the reference `argon2` tool with a random salt verify.
    #[test]
    fn argon2id_lines_from_the_reference_tool() {
        use std::io::Write as _;
        let mut salt = [0u8; 12];
        getrandom::fill(&mut salt).unwrap();
        let salt: String = salt.iter().map(|b| format!("{b:02x}")).collect();
        let mut child = Command::new("argon2")
            .args([&salt, "-id", "-t", "1", "-m", "12", "-p", "2", "-e"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("argon2 (Debian package argon2) is installed");
        child.stdin.take().unwrap().write_all(b"s3cret pw").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let phc = String::from_utf8(out.stdout).unwrap();
        let file = PasswordFile::parse(&format!("alice:{}", phc.trim())).unwrap();
        assert!(file.verify_password("alice", b"s3cret pw"));
        assert!(!file.verify_password("alice", b"s3cret"));
    }

    #[test]
    fn argon2id_errors() {
        let cases = [
            ("u:$argon2id$garbage", "no salt or no hash"),
            (
                "u:$argon2id$v=19$m=65536,t=2,p=4$!!$!!",
                "not a valid PHC string",
            ),
            (
                "u:$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
                "over the limit",
            ),
        ];
        for (line, reason) in cases {
            let err = PasswordFile::parse(line).unwrap_err();
            assert!(err.reason.contains(reason), "{line}: {err}");
        }
    }

    #[test]
    fn pbkdf2_lines_with_any_iteration_count() {
        let line = pbkdf2_line("eve", b"pw", 5000).unwrap();
        assert!(line.starts_with("eve:$7$5000$"), "{line}");
        let file = PasswordFile::parse(&line).unwrap();
        assert!(file.verify_password("eve", b"pw"));
        assert!(!file.verify_password("eve", b"pW"));
    }

    #[test]
    fn sha512_lines_verify() {
        let line = sha512_line("dave", b"pw").unwrap();
        assert!(line.starts_with("dave:$6$"), "{line}");
        let file = PasswordFile::parse(&line).unwrap();
        assert!(file.verify_password("dave", b"pw"));
        assert!(!file.verify_password("dave", b"pW"));
        assert!(sha512_line("a:b", b"x").is_err());
    }

    #[test]
    fn comments_blank_lines_and_crlf() {
        let line = scram_line("a", b"x", 1).unwrap();
        let file = PasswordFile::parse(&format!("\u{feff}  # c\r\n\r\n{line}\r\n")).unwrap();
        assert_eq!(file.len(), 1);
        assert!(file.verify_password("a", b"x"));
    }

    #[test]
    fn decoys_are_stable_per_user_and_never_verify() {
        let file = PasswordFile::parse("").unwrap();
        let a = file.scram_decoy("ghost");
        assert_eq!(a, file.scram_decoy("ghost"));
        assert_ne!(a.salt, file.scram_decoy("other").salt);
        assert!(!a.matches(b""));
    }

    #[test]
    fn scram_line_refuses_names_the_file_cannot_hold() {
        assert!(scram_line("a:b", b"x", 4096).is_err());
        assert!(scram_line("", b"x", 4096).is_err());
        assert!(scram_line("a", b"x", 0).is_err());
    }
}
