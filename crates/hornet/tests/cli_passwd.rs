//! `hornet passwd` and `hornet completions`, driving the real `hornet`
//! binary as a user would.
//!
//! - A file written by `hornet passwd` is accepted by the real Mosquitto
//!   (`/usr/sbin/mosquitto` with `password_file`), checked with
//!   `mosquitto_pub -u -P`; one written by `mosquitto_passwd` is accepted
//!   by Hornet.
//! - The interactive path (the password twice on standard input, a pipe),
//!   its errors and exit codes, each compared with `mosquitto_passwd` run
//!   on the same input.
//! - `-D`, `-U`, `-H argon2id`, `-H scram-sha-256`, `-I`: the file as
//!   written and the broker accepting the users (a SCRAM user through the
//!   whole SCRAM-SHA-256 exchange, with Hornet's codec client).
//! - `hornet completions bash` and the help texts.
//!
//! Needs `mosquitto`, `mosquitto_passwd` and `mosquitto_pub` (Debian
//! packages mosquitto and mosquitto-clients, installed by `.ci/run`). Every
//! wait is bounded by `common::TIMEOUT`; nothing sleeps.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/process.rs"]
mod process;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use common::{hornet_only, TestBroker, TIMEOUT};
use process::Proc;

const MOSQUITTO: &str = "the Debian packages mosquitto and mosquitto-clients";

/// What a finished command printed, and how it ended.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Runs `program args`, writing `stdin` (then closing it); waits at most
/// `TIMEOUT` for it to finish.
fn run(program: &str, args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e} (install {MOSQUITTO})"));
    let mut input = child.stdin.take().expect("stdin");
    // The program may exit before reading everything (a broken pipe).
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = rx
        .recv_timeout(TIMEOUT)
        .unwrap_or_else(|_| panic!("{program} {args:?} did not finish within {TIMEOUT:?}"))
        .expect("wait for the program");
    Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `hornet passwd args` with `stdin`.
fn hornet_passwd(args: &[&str], stdin: &str) -> Run {
    let mut all = vec!["passwd"];
    all.extend_from_slice(args);
    run(env!("CARGO_BIN_EXE_hornet"), &all, stdin)
}

/// `hornet passwd args`, which must succeed.
fn hornet_passwd_ok(args: &[&str]) {
    let r = hornet_passwd(args, "");
    assert!(
        r.status.success(),
        "hornet passwd {args:?}: {}\n{}{}",
        r.status,
        r.stdout,
        r.stderr
    );
}

/// `mosquitto_passwd args` with `stdin`.
fn mosquitto_passwd(args: &[&str], stdin: &str) -> Run {
    process::require("mosquitto_passwd", MOSQUITTO);
    run("mosquitto_passwd", args, stdin)
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

/// `mosquitto_pub -u user -P password` to `port`: whether the broker let
/// the user in, and what the client printed.
fn login(port: u16, user: &str, password: &str) -> (bool, String) {
    process::require("mosquitto_pub", MOSQUITTO);
    let mut cmd = Command::new("mosquitto_pub");
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-u", user, "-P", password, "-t", "passwd/test", "-m", "hi"]);
    let mut proc = Proc::spawn("mosquitto_pub", &mut cmd, MOSQUITTO);
    let status = proc.wait_exit(TIMEOUT);
    (status.success(), proc.output())
}

/// Asserts that `user` logs in with `password` and not with a wrong one.
fn assert_login(port: u16, user: &str, password: &str) {
    let (ok, output) = login(port, user, password);
    assert!(ok, "{user} with the right password was refused: {output}");
    let (ok, output) = login(port, user, "wrong-password");
    assert!(!ok, "{user} with a wrong password got in: {output}");
}

/// The real Mosquitto with `password_file`, no anonymous clients; killed
/// when dropped.
struct Mosquitto {
    _proc: Proc,
    port: u16,
}

impl Mosquitto {
    fn start(dir: &Path, password_file: &Path) -> Mosquitto {
        process::require("mosquitto", MOSQUITTO);
        let port = common::free_port();
        let conf = dir.join("mosquitto.conf");
        // As root, Mosquitto drops to the `mosquitto` user before reading the
        // password file, which cannot enter the private temporary directory:
        // `user root` keeps it root (as another user it changes nothing).
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\nuser root\n",
                password_file.display()
            ),
        )
        .unwrap();
        let mut cmd = Command::new("mosquitto");
        cmd.arg("-c").arg(&conf);
        let proc = Proc::spawn("mosquitto", &mut cmd, MOSQUITTO);
        common::wait_for_port(([127, 0, 0, 1], port).into());
        Mosquitto { _proc: proc, port }
    }
}

