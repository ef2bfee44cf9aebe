//! An idle broker sleeps (issue 17, "time from the core"): the shell arms
//! one timer at the core's next deadline, so with `sys_interval 0`, a
//! connected client without keep-alive, persistence and the admin listener
//! on, no thread of the broker wakes at all. (A client with a keep-alive
//! gives the core a deadline; tokio's timer wheel then wakes a few times
//! as that deadline comes closer, not on a period.) Before this the
//! shell ticked every 100 ms and the dashboard's sampler every 5 s: about
//! 95 context switches in 5 s.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/process.rs"]
mod process;

use std::process::Command;
use std::time::Duration;

use codec_client::Raw;
use hornet_codec::{Connect, Protocol};
use process::Proc;

/// Voluntary and involuntary context switches of every thread of `pid`.
fn context_switches(pid: u32) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the broker's threads");
    let mut sum = 0;
    for task in tasks.flatten() {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue; // a thread that just ended
        };
        for line in status.lines() {
            if line.contains("ctxt_switches:") {
                sum += line
                    .split_whitespace()
                    .last()
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    sum
}

#[test]
fn an_idle_broker_makes_no_wake_ups() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let admin = common::free_port();
    let conf = dir.path().join("hornet.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
             persistence_location {}\nadmin_listener {admin} 127.0.0.1\nsys_interval 0\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hornet"));
    cmd.arg("-c").arg(&conf).current_dir(dir.path());
    let mut proc = Proc::spawn("hornet", &mut cmd, "cargo build -p hornet");
    proc.wait_line(Duration::from_secs(20), "the listener", |l| {
        l.contains("Opening MQTT listener")
    });
    let mut connect = Connect::new(Protocol::V3_1_1, "idle-client");
    connect.keep_alive = 0;
    let mut client = Raw::connect_to(([127, 0, 0, 1], port).into(), connect);
    assert!(
        matches!(client.recv(), Some(hornet_codec::Packet::ConnAck(_))),
        "CONNACK"
    );

    // The sleep is the behaviour under test. Startup settles first: the
    // connection's CONNECT deadline (10 s) stays armed until it passes,
    // tokio ends a blocking-pool thread after 10 s without work, and the
    // dashboard's sampler takes one more sample after the CONNECT before
    // it sleeps.
    std::thread::sleep(Duration::from_secs(11));
    let before = context_switches(proc.pid());
    std::thread::sleep(Duration::from_secs(5));
    let woke = context_switches(proc.pid()) - before;
    assert_eq!(
        woke,
        0,
        "an idle broker woke {woke} times in 5 s; output:\n{}",
        proc.output()
    );
}
