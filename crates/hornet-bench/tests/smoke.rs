//! End to end: `hornet-bench compare --smoke --only hornet` starts the
//! Hornet binary of this target directory (building it first if it is
//! missing), runs a 1-second fanin at QoS 1, a small `conns`, pairs at
//! QoS 1 over WebSocket and over TLS (the listeners and certificates the
//! harness sets up) and 1 MB messages over WebSocket against it, and must
//! report them all without a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Bound on the whole smoke run.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// The `hornet` binary next to `hornet-bench`, built if missing.
fn hornet_binary() -> PathBuf {
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

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hornet-bench-smoke-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Runs the command to its end, at most `RUN_TIMEOUT`; returns (success, stdout, stderr).
fn run_bounded(cmd: &mut Command, scratch: &Path) -> (bool, String, String) {
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

#[test]
fn smoke_compare_against_hornet() {
    let hornet = hornet_binary();
    let scratch = scratch_dir();
    let json = scratch.join("results.json");
    let (ok, stdout, stderr) = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_hornet-bench"))
            .args([
                "compare",
                "--smoke",
                "--only",
                "hornet",
                "--scenarios",
                "fanin-q1,conns,pairs-q1-ws,pairs-q1-tls,bigmsg-ws",
                "--hornet",
            ])
            .arg(&hornet)
            .arg("--json-out")
            .arg(&json)
            .arg("--work-dir")
            .arg(scratch.join("work")),
        &scratch,
    );
    assert!(ok, "compare failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("| delivered msgs/s | ↑ |"), "{stdout}");
    assert!(stdout.contains("(`conns`)"), "{stdout}");

    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("results.json"))
            .expect("valid JSON");
    let runs = results["runs"].as_array().expect("runs");
    let fanin = runs
        .iter()
        .find(|r| r["entry"] == "fanin-q1")
        .expect("a fanin-q1 run");
    let report = &fanin["report"];
    assert_eq!(report["qos"], 1);
    assert_eq!(report["failed"], false, "{report}");
    assert_eq!(report["lost"], 0);
    assert!(
        report["delivered_per_s"].as_f64().unwrap_or(0.0) > 0.0,
        "{report}"
    );
    assert!(report["latency_us"]["p99"].as_u64().is_some(), "{report}");
    let conns = runs
        .iter()
        .find(|r| r["entry"] == "conns")
        .expect("a conns run");
    assert_eq!(conns["report"]["conns"]["succeeded"], 200, "{conns}");
    // The same QoS 1 flow over WebSocket (path /mqtt) and TLS: every
    // message arrives, none is lost or duplicated.
    for (entry, transport) in [("pairs-q1-ws", "ws"), ("pairs-q1-tls", "tls")] {
        let run = runs
            .iter()
            .find(|r| r["entry"] == entry)
            .unwrap_or_else(|| panic!("a {entry} run"));
        let report = &run["report"];
        assert_eq!(report["transport"], transport, "{report}");
        assert_eq!(report["failed"], false, "{report}");
        assert_eq!(
            (report["lost"].as_u64(), report["duplicates"].as_u64()),
            (Some(0), Some(0)),
            "{report}"
        );
        assert!(
            report["delivered_per_s"].as_f64().unwrap_or(0.0) > 0.0,
            "{report}"
        );
    }
    // 1 MB messages over WebSocket get through, with a latency measured.
    let big = &runs
        .iter()
        .find(|r| r["entry"] == "bigmsg-ws")
        .expect("a bigmsg-ws run")["report"];
    assert_eq!(
        (big["payload"].as_u64(), big["transport"].as_str()),
        (Some(1_000_000), Some("ws")),
        "{big}"
    );
    assert!(big["received"].as_u64().unwrap_or(0) > 0, "{big}");
    assert!(big["latency_us"]["p99"].as_u64().is_some(), "{big}");
    assert!(
        stdout.contains("(`pairs-q1-ws`)") && stdout.contains("(`bigmsg-ws`)"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&scratch);
}