/// Hornet (in-process) with `password_file`, no anonymous clients.
fn hornet_with(password_file: &Path) -> TestBroker {
    TestBroker::with_conf(&format!(
        "allow_anonymous false\npassword_file {}\n",
        password_file.display()
    ))
}

/// A fresh temporary directory and a `passwd` path in it.
fn temp_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("passwd");
    (dir, path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// The line of `user` in the file.
fn line_of(path: &Path, user: &str) -> String {
    read(path)
        .lines()
        .find(|l| l.split(':').next() == Some(user))
        .unwrap_or_else(|| panic!("no line for {user} in:\n{}", read(path)))
        .to_string()
}

// ---- interoperability with Mosquitto ----

/// `hornet passwd -c -b` writes a file the real Mosquitto 2.0 reads: the
/// right password connects, a wrong one is refused. Also the `$6$` line of
/// `-H sha512` and a `$7$` line with `-I 5000`.
#[test]
fn file_written_by_hornet_passwd_is_accepted_by_mosquitto() {
    let (dir, file) = temp_file();
    let f = path_str(&file);
    hornet_passwd_ok(&["-c", "-b", f, "alice", "secret"]);
    hornet_passwd_ok(&["-H", "sha512", "-b", f, "bob", "bob-pw"]);
    hornet_passwd_ok(&["-I", "5000", "-b", f, "carol", "carol-pw"]);
    assert!(line_of(&file, "alice").starts_with("alice:$7$101$"));
    assert!(line_of(&file, "bob").starts_with("bob:$6$"));
    assert!(line_of(&file, "carol").starts_with("carol:$7$5000$"));
    let mosquitto = Mosquitto::start(dir.path(), &file);
    assert_login(mosquitto.port, "alice", "secret");
    assert_login(mosquitto.port, "bob", "bob-pw");
    assert_login(mosquitto.port, "carol", "carol-pw");
}

/// A file written by the real `mosquitto_passwd` is accepted by Hornet.
#[test]
fn file_written_by_mosquitto_passwd_is_accepted_by_hornet() {
    if hornet_only() {
        return;
    }
    let (_dir, file) = temp_file();
    let f = path_str(&file);
    let r = mosquitto_passwd(&["-c", "-b", f, "bob", "pw"], "");
    assert!(r.status.success(), "{}", r.stderr);
    let broker = hornet_with(&file);
    assert_login(broker.port(), "bob", "pw");
}

/// A new file is private (mode 0600): the hashes are not for every user
/// of the machine. An existing file keeps its mode (a world-readable one
/// with a warning).
#[cfg(unix)]
#[test]
fn new_file_is_mode_0600_and_edits_keep_the_mode() {
    use std::os::unix::fs::PermissionsExt as _;
    let (_dir, file) = temp_file();
    let f = path_str(&file);
    let mode = || std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    hornet_passwd_ok(&["-c", "-b", f, "alice", "secret"]);
    assert_eq!(mode(), 0o600);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    hornet_passwd_ok(&["-b", f, "bob", "pw"]);
    assert_eq!(mode(), 0o640);
    // A file every user can read is kept so (Mosquitto may need it), with
    // a warning.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = hornet_passwd(&["-b", f, "carol", "pw"], "");
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stderr.contains("readable by every user"), "{}", r.stderr);
    assert_eq!(mode(), 0o644);
}

// ---- the interactive path, compared with mosquitto_passwd ----

