//! The README's walkthrough, step by step, with only the `hornet` binary:
//! start the broker, `hornet sub -t 'demo/#' -v`, `hornet pub -t demo/x -m
//! hello`, add a user with `hornet passwd`, write the two-line `hornet.toml`
//! that turns the password file on, check it with `hornet check-config`
//! (which warns that the admin API will be locked, as the README says),
//! restart with it, see an anonymous publish refused and alice's accepted,
//! and add the README's `[admin]` lines that name alice.
//!
//! Every command the test runs is first looked up, verbatim, in README.md:
//! if the README changes a step, this test fails until it follows. The test
//! adds only what a test needs: `-p PORT` (an ephemeral port instead of
//! 1883) and `-d` on the subscriber (to wait for its SUBACK instead of
//! sleeping). Each step waits on output or exit with a bounded timeout.
//!
//! In the same spirit, every `hornet ...` example in `hornet --help` and in
//! each subcommand's help must parse, so no help text shows a flag that
//! does not exist.

mod common;
#[path = "support/process.rs"]
mod process;
#[path = "support/shell.rs"]
mod shell;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use clap::{CommandFactory, Parser};
use common::TIMEOUT;
use hornet::cli::Cli;
use process::Proc;

const README: &str = include_str!("../../../README.md");

/// The TOML the README tells the user to write.
const HORNET_TOML: &str = "allow_anonymous = false\npassword_file = \"passwords\"\n";

/// The lines the README adds to it to unlock the admin API for alice.
const ADMIN_TOML: &str = "[admin]\nusers = [\"alice\"]\n";

/// Panics unless README.md shows `text` verbatim.
fn in_readme(text: &str) {
    assert!(
        README.contains(text),
        "README.md no longer shows `{text}`: update the walkthrough and this test together"
    );
}

/// The `hornet` command for a README line (which starts with `hornet`),
/// run in `dir`, with `extra` arguments appended.
fn hornet(dir: &Path, line: &str, extra: &[&str]) -> Command {
    in_readme(line);
    let args = shell::words(line);
    assert_eq!(args[0], "hornet", "{line}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hornet"));
    cmd.args(&args[1..]).args(extra).current_dir(dir);
    cmd
}

/// Starts the broker for `line` on `port` and waits until it accepts.
fn broker(dir: &Path, line: &str, port: u16) -> Proc {
    let p = port.to_string();
    let proc = Proc::spawn("hornet", &mut hornet(dir, line, &["-p", &p]), "cargo build");
    common::wait_for_port(([127, 0, 0, 1], port).into());
    proc
}

/// Starts `hornet sub` for `line` (with `-d`) and waits for its SUBACK.
fn subscriber(dir: &Path, line: &str, port: u16, extra: &[&str]) -> Proc {
    let p = port.to_string();
    let mut args = vec!["-p", &p, "-d"];
    args.extend_from_slice(extra);
    let mut sub = Proc::spawn("hornet sub", &mut hornet(dir, line, &args), "cargo build");
    sub.wait_line(TIMEOUT, "the SUBACK", |l| l.contains("SUBACK"));
    sub
}

/// Runs `hornet pub` for `line` to completion; returns its exit code and output.
fn publish(dir: &Path, line: &str, port: u16) -> (Option<i32>, String) {
    let p = port.to_string();
    let mut publ = Proc::spawn(
        "hornet pub",
        &mut hornet(dir, line, &["-p", &p]),
        "cargo build",
    );
    let status = publ.wait_exit(TIMEOUT);
    (status.code(), publ.output())
}

#[test]
fn readme_walkthrough_with_only_the_hornet_binary() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();

    // 1. The broker with no configuration, a subscriber, a publisher.
    let port = common::free_port();
    let mut server = broker(dir, "hornet", port);
    let mut sub = subscriber(dir, "hornet sub -t 'demo/#' -v", port, &[]);
    let (code, out) = publish(dir, "hornet pub -t demo/x -m hello", port);
    assert_eq!(code, Some(0), "hornet pub failed:\n{out}");
    sub.wait_line(TIMEOUT, "demo/x hello", |l| l == "demo/x hello");
    drop(sub);

    // 2. A user, asked for the password twice as mosquitto_passwd does
    //    (read from stdin when it is not a terminal).
    let mut passwd = hornet(dir, "hornet passwd -c passwords alice", &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    passwd
        .stdin
        .take()
        .unwrap()
        .write_all(b"secret\nsecret\n")
        .unwrap();
    let out = passwd.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "hornet passwd failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = std::fs::read_to_string(dir.join("passwords")).unwrap();
    assert!(line.starts_with("alice:$7$"), "{line}");
    assert!(!line.contains("secret"), "the password is stored hashed");

    // 3. The configuration that turns the password file on, checked.
    in_readme(HORNET_TOML);
    std::fs::write(dir.join("hornet.toml"), HORNET_TOML).unwrap();
    let out = hornet(dir, "hornet check-config hornet.toml", &[])
        .output()
        .unwrap();
    let printed =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "check-config refused it:\n{printed}");
    assert!(printed.contains("passwords"), "{printed}");
    // As the README says, its admin listener is locked (named, not refused)
    // until admin users are named; the README's `[admin]` lines name alice.
    assert!(
        printed.contains("admin API and dashboard will be locked"),
        "{printed}"
    );

    // 4. The broker restarted with it: anonymous refused, alice accepted.
    drop(server);
    let port = common::free_port();
    server = broker(dir, "hornet -c hornet.toml", port);
    let (code, out) = publish(dir, "hornet pub -t demo/x -m hello", port);
    assert_ne!(code, Some(0), "an anonymous publish was accepted:\n{out}");
    assert!(out.contains("not authorised"), "{out}");
    let mut sub = subscriber(
        dir,
        "hornet sub -t 'demo/#' -v -u alice -P secret",
        port,
        &[],
    );
    let (code, out) = publish(
        dir,
        "hornet pub -t demo/x -m hello -u alice -P secret",
        port,
    );
    assert_eq!(code, Some(0), "alice's publish failed:\n{out}");
    sub.wait_line(TIMEOUT, "demo/x hello", |l| l == "demo/x hello");
    drop(sub);
    drop(server);

    // 5. The README's `[admin]` lines added: the admin API is alice's.
    in_readme(ADMIN_TOML);
    std::fs::write(
        dir.join("hornet.toml"),
        format!("{HORNET_TOML}{ADMIN_TOML}"),
    )
    .unwrap();
    let out = hornet(dir, "hornet check-config hornet.toml", &[])
        .output()
        .unwrap();
    let printed =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "check-config refused it:\n{printed}");
    assert!(!printed.contains("locked"), "{printed}");
    assert!(printed.contains("admin users alice"), "{printed}");
}

/// Every `hornet ...` line in the Examples of `hornet --help` and of each
/// subcommand's help is a command line the parser accepts.
#[test]
fn every_help_example_parses() {
    let mut helps = vec![Cli::command().render_long_help().to_string()];
    for sub in Cli::command().get_subcommands_mut() {
        helps.push(sub.render_long_help().to_string());
    }
    let mut checked = 0;
    for help in &helps {
        let Some(examples) = help.split("Examples:").nth(1) else {
            continue;
        };
        for line in examples.lines().map(str::trim_start) {
            if !line.starts_with("hornet") {
                continue;
            }
            // The command ends where two spaces start its explanation.
            let command = line.split("  ").next().unwrap();
            if let Err(e) = Cli::try_parse_from(shell::words(command)) {
                panic!("help example `{command}` does not parse: {e}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} examples found");
}
