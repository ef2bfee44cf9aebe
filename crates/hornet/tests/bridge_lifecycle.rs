//! The outgoing bridges' lifecycle against real Mosquitto remotes (issue
//! 19): reload by SIGHUP (an unchanged bridge keeps its connection, an
//! added one starts, a removed one stops with its `0`, a changed one
//! reconnects with its new settings, a broken file keeps the bridges and
//! names file and line; SIGTERM stops them cleanly), `start_type lazy` (`threshold`, `idle_timeout`),
//! `start_type once`, and `round_robin false` returning to the main
//! address.
//!
//! Hornet only (bridges from Hornet). Waits are on packets and log lines,
//! each bounded; the few checks that something does NOT happen wait a
//! bounded quiet time.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/process.rs"]
mod process;
#[path = "support/remote.rs"]
mod remote;
#[path = "support/site.rs"]
mod site;

use std::process::Command;
use std::time::{Duration, Instant};

use codec_client::Raw;
use common::{TestBroker, TIMEOUT};
use hornet_codec::{Packet, Protocol, Publish};
use process::Proc;
use remote::{client, next_publish, publish, publish_qos1, subscribe, wait_for, Remote};

const V311: Protocol = Protocol::V3_1_1;

fn state(remote_clientid: &str) -> String {
    format!("$SYS/broker/connection/{remote_clientid}/state")
}

/// A bridge `name` to `port` carrying local `x/#` to remote `prefix` +
/// `x/#`, its remote client id `hornet-<name>`.
fn bridge(name: &str, port: u16, prefix: &str, extra: &str) -> String {
    format!(
        "connection {name}\naddress 127.0.0.1:{port}\nremote_clientid hornet-{name}\n\
         restart_timeout 1\ncleansession true\ntopic x/# out 1 \"\" {prefix}\n{extra}"
    )
}