/// The password typed twice (here piped): the prompts, and a user Hornet
/// accepts.
#[test]
fn password_typed_twice_adds_the_user() {
    if hornet_only() {
        return;
    }
    let (_dir, file) = temp_file();
    let f = path_str(&file);
    let r = hornet_passwd(&["-c", f, "dave"], "dave-pw\ndave-pw\n");
    assert!(r.status.success(), "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stdout, "Password: \nReenter password: \n");
    let broker = hornet_with(&file);
    assert_login(broker.port(), "dave", "dave-pw");
}

/// Each error of `hornet passwd` gives the same exit code and the same
/// first line as `mosquitto_passwd` on the same input, and leaves the file
/// as it was.
#[test]
fn errors_and_exit_codes_match_mosquitto_passwd() {
    // (arguments after FILE is substituted, standard input, expected code, message)
    let cases: &[(&[&str], &str, i32, &str)] = &[
        (
            &["FILE", "eve"],
            "aa\nbb\n",
            2,
            "Error: Passwords do not match.",
        ),
        (&["FILE", "eve"], "\n", 1, "Error: Empty password."),
        (&["FILE", "eve"], "aa\n", 1, "Error: Empty password."),
        (&["FILE", "eve"], "", 1, "Error: Empty password."),
        (
            &["-D", "FILE", "nobody"],
            "",
            1,
            "Warning: User nobody not found in password file.",
        ),
        (
            &["-b", "FILE", "a:b", "pw"],
            "",
            1,
            "Error: Username must not contain the ':' character.",
        ),
        (
            &["-c", "-D", "FILE", "alice"],
            "",
            1,
            "Error: -c and -D cannot be used together.",
        ),
        (
            &["-b", "-D", "FILE", "alice"],
            "",
            1,
            "Error: -b and -D cannot be used together.",
        ),
        (
            &["-c", "-U", "FILE"],
            "",
            1,
            "Error: -c and -U cannot be used together.",
        ),
        (
            &["-D", "-U", "FILE"],
            "",
            1,
            "Error: -D and -U cannot be used together.",
        ),
        (
            &["-H", "sha512-pbkdf2", "-I", "0", "-b", "FILE", "u", "p"],
            "",
            1,
            "",
        ),
        (&["-H", "md5", "-b", "FILE", "u", "p"], "", 1, ""),
        (&["FILE"], "", 1, ""),
    ];
    for (args, stdin, code, message) in cases {
        let mut outcomes = Vec::new();
        for tool in ["hornet", "mosquitto_passwd"] {
            let (_dir, file) = temp_file();
            // No comment: mosquitto_passwd 2.0 calls it corrupt.
            let original = "alice:$7$101$c2FsdA==$aGFzaA==\n";
            std::fs::write(&file, original).unwrap();
            let args: Vec<&str> = args
                .iter()
                .map(|a| if *a == "FILE" { path_str(&file) } else { a })
                .collect();
            let r = match tool {
                "hornet" => hornet_passwd(&args, stdin),
                _ => mosquitto_passwd(&args, stdin),
            };
            assert_eq!(read(&file), original, "{tool} {args:?} changed the file");
            let first = r.stderr.lines().next().unwrap_or("").to_string();
            outcomes.push((tool, r.code(), first, r.stderr));
        }
        for (tool, got, first, stderr) in &outcomes {
            assert_eq!(
                *got,
                Some(*code),
                "{tool} {args:?} <<< {stdin:?}: exit code; stderr:\n{stderr}"
            );
            if !message.is_empty() {
                assert_eq!(first, message, "{tool} {args:?} <<< {stdin:?}");
            }
        }
    }
}

/// A missing file (without `-c`) is an error before any password is asked.
#[test]
fn missing_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let m = path_str(&missing);
    let ours = hornet_passwd(&["-b", m, "u", "p"], "");
    let theirs = mosquitto_passwd(&["-b", m, "u", "p"], "");
    assert_eq!(ours.code(), Some(1));
    assert_eq!(ours.code(), theirs.code());
    assert_eq!(ours.stderr, theirs.stderr);
    let ours = hornet_passwd(&[m, "u"], "pw\npw\n");
    assert_eq!(ours.code(), Some(1));
    assert_eq!(ours.stdout, "", "asked for a password first");
    assert!(!missing.exists());
}

// ---- -D, -U, -H, -I ----

