//! An outgoing bridge over TLS-PSK (`bridge_identity`, `bridge_psk`, as
//! Mosquitto defines them) to a real Mosquitto PSK listener (`psk_hint`,
//! `psk_file`): TLS 1.3 by default and TLS 1.2 with `bridge_tls_version`,
//! messages and notifications crossing; and a wrong key is a handshake
//! failure that costs a log line and a `restart_timeout` wait each time,
//! never a connection in the clear or a hot loop.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/process.rs"]
mod process;
#[path = "support/remote.rs"]
mod remote;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{TestBroker, TIMEOUT};
use hornet_codec::Protocol;
use remote::{client, next_publish, publish_qos1, subscribe, Remote};

const KEY_1: &str = "deadbeef0123456789abcdef";
const KEY_2: &str = "00112233445566778899aabbccddeeff";

/// A Mosquitto with a TLS-PSK listener (its port, returned) knowing
/// `hornet-b1` and `hornet-b2`, besides the plain one for the test's
/// clients (`remote.port`).
fn psk_remote(dir: &tempfile::TempDir) -> (Remote, u16) {
    let file = dir.path().join("psk");
    std::fs::write(&file, format!("hornet-b1:{KEY_1}\nhornet-b2:{KEY_2}\n")).unwrap();
    // Mosquitto, started as root, reads the file as its own user.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let psk_port = common::free_port();
    let remote = Remote::start(&format!(
        "listener {psk_port} 127.0.0.1\npsk_hint hornet-remote\npsk_file {}\n",
        file.display()
    ));
    common::wait_for_port(([127, 0, 0, 1], psk_port).into());
    (remote, psk_port)
}

fn bridge(name: &str, port: u16, key: &str, extra: &str) -> String {
    format!(
        "connection {name}\naddress 127.0.0.1:{port}\nremote_clientid hornet-{name}\n\
         restart_timeout 1\ncleansession true\nbridge_identity hornet-{name}\n\
         bridge_psk {key}\ntopic sensors/# out 1 \"\" {name}/\n{extra}"
    )
}

#[test]
fn over_tls_psk_to_a_mosquitto_psk_listener() {
    let dir = tempfile::tempdir().unwrap();
    let (remote, psk_port) = psk_remote(&dir);
    let mut far = client(remote.port, "far", Protocol::V3_1_1, true);
    let states = [
        "$SYS/broker/connection/hornet-b1/state",
        "$SYS/broker/connection/hornet-b2/state",
    ];
    subscribe(&mut far, &["b1/#", "b2/#", states[0], states[1]]);
    let hornet = TestBroker::with_conf(&format!(
        "{}{}",
        bridge("b1", psk_port, KEY_1, ""),
        bridge("b2", psk_port, KEY_2, "bridge_tls_version tlsv1.2\n")
    ));
    // Both bridges announce themselves, in either order.
    let mut up = Vec::new();
    while up.len() < states.len() {
        let p = next_publish(&mut far);
        if states.contains(&p.topic.as_ref()) && &p.payload[..] == b"1" {
            up.push(p.topic.to_string());
        }
    }
    assert!(hornet.bridges().iter().all(|b| b.connected));
    let mut near = client(hornet.port(), "near", Protocol::V3_1_1, true);
    for n in 1..=3u16 {
        publish_qos1(&mut near, "sensors/t", &n.to_string(), n);
    }
    let mut got: Vec<(String, String)> = (0..6)
        .map(|_| {
            let p = next_publish(&mut far);
            (
                p.topic.to_string(),
                String::from_utf8_lossy(&p.payload).into_owned(),
            )
        })
        .collect();
    got.sort();
    let mut want = Vec::new();
    for name in ["b1", "b2"] {
        for n in 1..=3 {
            want.push((format!("{name}/sensors/t"), n.to_string()));
        }
    }
    assert_eq!(got, want);
}

#[test]
fn a_wrong_key_is_logged_and_retried_after_restart_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (_remote, psk_port) = psk_remote(&dir);
    let conf = dir.path().join("hornet.conf");
    let listen = common::free_port();
    std::fs::write(
        &conf,
        format!(
            "listener {listen} 127.0.0.1\nallow_anonymous true\npersistence false\n\
             admin_enabled false\n{}",
            bridge("b1", psk_port, "0badc0de", "")
        ),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hornet"));
    cmd.current_dir(dir.path()).arg("-c").arg(&conf);
    let mut proc = process::Proc::spawn("hornet", &mut cmd, "cargo build -p hornet");
    let failed = |l: &str| {
        l.contains(&format!("Bridge b1 (127.0.0.1:{psk_port}): "))
            && l.contains("TLS-PSK handshake failed")
            && l.contains("reconnecting in 1 s")
    };
    proc.wait_line(TIMEOUT, "the handshake failure", failed);
    let first = Instant::now();
    proc.wait_line(TIMEOUT, "the retry's failure", failed);
    // A wait of restart_timeout (1 s) between attempts, not a hot loop.
    assert!(
        first.elapsed() >= Duration::from_millis(800),
        "retried after {:?}",
        first.elapsed()
    );
    // The broker serves its clients all along.
    let _c = client(listen, "still-here", Protocol::V5, true);
}