fn hup(hornet: &Proc) {
    let status = Command::new("kill")
        .args(["-HUP", &hornet.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

/// Publishes `x/<tag>` (QoS 0) from `near` until `far` receives it on
/// `expect`; returns what else `far` received meanwhile.
fn bridged(near: &mut Raw, far: &mut Raw, tag: &str, expect: &str) -> Vec<Publish> {
    let deadline = Instant::now() + TIMEOUT;
    let mut others = Vec::new();
    while Instant::now() < deadline {
        publish(near, &format!("x/{tag}"), tag);
        while let Ok(Some(p)) = far.recv_within(Duration::from_millis(200)) {
            if let Packet::Publish(p) = p {
                if p.topic == expect {
                    return others;
                }
                others.push(p);
            }
        }
    }
    panic!("nothing on {expect} within {TIMEOUT:?}; saw {others:?}");
}

/// Everything `c` receives within `quiet` (a bounded check that nothing
/// more comes).
fn quiet(c: &mut Raw, quiet: Duration) -> Vec<Publish> {
    let end = Instant::now() + quiet;
    let mut got = Vec::new();
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match c.recv_within(left) {
            Ok(Some(Packet::Publish(p))) => got.push(p),
            Ok(Some(_)) => {}
            Ok(None) | Err(()) => break,
        }
    }
    got
}

fn count(hornet: &Proc, text: &str) -> usize {
    hornet
        .transcript
        .iter()
        .filter(|l| l.contains(text))
        .count()
}

#[test]
fn sighup_adds_removes_and_changes_bridges_and_keeps_the_others() {
    if common::hornet_only() {
        return;
    }
    let remote = Remote::start("");
    let mut far = client(remote.port, "far", V311, true);
    let (state_a, state_b) = (state("hornet-a"), state("hornet-b"));
    subscribe(&mut far, &["a/#", "b/#", "b2/#", &state_a, &state_b]);

    let site = site::Site::new();
    let base = std::fs::read_to_string(site.conf()).unwrap();
    let write = |bridges: &str| std::fs::write(site.conf(), format!("{base}{bridges}")).unwrap();
    write(&bridge("a", remote.port, "a/", ""));
    let mut hornet = site.start();
    wait_for(&mut far, &state_a, "1");
    let mut near = client(site.port, "near", V311, true);
    bridged(&mut near, &mut far, "1", "a/x/1");

    // A unchanged, B added: A's connection stays (no new CONNECT, no new
    // notification), B bridges.
    write(&format!(
        "{}{}",
        bridge("a", remote.port, "a/", ""),
        bridge("b", remote.port, "b/", "")
    ));
    hup(&hornet);
    let line = hornet.wait_line(TIMEOUT, "the reload", |l| l.contains("Bridges reloaded"));
    assert!(
        line.contains("1 kept") && line.contains("1 added"),
        "{line}"
    );
    let seen = wait_for(&mut far, &state_b, "1");
    assert!(
        seen.iter().all(|p| p.topic != state_a),
        "A's state changed: {seen:?}"
    );
    let seen = bridged(&mut near, &mut far, "2", "b/x/2");
    assert!(
        seen.iter().all(|p| p.topic != state_a),
        "A's state changed: {seen:?}"
    );
    publish_qos1(&mut near, "x/3", "3", 3);
    let mut got: Vec<String> = Vec::new();
    while !(got.contains(&"a/x/3".to_string()) && got.contains(&"b/x/3".to_string())) {
        let p = next_publish(&mut far);
        assert_ne!(p.topic, state_a, "A reconnected");
        got.push(p.topic.to_string());
    }
    assert_eq!(
        count(&hornet, "Connecting bridge a ("),
        1,
        "{}",
        hornet.output()
    );
    assert_eq!(
        count(&hornet, "bridge a is unchanged"),
        1,
        "{}",
        hornet.output()
    );

    // A removed: it publishes its 0 on the remote (and locally) and its
    // messages stop; B goes on.
    write(&bridge("b", remote.port, "b/", ""));
    hup(&hornet);
    wait_for(&mut far, &state_a, "0");
    hornet.wait_line(TIMEOUT, "A's stop", |l| l.contains("Bridge a stopped."));
    let mut local_state = client(site.port, "local-state", V311, true);
    subscribe(&mut local_state, &[&state_a]);
    let retained = next_publish(&mut local_state);
    assert!(
        retained.topic == state_a && &retained.payload[..] == b"0" && retained.retain,
        "{retained:?}"
    );
    publish_qos1(&mut near, "x/4", "4", 4);
    let seen = wait_for(&mut far, "b/x/4", "4");
    let mut after = quiet(&mut far, Duration::from_millis(500));
    after.extend(seen);
    assert!(
        after.iter().all(|p| !p.topic.starts_with("a/")),
        "A still bridges: {after:?}"
    );

    // B changed (another remote prefix): it reconnects with it.
    write(&bridge("b", remote.port, "b2/", ""));
    hup(&hornet);
    hornet.wait_line(TIMEOUT, "B's change", |l| {
        l.contains("bridge b changed; it reconnects with the new settings")
    });
    bridged(&mut near, &mut far, "5", "b2/x/5");

    // A file with an error: the bridges stay, the log names file and line.
    let good = format!("{base}{}", bridge("b", remote.port, "b2/", ""));
    let broken_line = good.lines().count() + 2;
    std::fs::write(
        site.conf(),
        format!("{good}connection c\nrestart_timeout soon\n"),
    )
    .unwrap();
    hup(&hornet);
    let line = hornet.wait_line(TIMEOUT, "the reload error", |l| {
        l.contains("the bridges stay as they are")
    });
    assert!(
        line.contains(&format!("hornet.conf:{broken_line}: ")) && line.contains("restart_timeout"),
        "{line}"
    );
    bridged(&mut near, &mut far, "6", "b2/x/6");
    assert_eq!(count(&hornet, "Connecting bridge c"), 0);

    // SIGTERM: the bridges stop cleanly (their 0, DISCONNECT) before the
    // broker's last line.
    let status = Command::new("kill")
        .args(["-TERM", &hornet.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    wait_for(&mut far, &state_b, "0");
    hornet.wait_line(TIMEOUT, "B's stop", |l| l.contains("Bridge b stopped."));
    hornet.wait_line(TIMEOUT, "the last line", |l| l.contains("terminating"));
}

#[test]
fn lazy_bridge_connects_at_its_threshold_and_leaves_when_idle() {
    if common::hornet_only() {
        return;
    }
    let remote = Remote::start("");
    let mut far = client(remote.port, "far", V311, true);
    let state_l = state("hornet-l");
    subscribe(&mut far, &["l/#", &state_l]);
    let hornet = TestBroker::with_conf(&bridge(
        "l",
        remote.port,
        "l/",
        "start_type lazy\nthreshold 3\nidle_timeout 1\n",
    ));
    let mut near = client(hornet.port(), "near", V311, true);
    // The local side is up (subscribed) once it published its state.
    let mut watch = client(hornet.port(), "watch", V311, true);
    subscribe(&mut watch, &[&state_l]);
    wait_for(&mut watch, &state_l, "0");

    for round in 0..2u16 {
        // Below the threshold nothing goes.
        publish_qos1(&mut near, "x/a", &format!("{round}a"), 1);
        publish_qos1(&mut near, "x/b", &format!("{round}b"), 2);
        let early = quiet(&mut far, Duration::from_millis(700));
        assert!(early.is_empty(), "round {round}: sent early: {early:?}");
        assert!(!hornet.bridges()[0].connected);
        // The third message starts the connection; all three arrive in order.
        publish_qos1(&mut near, "x/c", &format!("{round}c"), 3);
        let mut got = Vec::new();
        while got.len() < 3 {
            let p = next_publish(&mut far);
            if p.topic.starts_with("l/") {
                got.push(String::from_utf8(p.payload.to_vec()).unwrap());
            }
        }
        assert_eq!(
            got,
            ["a", "b", "c"].map(|s| format!("{round}{s}")),
            "round {round}"
        );
        wait_for(&mut watch, &state_l, "1");
        // Idle for idle_timeout (1 s): it disconnects, with its 0 on both sides.
        wait_for(&mut far, &state_l, "0");
        wait_for(&mut watch, &state_l, "0");
        assert!(!hornet.bridges()[0].connected);
    }
}

#[test]
fn once_bridge_never_reconnects() {
    if common::hornet_only() {
        return;
    }
    let mut remote = Remote::start("");
    let mut far = client(remote.port, "far", V311, true);
    let state_o = state("hornet-o");
    subscribe(&mut far, &["o/#", &state_o]);
    let hornet = TestBroker::with_conf(&bridge("o", remote.port, "o/", "start_type once\n"));
    wait_for(&mut far, &state_o, "1");
    let mut near = client(hornet.port(), "near", V311, true);
    bridged(&mut near, &mut far, "1", "o/x/1");
    drop(far);
    remote.restart();
    // An automatic bridge would be back within restart_timeout (1 s).
    let mut far = client(remote.port, "far", V311, true);
    subscribe(&mut far, &["o/#", &state_o]);
    publish(&mut near, "x/2", "2");
    // Only the retained state of before may arrive (with RETAIN set, as
    // for a new subscription [MQTT-3.3.1-8]): nothing live from the bridge.
    let after = quiet(&mut far, Duration::from_secs(3));
    assert!(
        after.iter().all(|p| p.topic == state_o && p.retain),
        "the once bridge came back: {after:?}"
    );
    let [b] = &hornet.bridges()[..] else { panic!() };
    assert!(!b.connected && b.reconnects == 0, "{b:?}");
}

#[test]
fn round_robin_false_returns_to_the_main_address() {
    if common::hornet_only() {
        return;
    }
    let mut main = Remote::start("");
    let backup = Remote::start("");
    let state_r = state("hornet-r");
    let conf = format!(
        "connection r\naddress 127.0.0.1:{} 127.0.0.1:{}\nround_robin false\n\
         remote_clientid hornet-r\nrestart_timeout 1\ncleansession true\ntopic x/# out 1 \"\" r/\n",
        main.port, backup.port
    );
    let mut on_main = client(main.port, "far-main", V311, true);
    subscribe(&mut on_main, &["r/#", &state_r]);
    let hornet = TestBroker::with_conf(&conf);
    wait_for(&mut on_main, &state_r, "1");
    let mut near = client(hornet.port(), "near", V311, true);
    bridged(&mut near, &mut on_main, "1", "r/x/1");

    // The main one goes: the bridge moves to the backup.
    let mut on_backup = client(backup.port, "far-backup", V311, true);
    subscribe(&mut on_backup, &["r/#", &state_r]);
    drop(on_main);
    main.stop();
    wait_for(&mut on_backup, &state_r, "1");
    bridged(&mut near, &mut on_backup, "2", "r/x/2");

    // The main one returns: the bridge leaves the backup (its 0 there)
    // and goes back to it.
    main.restart();
    let mut on_main = client(main.port, "far-main", V311, true);
    subscribe(&mut on_main, &["r/#"]);
    wait_for(&mut on_backup, &state_r, "0");
    bridged(&mut near, &mut on_main, "3", "r/x/3");
    let [b] = &hornet.bridges()[..] else { panic!() };
    assert_eq!(b.address, format!("127.0.0.1:{}", main.port), "{b:?}");
    assert!(b.connected, "{b:?}");
}