/// `-D` removes the user's line and keeps every other line as it was.
#[test]
fn delete_keeps_other_lines_untouched() {
    let (_dir, file) = temp_file();
    let f = path_str(&file);
    hornet_passwd_ok(&["-c", "-b", f, "alice", "a-pw"]);
    hornet_passwd_ok(&["-b", f, "bob", "b-pw"]);
    let alice = line_of(&file, "alice");
    let mut text = read(&file);
    text.insert_str(0, "# plant users\n\n");
    std::fs::write(&file, &text).unwrap();
    hornet_passwd_ok(&["-D", f, "bob"]);
    assert_eq!(read(&file), format!("# plant users\n\n{alice}\n"));
    // Updating alice replaces her line in place.
    hornet_passwd_ok(&["-b", f, "alice", "new-pw"]);
    let text = read(&file);
    assert!(text.starts_with("# plant users\n\nalice:$7$101$"), "{text}");
    assert_ne!(line_of(&file, "alice"), alice);
}

/// `-U` hashes plain-text lines; lines already hashed (here by
/// `mosquitto_passwd`) and comments are kept; Hornet then accepts both
/// users. A second `-U` changes nothing.
#[test]
fn update_hashes_a_plain_text_file() {
    if hornet_only() {
        return;
    }
    let (_dir, file) = temp_file();
    let f = path_str(&file);
    let r = mosquitto_passwd(&["-c", "-b", f, "bob", "bob-pw"], "");
    assert!(r.status.success(), "{}", r.stderr);
    let bob = line_of(&file, "bob");
    std::fs::write(&file, format!("# plain\ncarol:carol pw:x\n{bob}\n")).unwrap();
    hornet_passwd_ok(&["-U", f]);
    let text = read(&file);
    assert!(text.starts_with("# plain\ncarol:$7$101$"), "{text}");
    assert_eq!(line_of(&file, "bob"), bob);
    hornet_passwd_ok(&["-U", f]);
    assert_eq!(read(&file), text, "a second -U hashed a hash");
    let broker = hornet_with(&file);
    assert_login(broker.port(), "carol", "carol pw:x");
    assert_login(broker.port(), "bob", "bob-pw");
}

/// `-H argon2id` and `-H scram-sha-256` lines (with a warning that
/// Mosquitto 2.0 cannot read them) are accepted by Hornet; `-I` is in the
/// SCRAM line.
#[test]
fn argon2id_and_scram_lines_are_accepted_by_hornet() {
    if hornet_only() {
        return;
    }
    let (_dir, file) = temp_file();
    let f = path_str(&file);
    let r = hornet_passwd(&["-c", "-H", "argon2id", "-b", f, "erin", "erin-pw"], "");
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stderr.contains("Mosquitto 2.0"), "{}", r.stderr);
    assert!(line_of(&file, "erin").starts_with("erin:$argon2id$v=19$"));
    let r = hornet_passwd(
        &[
            "-H",
            "scram-sha-256",
            "-I",
            "4500",
            "-b",
            f,
            "frank",
            "frank-pw",
        ],
        "",
    );
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stderr.contains("only Hornet"), "{}", r.stderr);
    assert!(line_of(&file, "frank").starts_with("frank:$scram-sha-256$4500$"));
    let broker = hornet_with(&file);
    assert_login(broker.port(), "erin", "erin-pw");
    assert_login(broker.port(), "frank", "frank-pw");
}

