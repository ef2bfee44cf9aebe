//! End to end, without the peers installed: `hornet-bench compare --smoke`
//! asked for rumqttd and RMQTT with an empty peer directory skips both
//! with a line saying why (smoke mode never builds them), still runs
//! Hornet, and lists the skipped peers under the table and in the JSON.

mod common;

use std::process::Command;

use common::{hornet_binary, run_bounded, scratch_dir};

#[test]
fn missing_peers_are_skipped_in_smoke_mode() {
    let hornet = hornet_binary();
    let scratch = scratch_dir("peers");
    let empty = scratch.join("no-peers");
    std::fs::create_dir_all(&empty).expect("empty peers dir");
    let json = scratch.join("results.json");
    let (ok, stdout, stderr) = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_hornet-bench"))
            .args([
                "compare",
                "--smoke",
                "--only",
                "hornet,rumqttd,rmqtt",
                "--scenarios",
                "fanin-q1",
                "--hornet",
            ])
            .arg(&hornet)
            .arg("--peers-dir")
            .arg(&empty)
            .arg("--json-out")
            .arg(&json)
            .arg("--work-dir")
            .arg(scratch.join("work")),
        &scratch,
    );
    assert!(ok, "compare failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    for peer in ["rumqttd", "RMQTT"] {
        let line = format!("{peer} skipped: no ");
        assert!(stderr.contains(&line), "{line} in\n{stderr}");
        assert!(stdout.contains(&format!("- {line}")), "{line} in\n{stdout}");
    }
    assert!(stderr.contains("--smoke never builds peers"), "{stderr}");
    // Nothing was built into the empty directory.
    assert!(!empty.join("bin").exists());
    // Only Hornet ran: one column, no ratio.
    assert!(
        stdout.contains("| scenario | figure | better | Hornet |\n"),
        "{stdout}"
    );
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("results.json"))
            .expect("valid JSON");
    let skipped = results["skipped"].as_array().expect("skipped");
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    let runs = results["runs"].as_array().expect("runs");
    assert!(!runs.is_empty() && runs.iter().all(|r| r["broker"] == "hornet"));
    let _ = std::fs::remove_dir_all(&scratch);
}
