//! End to end: `hornet-bench compare --smoke --only hornet` starts the
//! Hornet binary of this target directory (building it first if it is
//! missing), runs a 1-second fanin at QoS 1, a small `conns`, pairs at
//! QoS 1 over WebSocket and over TLS (the listeners and certificates the
//! harness sets up), 1 MB messages over WebSocket, device-like load (one
//! message per write, saturated at QoS 1 and paced at QoS 0) and an idle
//! broker's cost against it, and must report them all without a failure.

mod common;

use std::process::Command;

use common::{hornet_binary, run_bounded, scratch_dir};

#[test]
fn smoke_compare_against_hornet() {
    let hornet = hornet_binary();
    let scratch = scratch_dir("smoke");
    let json = scratch.join("results.json");
    let (ok, stdout, stderr) = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_hornet-bench"))
            .args([
                "compare",
                "--smoke",
                "--only",
                "hornet",
                "--scenarios",
                "fanin-q1,conns,pairs-q1-ws,pairs-q1-tls,bigmsg-ws,dev-fanin-q1,dev-fanin-q0-paced,idle",
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
    // Device-like load: every QoS 1 message arrives; the paced QoS 0 run
    // holds its rate and measures latency.
    let dev = &runs
        .iter()
        .find(|r| r["entry"] == "dev-fanin-q1")
        .expect("a dev-fanin-q1 run")["report"];
    assert_eq!(
        (
            dev["failed"].as_bool(),
            dev["lost"].as_u64(),
            dev["publishers"].as_u64()
        ),
        (Some(false), Some(0), Some(10)),
        "{dev}"
    );
    assert!(
        dev["delivered_per_s"].as_f64().unwrap_or(0.0) > 0.0,
        "{dev}"
    );
    let paced = &runs
        .iter()
        .find(|r| r["entry"] == "dev-fanin-q0-paced")
        .expect("a dev-fanin-q0-paced run")["report"];
    assert_eq!(paced["target_rate"].as_f64(), Some(5_000.0), "{paced}");
    assert!(paced["latency_us"]["p99"].as_u64().is_some(), "{paced}");
    // The idle broker's cost is measured.
    let idle = &runs
        .iter()
        .find(|r| r["entry"] == "idle")
        .expect("an idle run")["report"]["conns"];
    assert_eq!(idle["succeeded"], 200, "{idle}");
    assert!(idle["idle_cpu_us_per_s"].as_f64().is_some(), "{idle}");
    assert!(idle["idle_wakeups_per_s"].as_f64().is_some(), "{idle}");
    assert!(
        stdout.contains("| idle broker wake-ups/s | ↓ |"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&scratch);
}