/// A user made with `-H scram-sha-256` logs in with SCRAM-SHA-256
/// enhanced authentication (MQTT 5 §4.12): AUTH 0x18 server-first, the
/// client's proof, CONNACK 0x00 with the server signature, which the
/// client verifies; a wrong password fails with 0x86.
#[test]
fn scram_user_logs_in_with_enhanced_authentication() {
    use bytes::Bytes;
    use hornet_auth::scram::{random_nonce, ScramClient};
    use hornet_codec::{Auth, Connect, Packet, Properties, Property, Protocol, ReasonCode};
    if hornet_only() {
        return;
    }
    let (_dir, file) = temp_file();
    let f = path_str(&file);
    hornet_passwd_ok(&["-c", "-H", "scram-sha-256", "-b", f, "gina", "gina-pw"]);
    let broker = hornet_with(&file);
    let method = "SCRAM-SHA-256";
    let scram_login = |password: &str| -> (ReasonCode, bool) {
        let mut client = ScramClient::new("gina", password.as_bytes(), &random_nonce().unwrap());
        let mut connect = Connect::new(Protocol::V5, "gina-scram");
        connect
            .properties
            .push(Property::AuthenticationMethod(method.into()));
        connect
            .properties
            .push(Property::AuthenticationData(Bytes::from(
                client.client_first().into_bytes(),
            )));
        let mut raw = codec_client::Raw::connect_to(broker.addr(), connect);
        let server_first = match raw.recv() {
            Some(Packet::Auth(a)) => {
                assert_eq!(a.reason_code, ReasonCode::ContinueAuthentication);
                a.properties.authentication_data().cloned().unwrap()
            }
            other => panic!("expected AUTH, got {other:?}"),
        };
        let client_final = client.client_final(&server_first).unwrap();
        let mut properties = Properties::new();
        properties.push(Property::AuthenticationMethod(method.into()));
        properties.push(Property::AuthenticationData(Bytes::from(
            client_final.into_bytes(),
        )));
        raw.send(Packet::Auth(Auth {
            reason_code: ReasonCode::ContinueAuthentication,
            properties,
        }));
        match raw.recv() {
            Some(Packet::ConnAck(ack)) => {
                let verified = ack
                    .properties
                    .authentication_data()
                    .is_some_and(|data| client.verify_server_final(data).is_ok());
                (ack.reason_code, verified)
            }
            other => panic!("expected CONNACK, got {other:?}"),
        }
    };
    assert_eq!(scram_login("gina-pw"), (ReasonCode::Success, true));
    assert_eq!(scram_login("wrong").0, ReasonCode::BadUserNameOrPassword);
}

/// A line `hornet passwd` does not understand stops it: the file is not
/// rewritten (`mosquitto_passwd` 2.0 would drop every line it cannot read).
#[test]
fn corrupt_file_is_left_unchanged() {
    let (_dir, file) = temp_file();
    let f = path_str(&file);
    let original = "# users\nalice:$7$101$c2FsdA==$aGFzaA==\nnot a user line\n";
    std::fs::write(&file, original).unwrap();
    let r = hornet_passwd(&["-b", f, "bob", "pw"], "");
    assert_eq!(r.code(), Some(1));
    assert!(
        r.stderr.contains("Corrupt password file at line 3"),
        "{}",
        r.stderr
    );
    assert_eq!(read(&file), original);
}

// ---- help and completions ----

/// `hornet completions bash` prints a completion script covering the
/// subcommands.
#[test]
fn completions_bash_prints_a_script() {
    let r = run(env!("CARGO_BIN_EXE_hornet"), &["completions", "bash"], "");
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stdout.contains("complete -F _hornet"), "{}", r.stdout);
    for word in ["passwd", "completions", "serve", "--iterations"] {
        assert!(r.stdout.contains(word), "{word} not completed");
    }
    let r = run(env!("CARGO_BIN_EXE_hornet"), &["completions", "tcsh"], "");
    assert!(!r.status.success());
    assert!(r.stderr.contains("bash"), "{}", r.stderr);
}

/// `hornet --help` lists the subcommands and examples of each;
/// `hornet passwd --help` has its own examples.
#[test]
fn help_lists_subcommands_and_examples() {
    let r = run(env!("CARGO_BIN_EXE_hornet"), &["--help"], "");
    assert!(r.status.success());
    for needle in [
        "passwd ",
        "completions ",
        "hornet sub -t 'demo/#' -v",
        "hornet pub -t demo/x -m hello",
        "hornet passwd -c",
        "hornet check-config /etc/mosquitto/mosquitto.conf",
        "hornet completions bash",
    ] {
        assert!(r.stdout.contains(needle), "{needle} missing:\n{}", r.stdout);
    }
    let r = run(env!("CARGO_BIN_EXE_hornet"), &["passwd", "--help"], "");
    assert!(r.status.success());
    for needle in ["-U", "-I", "argon2id", "Examples:", "password_file"] {
        assert!(r.stdout.contains(needle), "{needle} missing:\n{}", r.stdout);
    }
}
