//! `hornet passwd`: manage a password file, as `mosquitto_passwd` does.
//!
//! Owns the options (`-c`, `-b`, `-D`, `-U`, `-H`, `-I`, the same letters
//! and the same words as `mosquitto_passwd` 2.0), which combinations are
//! allowed, the hashes, and running the task. The line editing is
//! [`edit`] (no I/O), the password prompt `prompt`, reading and the atomic
//! write of the file `file`.
//!
//! Behaviour kept from `mosquitto_passwd`, so scripts written for it work:
//! the prompts `Password: ` and `Reenter password: ` (without echo on a
//! terminal; from standard input, one line each, when it is a pipe), the
//! messages (`Error: Passwords do not match.`, `Warning: User x not found
//! in password file.`, ...) and the exit codes: 0 done, 1 any error
//! (usage, file, user name, empty password, user not found for `-D`), 2
//! passwords that do not match. The default hash is `$7$`
//! PBKDF2-SHA512 with 101 iterations, which Mosquitto 2.0 reads.
//!
//! Where it differs, it is safer: the file is written whole to a temporary
//! file and renamed over the old one (never half-written), a new file gets
//! mode 0600 and an existing one keeps its mode and owner; comments and
//! unknown lines are never dropped (a line that is not `user:...` stops the
//! command and leaves the file unchanged); `-U` does not hash a line that
//! already holds a hash; empty user names and passwords are refused.

pub mod edit;
mod file;
mod prompt;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use hornet_auth::{PasswordFile, MAX_ITERATIONS, SCRAM_DEFAULT_ITERATIONS};

use edit::{check_user_name, PasswdLines};
use file::{read_lines, write_file};
use prompt::ask_password;

/// Iterations of a `$7$` line unless `-I` says otherwise: what
/// `mosquitto_passwd` 2.0 writes.
pub const PBKDF2_DEFAULT_ITERATIONS: u32 = 101;

const USAGE: &str = "\
hornet passwd [-H HASH] [-I ITERATIONS] [-c | -D] FILE USERNAME
       hornet passwd [-H HASH] [-I ITERATIONS] [-c] -b FILE USERNAME PASSWORD
       hornet passwd [-H HASH] [-I ITERATIONS] -U FILE";

const EXAMPLES: &str = "\
Examples:
  hornet passwd -c /etc/hornet/passwd alice       create the file with user alice (asks for the password)
  hornet passwd /etc/hornet/passwd bob            add bob, or change his password
  hornet passwd -b /etc/hornet/passwd bob s3cret  the same without a prompt (for scripts)
  hornet passwd -D /etc/hornet/passwd bob         delete bob
  hornet passwd -U /etc/hornet/passwd             hash a file of plain-text user:password lines
  hornet passwd -I 210000 /etc/hornet/passwd bob  more PBKDF2 iterations: slower to guess
  hornet passwd -H scram-sha-256 passwd carol     carol may also use SCRAM-SHA-256 (MQTT 5; Hornet only)

Then turn the file on: `password_file /etc/hornet/passwd` in mosquitto.conf, or
`password_file = \"/etc/hornet/passwd\"` in hornet.toml (see docs/security.md), and send the
broker SIGHUP to reload it. The file works with Mosquitto too (with the default -H): if
Debian's mosquitto (user `mosquitto`) reads it, give it `chown root:mosquitto FILE` and
`chmod 640 FILE` once; later edits keep the owner and mode.

Exit codes (as mosquitto_passwd): 0 done, 1 error, 2 passwords do not match.";

/// How passwords are hashed (`-H`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HashKind {
    /// `$7$`: PBKDF2-HMAC-SHA512, Mosquitto 2's default (read by Mosquitto 2.0 and Hornet).
    #[value(name = "sha512-pbkdf2")]
    Sha512Pbkdf2,
    /// `$6$`: one SHA-512, Mosquitto 1.x's format (weak; read by every Mosquitto and Hornet).
    #[value(name = "sha512")]
    Sha512,
    /// `$argon2id$`: Argon2id, 19 MiB (read by Hornet and Mosquitto 2.1, not Mosquitto 2.0).
    #[value(name = "argon2id")]
    Argon2id,
    /// `$scram-sha-256$`: also allows SCRAM-SHA-256 enhanced authentication (Hornet only).
    #[value(name = "scram-sha-256")]
    ScramSha256,
}

