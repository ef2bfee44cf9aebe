//! Helpers of the end-to-end tests: the Hornet binary of this target
//! directory (built if missing), a scratch directory, and running
//! `hornet-bench` to its end within a bound.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Bound on the whole smoke run.
pub(crate) const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// The `hornet` binary next to `hornet-bench`, built if missing.
pub(crate) fn hornet_binary() -> PathBuf {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_hornet-bench"));
    let dir = bench.parent().expect("binary dir");
    let hornet = dir.join(format!("hornet{}", std::env::consts::EXE_SUFFIX));
    if !hornet.is_file() {
        let target_dir = dir.parent().expect("target dir");
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args(["build", "-p", "hornet", "--bin", "hornet", "--target-dir"])
            .arg(target_dir);
        if dir.file_name().is_some_and(|n| n == "release") {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("running cargo build -p hornet");
        assert!(status.success(), "cargo build -p hornet failed");
    }
    assert!(hornet.is_file(), "no hornet binary at {}", hornet.display());
    hornet
}

pub(crate) fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hornet-bench-{name}-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Runs the command to its end, at most `RUN_TIMEOUT`; returns (success, stdout, stderr).
pub(crate) fn run_bounded(cmd: &mut Command, scratch: &Path) -> (bool, String, String) {
    let out_path = scratch.join("stdout.txt");
    let err_path = scratch.join("stderr.txt");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("starting hornet-bench");
    // Wait for the exit on a thread and for the thread's answer with a
    // bounded timeout: an event, not a polling loop.
    let pid = child.id().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(RUN_TIMEOUT) {
        Ok(status) => status.expect("waiting for hornet-bench"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid]).status();
            panic!("hornet-bench compare did not finish within {RUN_TIMEOUT:?}");
        }
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (status.success(), read(&out_path), read(&err_path))
}
