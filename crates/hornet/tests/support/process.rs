//! External client programs (Paho scripts, MQTT.js scripts, `mosquitto_pub`,
//! `mosquitto_sub`) run as child processes, for `paho.rs`, `mqttjs.rs` and
//! `mosquitto_clients.rs`.
//!
//! A [`Proc`] kills its child when dropped, so no client outlives its test.
//! Its stdout and stderr are read line by line on two threads into one
//! channel; every wait ([`Proc::wait_line`], [`Proc::wait_exit`]) is on that
//! channel with a deadline: no test sleeps for a guessed time. On a timeout
//! or a failed expectation the panic message carries everything the program
//! printed.
//!
//! Missing tools make the test fail with what to install (CI installs them,
//! see `.ci/run`).

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long a whole client script may run: its own hard timeout (25 s) plus
/// a margin for interpreter start-up on a loaded machine.
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(45);

/// The directory with the client scripts and the npm package.
pub fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Panics (saying what to install) unless `program` is an executable on `PATH`.
pub fn require(program: &str, install: &str) {
    let found = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .any(|dir| std::fs::metadata(dir.join(program)).is_ok_and(|m| m.is_file()))
    });
    assert!(
        found,
        "`{program}` not found on PATH: install {install} (see .ci/run)"
    );
}

/// A running child process whose output lines are collected; killed on drop.
pub struct Proc {
    name: String,
    child: Child,
    lines: Receiver<String>,
    /// Every line read so far (stderr lines prefixed with `stderr: `).
    pub transcript: Vec<String>,
    eof: bool,
    /// The working directory made for a `hornet` child, removed with it.
    _workdir: Option<tempfile::TempDir>,
}

fn forward<R: Read + Send + 'static>(
    stream: R,
    prefix: &'static str,
    tx: std::sync::mpsc::Sender<String>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(format!("{prefix}{line}")).is_err() {
                break;
            }
        }
    });
}

impl Proc {
    /// Starts `cmd` (stdin closed, stdout and stderr captured). `install`
    /// says what to install if the program does not exist.
    ///
    /// The `hornet` binary keeps its data directory (`./data`) in its
    /// working directory; unless the test chose one, it runs in the
    /// system's temporary directory under a fresh name, so parallel tests
    /// never share (and lock) one store.
    pub fn spawn(name: &str, cmd: &mut Command, install: &str) -> Proc {
        Proc::spawn_with(name, cmd, install, Stdio::null())
    }

    /// As [`Proc::spawn`], with a pipe to the child's stdin (closed when
    /// the returned handle is dropped).
    pub fn spawn_piped(
        name: &str,
        cmd: &mut Command,
        install: &str,
    ) -> (Proc, std::process::ChildStdin) {
        let mut proc = Proc::spawn_with(name, cmd, install, Stdio::piped());
        let stdin = proc.child.stdin.take().expect("stdin piped");
        (proc, stdin)
    }

    fn spawn_with(name: &str, cmd: &mut Command, install: &str, stdin: Stdio) -> Proc {
        let workdir = if cmd.get_current_dir().is_none()
            && Path::new(cmd.get_program()).file_name() == Some(std::ffi::OsStr::new("hornet"))
        {
            let dir = tempfile::tempdir().expect("a working directory for hornet");
            cmd.current_dir(dir.path());
            Some(dir)
        } else {
            None
        };
        let mut child = cmd
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{name}: cannot run {cmd:?}: {e}. Install it: {install} (see .ci/run)")
            });
        let (tx, rx) = channel();
        forward(child.stdout.take().expect("stdout"), "", tx.clone());
        forward(child.stderr.take().expect("stderr"), "stderr: ", tx);
        Proc {
            name: name.to_string(),
            child,
            lines: rx,
            transcript: Vec::new(),
            eof: false,
            _workdir: workdir,
        }
    }

    /// The child's process id (to send it signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every output line printed so far, read without waiting.
    pub fn lines_so_far(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.transcript.push(line);
        }
        &self.transcript
    }

    /// Everything printed so far, for failure messages.
    pub fn output(&self) -> String {
        self.transcript.join("\n")
    }

    /// The next output line, `None` at the end of the output; panics after
    /// `deadline`.
    fn next_line(&mut self, deadline: Instant, what: &str) -> Option<String> {
        if self.eof {
            return None;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => {
                self.transcript.push(line.clone());
                Some(line)
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.eof = true;
                None
            }
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                panic!(
                    "{}: timed out waiting for {what}; output so far:\n{}",
                    self.name,
                    self.output()
                );
            }
        }
    }

    /// Waits (up to `timeout`) for an output line matching `pred`; returns it.
    pub fn wait_line(
        &mut self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        while let Some(line) = self.next_line(deadline, what) {
            if pred(&line) {
                return line;
            }
        }
        panic!(
            "{}: output ended before {what}; output:\n{}",
            self.name,
            self.output()
        );
    }

    /// Reads the rest of the output and waits for the exit, all within
    /// `timeout` (the child is killed otherwise).
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        while self.next_line(deadline, "the program to exit").is_some() {}
        // Output closed: the program has exited (or closed both streams).
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "{}: closed its output but did not exit; output:\n{}",
                    self.name,
                    self.output()
                );
            }
            std::thread::yield_now();
        }
    }

    /// Runs to completion and panics unless it exits 0 (with its output).
    pub fn expect_success(&mut self, timeout: Duration) {
        let status = self.wait_exit(timeout);
        assert!(
            status.success(),
            "{}: exited with {status}; output:\n{}",
            self.name,
            self.output()
        );
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a scenario script (`program args...`) and asserts that it exits 0
/// having printed `OK <scenario>`; on failure the panic shows its output.
pub fn run_scenario(name: &str, mut cmd: Command, install: &str, scenario: &str) {
    let mut proc = Proc::spawn(name, cmd.current_dir(clients_dir()), install);
    let status = proc.wait_exit(SCRIPT_TIMEOUT);
    let ok = format!("OK {scenario}");
    assert!(
        status.success() && proc.transcript.iter().any(|l| l == &ok),
        "{name}: scenario {scenario} failed ({status}); output:\n{}",
        proc.output()
    );
    // Shown with --nocapture: measured figures such as keep-alive timing.
    eprintln!("{name}:\n{}", proc.output());
}

/// The latest acceptable arrival of the will in the keep-alive scenarios
/// (keep-alive 2 s), in seconds after the client went silent.
///
/// One and a half keep-alive periods [MQTT-3.1.2-24] plus a margin: Hornet's
/// timers tick finely, so 2 s of slack covers a loaded machine; Mosquitto
/// 2.0 checks keep-alive only every few seconds (observed: up to 8.8 s), so
/// against it the bound only proves the will comes at all.
pub fn keepalive_limit_secs() -> f64 {
    let keepalive = 2.0;
    if crate::common::against_mosquitto() {
        1.5 * keepalive + 8.0
    } else {
        1.5 * keepalive + 2.0
    }
}