impl HashKind {
    /// The `-H` name.
    fn name(self) -> &'static str {
        match self {
            HashKind::Sha512Pbkdf2 => "sha512-pbkdf2",
            HashKind::Sha512 => "sha512",
            HashKind::Argon2id => "argon2id",
            HashKind::ScramSha256 => "scram-sha-256",
        }
    }
}

/// `hornet passwd`: add, change or delete users of a password file.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
#[command(override_usage = USAGE, after_help = EXAMPLES)]
pub struct PasswdArgs {
    /// Create a new password file. This overwrites an existing file.
    #[arg(short = 'c', long = "create")]
    pub create: bool,
    /// Batch mode: take the password from the command line instead of
    /// asking (it is then visible in the process list and shell history).
    #[arg(short = 'b', long = "batch")]
    pub batch: bool,
    /// Delete the user instead of adding or updating them.
    #[arg(short = 'D', long = "delete")]
    pub delete: bool,
    /// Update a plain-text password file (`user:password` lines) to hashed
    /// passwords; lines that already hold a hash are kept.
    #[arg(short = 'U', long = "update")]
    pub update: bool,
    /// Hash algorithm. sha512-pbkdf2 is read by Mosquitto 2.0 and Hornet.
    #[arg(
        short = 'H',
        long = "hash",
        value_enum,
        value_name = "HASH",
        default_value_t = HashKind::Sha512Pbkdf2
    )]
    pub hash: HashKind,
    /// Iterations for sha512-pbkdf2 (default 101, as mosquitto_passwd) and
    /// scram-sha-256 (default 4096); more is slower to guess and to check.
    #[arg(
        short = 'I',
        long = "iterations",
        value_name = "ITERATIONS",
        value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_ITERATIONS))
    )]
    pub iterations: Option<u32>,
    /// The password file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The user to add, update or delete.
    #[arg(value_name = "USERNAME")]
    pub username: Option<String>,
    /// The password (with -b only).
    #[arg(value_name = "PASSWORD")]
    pub password: Option<String>,
}

/// A failure: the message (printed after `Error: `; nothing when empty,
/// the reason having been printed already) and the exit code.
#[derive(Debug)]
struct Failure {
    code: u8,
    message: String,
}

fn fail<T>(message: impl Into<String>) -> Result<T, Failure> {
    Err(Failure {
        code: 1,
        message: message.into(),
    })
}

/// What to do, once the options are checked.
enum Task<'a> {
    Set {
        user: &'a str,
        password: Option<&'a str>,
    },
    Delete {
        user: &'a str,
    },
    Update,
}

/// Runs `hornet passwd`; prints what happened and returns the exit code.
pub fn run(args: &PasswdArgs) -> ExitCode {
    match execute(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("Error: {}", failure.message);
            }
            ExitCode::from(failure.code)
        }
    }
}

fn execute(args: &PasswdArgs) -> Result<(), Failure> {
    let task = task(args)?;
    let file = args.file.as_path();
    warn_about_hash(args);
    match task {
        Task::Delete { user } => {
            let mut lines = read_lines(file)?;
            if !lines.delete(user) {
                // mosquitto_passwd's words and exit code; the file is unchanged.
                eprintln!("Warning: User {user} not found in password file.");
                return Err(Failure {
                    code: 1,
                    message: String::new(),
                });
            }
            write_file(file, &lines.to_text())
        }
        Task::Update => {
            let mut lines = read_lines(file)?;
            let converted = lines
                .hash_plaintext(is_hashed, |user, password| {
                    if password.is_empty() {
                        return Err(format!("User {user} has an empty password."));
                    }
                    hash_line(args, user, password)
                })
                .or_else(fail)?;
            if converted.kept > 0 {
                eprintln!(
                    "Note: {} line(s) already held a hash and were kept as they are.",
                    converted.kept
                );
            }
            write_file(file, &lines.to_text())
        }
        Task::Set { user, password } => {
            // The file must be readable before anyone types a password.
            let mut lines = if args.create {
                PasswdLines::new()
            } else {
                read_lines(file)?
            };
            let typed;
            let password = match password {
                Some(p) => p,
                None => {
                    typed = ask_password()?;
                    typed.as_str()
                }
            };
            if password.is_empty() {
                return fail("Empty password.");
            }
            let line = hash_line(args, user, password).or_else(fail)?;
            lines.set(user, line);
            write_file(file, &lines.to_text())
        }
    }
}

