//! An outgoing bridge over TLS with a client certificate, to a real
//! Mosquitto that requires one (`bridge_cafile`, `bridge_certfile`,
//! `bridge_keyfile`); and a remote whose certificate the bridge's CA did
//! not sign is refused, logged and retried, never bridged in the clear.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/process.rs"]
mod process;
#[path = "support/remote.rs"]
mod remote;
#[path = "support/transports.rs"]
mod transports;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::{TestBroker, TIMEOUT};
use hornet_codec::Protocol;
use remote::{client, next_publish, publish_qos1, subscribe, wait_for, Remote};
use transports::Pki;

const STATE: &str = "$SYS/broker/connection/hornet-b1/state";

/// A Mosquitto with a TLS listener requiring client certificates of
/// `pki` (its `port`) and a plain one for the test's clients (returned).
fn tls_remote(pki: &Pki) -> (Remote, u16) {
    // Mosquitto, started as root, reads the files as its own user.
    std::fs::set_permissions(pki.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for entry in std::fs::read_dir(pki.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let plain = common::free_port();
    let remote = Remote::start(&format!(
        "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n\
         listener {plain} 127.0.0.1\n",
        pki.ca_file.display(),
        pki.cert_file.display(),
        pki.key_file.display()
    ));
    (remote, plain)
}

fn bridge_conf(
    port: u16,
    ca: &std::path::Path,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> String {
    format!(
        "connection b1\naddress 127.0.0.1:{port}\nremote_clientid hornet-b1\n\
         restart_timeout 1\ncleansession true\nbridge_cafile {}\nbridge_certfile {}\n\
         bridge_keyfile {}\ntopic sensors/# out 1 \"\" edge/\n",
        ca.display(),
        cert.display(),
        key.display()
    )
}

#[test]
fn over_tls_with_a_client_certificate() {
    let mut pki = Pki::new();
    let (cert, key) = pki.client("hornet-bridge");
    let (remote, plain) = tls_remote(&pki);
    let mut far = client(plain, "far", Protocol::V3_1_1, true);
    subscribe(&mut far, &["edge/#", STATE]);
    let hornet = TestBroker::with_conf(&bridge_conf(remote.port, &pki.ca_file, &cert, &key));
    wait_for(&mut far, STATE, "1");
    let mut near = client(hornet.port(), "near", Protocol::V3_1_1, true);
    for n in 1..=5u16 {
        publish_qos1(&mut near, "sensors/t", &n.to_string(), n);
    }
    for n in 1..=5u16 {
        let p = next_publish(&mut far);
        assert_eq!(
            (p.topic.as_ref(), &p.payload[..]),
            ("edge/sensors/t", n.to_string().as_bytes())
        );
    }
}

#[test]
fn a_remote_certificate_from_another_ca_is_refused() {
    let mut pki = Pki::new();
    let (cert, key) = pki.client("hornet-bridge");
    let other = Pki::new_named("Another CA");
    let (remote, _plain) = tls_remote(&pki);
    let hornet = TestBroker::with_conf(&bridge_conf(remote.port, &other.ca_file, &cert, &key));
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let b = hornet.bridges().remove(0);
        if let Some(e) = &b.last_error {
            assert!(e.contains("TLS error"), "{b:?}");
            assert!(!b.connected);
            break;
        }
        assert!(Instant::now() < deadline, "no TLS error: {b:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