/// Checks the combination of options, in `mosquitto_passwd`'s words.
fn task(args: &PasswdArgs) -> Result<Task<'_>, Failure> {
    let usage = |what: &str| {
        fail(format!(
            "{what}\nUsage: {USAGE}\nRun `hornet passwd --help` for the options and examples."
        ))
    };
    if args.create && args.delete {
        return fail("-c and -D cannot be used together.");
    }
    if args.batch && args.delete {
        return fail("-b and -D cannot be used together.");
    }
    if args.create && args.update {
        return fail("-c and -U cannot be used together.");
    }
    if args.delete && args.update {
        return fail("-D and -U cannot be used together.");
    }
    if args.update {
        if args.username.is_some() {
            return usage("-U takes the password file only.");
        }
        return Ok(Task::Update);
    }
    let Some(user) = args.username.as_deref() else {
        return usage("USERNAME missing.");
    };
    check_user_name(user).or_else(fail)?;
    if args.delete {
        if args.password.is_some() {
            return usage("-D takes the password file and the user name only.");
        }
        return Ok(Task::Delete { user });
    }
    match (args.batch, args.password.as_deref()) {
        (true, None) => usage("-b needs the password after the user name."),
        (false, Some(_)) => usage("a password on the command line needs -b."),
        (_, password) => Ok(Task::Set { user, password }),
    }
}

/// Warns about hashes Mosquitto 2.0 cannot read and options they ignore.
fn warn_about_hash(args: &PasswdArgs) {
    if args.delete {
        return;
    }
    match args.hash {
        HashKind::Argon2id => eprintln!(
            "Warning: Mosquitto 2.0 (Debian's mosquitto) cannot read $argon2id$ lines; Hornet \
             and Mosquitto 2.1 can. Use -H sha512-pbkdf2 for a file that both brokers read."
        ),
        HashKind::ScramSha256 => eprintln!(
            "Warning: Mosquitto cannot read $scram-sha-256$ lines; only Hornet does (where the \
             user may log in with a password or with SCRAM-SHA-256)."
        ),
        HashKind::Sha512 => eprintln!(
            "Warning: $6$ is a single SHA-512, quick to guess; prefer -H sha512-pbkdf2 unless \
             Mosquitto 1.x must read the file."
        ),
        HashKind::Sha512Pbkdf2 => {}
    }
    if args.iterations.is_some() && matches!(args.hash, HashKind::Sha512 | HashKind::Argon2id) {
        eprintln!(
            "Warning: -I applies to sha512-pbkdf2 and scram-sha-256 only; ignored for -H {}.",
            args.hash.name()
        );
    }
}

/// The whole `user:hash` line for `password`, with `-H` and `-I`.
fn hash_line(args: &PasswdArgs, user: &str, password: &str) -> Result<String, String> {
    let password = password.as_bytes();
    match args.hash {
        HashKind::Sha512Pbkdf2 => hornet_auth::pbkdf2_line(
            user,
            password,
            args.iterations.unwrap_or(PBKDF2_DEFAULT_ITERATIONS),
        ),
        HashKind::Sha512 => hornet_auth::sha512_line(user, password),
        HashKind::Argon2id => hornet_auth::argon2id_line(user, password),
        HashKind::ScramSha256 => hornet_auth::scram_line(
            user,
            password,
            args.iterations.unwrap_or(SCRAM_DEFAULT_ITERATIONS),
        ),
    }
}

/// Whether a credential is a hash Hornet reads (so `-U` keeps it).
fn is_hashed(credential: &str) -> bool {
    PasswordFile::parse(&format!("u:{credential}")).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The arguments as clap parses them after `hornet passwd`.
    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: PasswdArgs,
    }

    fn parse(args: &[&str]) -> PasswdArgs {
        let mut all = vec!["passwd"];
        all.extend_from_slice(args);
        Wrapper::try_parse_from(all).unwrap().args
    }

    fn task_error(args: &[&str]) -> String {
        match task(&parse(args)) {
            Ok(_) => panic!("{args:?} accepted"),
            Err(f) => {
                assert_eq!(f.code, 1);
                f.message
            }
        }
    }

    #[test]
    fn option_combinations_as_mosquitto_passwd() {
        assert!(task_error(&["-c", "-D", "f", "u"]).contains("-c and -D cannot be used together"));
        assert!(task_error(&["-b", "-D", "f", "u"]).contains("-b and -D cannot be used together"));
        assert!(task_error(&["-c", "-U", "f"]).contains("-c and -U cannot be used together"));
        assert!(task_error(&["-D", "-U", "f"]).contains("-D and -U cannot be used together"));
        assert!(task_error(&["-U", "f", "u"]).contains("-U takes the password file only"));
        assert!(task_error(&["f"]).contains("USERNAME missing"));
        assert!(task_error(&["-b", "f", "u"]).contains("-b needs the password"));
        assert!(task_error(&["f", "u", "pw"]).contains("needs -b"));
        assert!(task_error(&["-b", "f", "a:b", "pw"]).contains("':'"));
        assert!(matches!(
            task(&parse(&["-b", "f", "u", "pw"])),
            Ok(Task::Set {
                user: "u",
                password: Some("pw")
            })
        ));
        assert!(matches!(
            task(&parse(&["-c", "f", "u"])),
            Ok(Task::Set { password: None, .. })
        ));
        assert!(matches!(
            task(&parse(&["-D", "f", "u"])),
            Ok(Task::Delete { user: "u" })
        ));
        assert!(matches!(task(&parse(&["-U", "f"])), Ok(Task::Update)));
    }

    #[test]
    fn hash_options() {
        let args = parse(&["-b", "f", "u", "pw"]);
        assert_eq!(args.hash, HashKind::Sha512Pbkdf2);
        let line = hash_line(&args, "u", "pw").unwrap();
        assert!(line.starts_with("u:$7$101$"), "{line}");
        let args = parse(&["-I", "5000", "-b", "f", "u", "pw"]);
        assert!(hash_line(&args, "u", "pw")
            .unwrap()
            .starts_with("u:$7$5000$"));
        let args = parse(&["-H", "sha512", "-b", "f", "u", "pw"]);
        assert!(hash_line(&args, "u", "pw").unwrap().starts_with("u:$6$"));
        let args = parse(&["-H", "scram-sha-256", "-b", "f", "u", "pw"]);
        assert!(hash_line(&args, "u", "pw")
            .unwrap()
            .starts_with("u:$scram-sha-256$4096$"));
        let args = parse(&["-H", "argon2id", "-b", "f", "u", "pw"]);
        let line = hash_line(&args, "u", "pw").unwrap();
        assert!(line.starts_with("u:$argon2id$"), "{line}");
        let users = PasswordFile::parse(&line).unwrap();
        assert!(users.verify_password("u", b"pw"));
        let refused = |args: &[&str]| {
            let mut all = vec!["passwd"];
            all.extend_from_slice(args);
            Wrapper::try_parse_from(all).is_err()
        };
        assert!(refused(&["-H", "md5", "f", "u"]));
        assert!(refused(&["-I", "0", "f", "u"]));
        assert!(refused(&["-I", "abc", "f", "u"]));
        assert!(refused(&["-I", "1000001", "f", "u"]));
    }

    #[test]
    fn hashes_are_recognised_for_update() {
        assert!(is_hashed(
            hornet_auth::pbkdf2_line("u", b"p", 1)
                .unwrap()
                .trim_start_matches("u:")
        ));
        assert!(!is_hashed("plain password"));
        assert!(!is_hashed("$7$not$a$hash"));
    }
}
