//! MQTT over TLS: the `tls` listener with certificates made in the test
//! (rcgen), driven by Mosquitto's own clients (`mosquitto_pub` /
//! `mosquitto_sub` with `--cafile`, `--cert`, `--key`), by a rustls client
//! on hornet-codec, and by the `hornet` binary for what only its log shows
//! (the user name a client certificate gives, SIGHUP reloads); idle TLS
//! connections parked (`server/park.rs`) and brought back.
//!
//! Hornet-only: the broker is configured with listeners the Mosquitto run
//! of the suite does not set up.

mod common;
#[path = "support/process.rs"]
mod process;
#[path = "support/transports.rs"]
mod transports;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::TIMEOUT;
use hornet::config::{CertIdentity, ListenerKind, Tls, TlsVersion};
use hornet_codec::{Ack, Packet, PacketId, Publish, QoS, ReasonCode, Subscribe};
use process::Proc;
use tokio_rustls::rustls;
use transports::{connack_code, connect, listener, tls_connect, Broker, Mqtt, Pki};

const INSTALL: &str = "the Debian package mosquitto-clients (`apt-get install mosquitto-clients`)";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A rustls client connects, negotiates ALPN `mqtt` and TLS 1.3, and gets
/// CONNACK 0 over TLS; a TLS 1.2 client is served too.
#[test]
fn rustls_client_connects_over_tls_12_and_13() {
    if common::hornet_only() {
        return;
    }
    let pki = Pki::new();
    let broker = Broker::start(vec![listener(ListenerKind::Tls, Some(pki.tls()))], "");
    let addr = broker.addr(0);
    runtime().block_on(async {
        let stream = tls_connect(addr, pki.client_config(None)).await.unwrap();
        let (_, conn) = stream.get_ref();
        assert_eq!(conn.alpn_protocol(), Some(&b"mqtt"[..]));
        assert_eq!(
            conn.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_3)
        );
        let (mut client, answer) = Mqtt::connect(stream, connect("tls13")).await;
        assert_eq!(connack_code(answer), ReasonCode::Success);
        client.send(Packet::PingReq).await;
        assert_eq!(client.recv().await, Some(Packet::PingResp));

        let tls12 = transports::client_config(&pki.ca_file, None, Some(&[&rustls::version::TLS12]));
        let stream = tls_connect(addr, tls12).await.unwrap();
        assert_eq!(
            stream.get_ref().1.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_2)
        );
        let (_, answer) = Mqtt::connect(stream, connect("tls12")).await;
        assert_eq!(connack_code(answer), ReasonCode::Success);
    });
    let stats = &broker.server().listener_stats()[0];
    assert_eq!(stats.accepted, 2);
    assert_eq!(stats.failed_handshakes, 0);
}

/// `tls_version tlsv1.3` refuses a TLS 1.2 client in the handshake (and
/// counts it); plain MQTT bytes on a TLS port are a failed handshake too.
#[test]
fn tls13_only_listener_refuses_tls12_and_plain_mqtt() {
    if common::hornet_only() {
        return;
    }
    let pki = Pki::new();
    let tls = Tls {
        min_version: TlsVersion::V1_3,
        ..pki.tls()
    };
    let broker = Broker::start(vec![listener(ListenerKind::Tls, Some(tls))], "");
    let addr = broker.addr(0);
    runtime().block_on(async {
        let tls12 = transports::client_config(&pki.ca_file, None, Some(&[&rustls::version::TLS12]));
        assert!(tls_connect(addr, tls12).await.is_err());
        // Plain MQTT on the TLS port: a TLS alert (record type 21) at most,
        // never a CONNACK (0x20), then the close.
        let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
        let client = Mqtt::new(&mut plain, hornet_codec::Protocol::V3_1_1);
        let bytes = client.encode(connect("plain").into());
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        plain.write_all(&bytes).await.unwrap();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(TIMEOUT, plain.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "the broker closes the connection");
        assert!(
            answer.first().is_none_or(|&b| b == 21),
            "no MQTT answer to plain MQTT on a TLS port: {answer:?}"
        );
    });
    let deadline = Instant::now() + TIMEOUT;
    while broker.server().listener_stats()[0].failed_handshakes < 2 {
        assert!(Instant::now() < deadline, "two failed handshakes counted");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `mosquitto_sub --cafile` and `mosquitto_pub --cafile` exchange a
/// message over the TLS listener: [MQTT-3.3.1-9], [MQTT-3.8.4-6].
#[test]
fn mosquitto_clients_with_cafile() {
    if common::hornet_only() {
        return;
    }
    process::require("mosquitto_sub", INSTALL);
    let pki = Pki::new();
    let broker = Broker::start(vec![listener(ListenerKind::Tls, Some(pki.tls()))], "");
    let port = broker.port(0).to_string();
    let ca = pki.ca_file.to_str().unwrap().to_string();
    let mut sub = Proc::spawn(
        "mosquitto_sub --cafile",
        Command::new("stdbuf").args([
            "-oL",
            "mosquitto_sub",
            "-h",
            "localhost",
            "-p",
            &port,
            "--cafile",
            &ca,
            "-t",
            "tls/#",
            "-C",
            "1",
            "-v",
            "-d",
        ]),
        INSTALL,
    );
    sub.wait_line(TIMEOUT, "SUBACK", |l| l.starts_with("Subscribed (mid:"));
    Proc::spawn(
        "mosquitto_pub --cafile",
        Command::new("mosquitto_pub").args([
            "-h",
            "localhost",
            "-p",
            &port,
            "--cafile",
            &ca,
            "-t",
            "tls/a",
            "-m",
            "secret",
        ]),
        INSTALL,
    )
    .expect_success(TIMEOUT);
    sub.wait_line(TIMEOUT, "the message", |l| l == "tls/a secret");
    sub.expect_success(TIMEOUT);
}

/// `require_certificate`: `mosquitto_pub --cert --key` with a certificate
/// from the CA is let in (and, with `use_identity_as_username`, needs no
/// password even where anonymous clients are refused); without a
/// certificate, or with one from another CA, the handshake fails.
#[test]
fn client_certificates_are_required_and_verified() {
    if common::hornet_only() {
        return;
    }
    process::require("mosquitto_pub", INSTALL);
    let mut pki = Pki::new();
    let (cert, key) = pki.client("device-7");
    let mut other = Pki::new_named("Another CA");
    let (bad_cert, bad_key) = other.client("intruder");
    let tls = Tls {
        identity: CertIdentity::CommonName,
        ..pki.tls_mutual()
    };
    let mut tls_listener = listener(ListenerKind::Tls, Some(tls));
    tls_listener.allow_anonymous = Some(hornet::config::AllowAnonymous::Never);
    let broker = Broker::start(vec![listener(ListenerKind::Tcp, None), tls_listener], "");
    let tcp_port = broker.port(0).to_string();
    let port = broker.port(1).to_string();
    let ca = pki.ca_file.to_str().unwrap().to_string();

    let mut sub = Proc::spawn(
        "mosquitto_sub (tcp)",
        Command::new("stdbuf").args([
            "-oL",
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            &tcp_port,
            "-t",
            "certs/#",
            "-C",
            "1",
            "-v",
            "-d",
        ]),
        INSTALL,
    );
    sub.wait_line(TIMEOUT, "SUBACK", |l| l.starts_with("Subscribed (mid:"));

    let publish = |name: &str, extra: &[&str]| {
        let mut cmd = Command::new("mosquitto_pub");
        cmd.args(["-h", "localhost", "-p", &port, "--cafile", &ca])
            .args(extra)
            .args(["-t", "certs/x", "-m", name]);
        let mut p = Proc::spawn(name, &mut cmd, INSTALL);
        let status = p.wait_exit(TIMEOUT);
        (status.success(), p.output())
    };
    let (ok, out) = publish("no-cert", &[]);
    assert!(!ok, "a client without a certificate is refused: {out}");
    let (ok, out) = publish(
        "other-ca",
        &[
            "--cert",
            bad_cert.to_str().unwrap(),
            "--key",
            bad_key.to_str().unwrap(),
        ],
    );
    assert!(!ok, "a certificate from another CA is refused: {out}");
    let (ok, out) = publish(
        "with-cert",
        &[
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    );
    assert!(ok, "the CA's client certificate is accepted: {out}");
    sub.wait_line(TIMEOUT, "the message", |l| l == "certs/x with-cert");
    assert!(
        !sub.output().contains("no-cert") && !sub.output().contains("other-ca"),
        "{}",
        sub.output()
    );
    let stats = &broker.server().listener_stats()[1];
    assert!(stats.failed_handshakes >= 2, "{stats:?}");

    // The same through rustls: no certificate, no session.
    runtime().block_on(async {
        let addr = broker.addr(1);
        let refused = match tls_connect(addr, pki.client_config(None)).await {
            // TLS 1.3: the refusal arrives after the client's handshake ends.
            Ok(stream) => Mqtt::connect(stream, connect("nocert")).await.1.is_none(),
            Err(_) => true,
        };
        assert!(refused, "no CONNACK without a client certificate");
        let stream = tls_connect(addr, pki.client_config(Some((&cert, &key))))
            .await
            .unwrap();
        let (_, answer) = Mqtt::connect(stream, connect("withcert")).await;
        assert_eq!(connack_code(answer), ReasonCode::Success);
    });
}

/// Reload: new connections get the new certificate, an established
/// connection goes on; a bad new certificate keeps the old one and the
/// error names the file. Also the file watcher: replacing the files is
/// enough.
#[test]
fn certificates_reload_without_dropping_clients() {
    if common::hornet_only() {
        return;
    }
    let old = Pki::new_named("Old CA");
    let new = Pki::new_named("New CA");
    // The broker reads its own copies, which the test replaces.
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("server.crt");
    let key = dir.path().join("server.key");
    std::fs::copy(&old.cert_file, &cert).unwrap();
    std::fs::copy(&old.key_file, &key).unwrap();
    let broker = Broker::start(
        vec![listener(ListenerKind::Tls, Some(Tls::new(&cert, &key)))],
        "",
    );
    let addr = broker.addr(0);
    let rt = runtime();
    rt.block_on(async {
        let stream = tls_connect(addr, old.client_config(None)).await.unwrap();
        let (mut established, answer) = Mqtt::connect(stream, connect("established")).await;
        assert_eq!(connack_code(answer), ReasonCode::Success);
        assert!(tls_connect(addr, new.client_config(None)).await.is_err());

        // A bad certificate: refused, the old one stays.
        std::fs::write(
            &cert,
            "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = broker.server().reload_tls().unwrap_err();
        assert!(
            err.contains("server.crt"),
            "the error names the file: {err}"
        );
        let stream = tls_connect(addr, old.client_config(None)).await.unwrap();
        let (_, answer) = Mqtt::connect(stream, connect("still-old")).await;
        assert_eq!(connack_code(answer), ReasonCode::Success);

        // The new pair via reload_tls (what SIGHUP calls).
        std::fs::copy(&new.cert_file, &cert).unwrap();
        std::fs::copy(&new.key_file, &key).unwrap();
        broker.server().reload_tls().unwrap();
        let stream = tls_connect(addr, new.client_config(None)).await.unwrap();
        let (_, answer) = Mqtt::connect(stream, connect("new")).await;
        assert_eq!(connack_code(answer), ReasonCode::Success);
        assert!(tls_connect(addr, old.client_config(None)).await.is_err());

        // The connection made before both reloads still works.
        established.send(Packet::PingReq).await;
        assert_eq!(established.recv().await, Some(Packet::PingResp));

        // Back to the old pair by replacing the files only: the watcher
        // notices (inotify on the files' directory).
        std::fs::copy(&old.cert_file, &cert).unwrap();
        std::fs::copy(&old.key_file, &key).unwrap();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if tls_connect(addr, old.client_config(None)).await.is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the watcher reloads changed files"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        established.send(Packet::PingReq).await;
        assert_eq!(established.recv().await, Some(Packet::PingResp));
    });
}

/// The `hornet` binary process and its stderr lines.
struct HornetProcess {
    child: std::process::Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl HornetProcess {
    fn start(config: &std::path::Path) -> HornetProcess {
        // Its data directory (./data) next to the config, not in the repo.
        let mut child = Command::new(env!("CARGO_BIN_EXE_hornet"))
            .arg("-c")
            .arg(config)
            .current_dir(config.parent().expect("the config's directory"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the hornet binary");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        HornetProcess {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a log line containing every one of `parts`; returns it.
    fn expect(&mut self, parts: &[&str]) -> String {
        if let Some(line) = self
            .seen
            .iter()
            .find(|l| parts.iter().all(|p| l.contains(p)))
        {
            return line.clone();
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if parts.iter().all(|p| line.contains(p)) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no log line with {parts:?} within {TIMEOUT:?}; log:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for HornetProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary with TLS listeners from a TOML file: the banner shows each
/// listener's kind and TLS mode; a client certificate's CN
/// (`use_identity_as_username`) or subject (`use_subject_as_username`)
/// is the user name in the connection log line, as in Mosquitto; on
/// SIGHUP a broken certificate is refused, logged with its file, and the
/// old one kept.
#[test]
fn binary_logs_certificate_user_names_and_sighup_reloads() {
    if common::hornet_only() {
        return;
    }
    process::require("mosquitto_pub", INSTALL);
    let mut pki = Pki::new();
    let (cert, key) = pki.client("device-7");
    let ports = [common::free_port(), common::free_port()];
    let dir = tempfile::tempdir().unwrap();
    let server_cert = dir.path().join("server.crt");
    std::fs::copy(&pki.cert_file, &server_cert).unwrap();
    let toml = format!(
        r#"
[[listener]]
kind = "tls"
port = {}
bind_address = "127.0.0.1"
certfile = "{}"
keyfile = "{}"
cafile = "{}"
require_certificate = true
use_identity_as_username = true

[[listener]]
kind = "tls"
port = {}
bind_address = "127.0.0.1"
certfile = "{}"
keyfile = "{}"
cafile = "{}"
require_certificate = true
use_subject_as_username = true
"#,
        ports[0],
        server_cert.display(),
        pki.key_file.display(),
        pki.ca_file.display(),
        ports[1],
        server_cert.display(),
        pki.key_file.display(),
        pki.ca_file.display(),
    );
    let config = dir.path().join("hornet.toml");
    std::fs::write(&config, toml).unwrap();
    let mut hornet = HornetProcess::start(&config);
    hornet.expect(&[
        "Opening MQTT over TLS (tls) listener on 127.0.0.1:",
        "client certificate required, its CN is the user name",
    ]);
    hornet.expect(&["client certificate required, its subject is the user name"]);

    let ca = pki.ca_file.to_str().unwrap().to_string();
    for (port, id) in [(ports[0], "by-cn"), (ports[1], "by-subject")] {
        Proc::spawn(
            id,
            Command::new("mosquitto_pub").args([
                "-h",
                "localhost",
                "-p",
                &port.to_string(),
                "--cafile",
                &ca,
                "--cert",
                cert.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
                "-i",
                id,
                "-u",
                "ignored-user",
                "-P",
                "ignored-password",
                "-t",
                "t",
                "-m",
                "x",
            ]),
            INSTALL,
        )
        .expect_success(TIMEOUT);
    }
    hornet.expect(&["New client connected", "as by-cn", "u'device-7'"]);
    hornet.expect(&[
        "New client connected",
        "as by-subject",
        "u'CN=device-7,O=Hornet Tests'",
    ]);

    // SIGHUP with a broken certificate: logged with the file, old one kept.
    std::fs::write(&server_cert, "garbage\n").unwrap();
    let status = Command::new("kill")
        .args(["-HUP", &hornet.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    hornet.expect(&["SIGHUP received"]);
    hornet.expect(&[
        "keeping the previous ones",
        "server.crt",
        "holds no certificate",
    ]);
    Proc::spawn(
        "after-sighup",
        Command::new("mosquitto_pub").args([
            "-h",
            "localhost",
            "-p",
            &ports[0].to_string(),
            "--cafile",
            &ca,
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "-t",
            "t",
            "-m",
            "x",
        ]),
        INSTALL,
    )
    .expect_success(TIMEOUT);
}

/// Idle TLS connections park with their rustls state (their task ends
/// and their socket is watched with the others', `server/park.rs`) and
/// come back for a QoS 1 message ([MQTT-4.3.2-1]) and its PUBACK, a
/// PINGREQ ([MQTT-3.12.4-1]), and the server's shutdown, which closes
/// them. Each step first waits (bounded) until they are parked.
#[test]
fn idle_tls_connections_park_and_come_back() {
    if common::hornet_only() {
        return;
    }
    const N: usize = 20;
    let pki = Pki::new();
    let mut broker = Broker::start(vec![listener(ListenerKind::Tls, Some(pki.tls()))], "");
    let addr = broker.addr(0);
    let rt = runtime();
    let mut subs = rt.block_on(async {
        let mut subs = Vec::new();
        for i in 0..N {
            let stream = tls_connect(addr, pki.client_config(None)).await.unwrap();
            let (mut client, answer) =
                Mqtt::connect(stream, connect(&format!("tls-parked-{i}"))).await;
            assert_eq!(connack_code(answer), ReasonCode::Success);
            let id = PacketId::new(1).unwrap();
            client
                .send(Subscribe::new(id, "park/tls", QoS::AtLeastOnce).into())
                .await;
            assert!(matches!(client.recv().await, Some(Packet::SubAck(_))));
            subs.push(client);
        }
        broker.wait_parked(N).await;
        let (_, unparked_before) = broker.server().parked_connections();

        let stream = tls_connect(addr, pki.client_config(None)).await.unwrap();
        let (mut publisher, answer) = Mqtt::connect(stream, connect("tls-parked-pub")).await;
        assert_eq!(connack_code(answer), ReasonCode::Success);
        let mut p = Publish::new("park/tls", Bytes::from_static(b"to the parked"));
        p.qos = QoS::AtLeastOnce;
        p.packet_id = PacketId::new(7);
        publisher.send(p.into()).await;
        assert!(matches!(publisher.recv().await, Some(Packet::PubAck(_))));
        for (i, client) in subs.iter_mut().enumerate() {
            match client.recv().await {
                Some(Packet::Publish(p)) => {
                    assert_eq!(&p.payload[..], b"to the parked", "subscriber {i}");
                    client
                        .send(Packet::PubAck(Ack::new(p.packet_id.unwrap())))
                        .await;
                }
                other => panic!("subscriber {i}: expected the PUBLISH, got {other:?}"),
            }
        }
        let (_, unparked) = broker.server().parked_connections();
        assert!(
            unparked >= unparked_before + N,
            "every subscriber was brought back ({unparked_before} → {unparked})"
        );

        broker.wait_parked(N).await;
        for client in subs.iter_mut() {
            client.send(Packet::PingReq).await;
        }
        for (i, client) in subs.iter_mut().enumerate() {
            assert_eq!(
                client.recv().await,
                Some(Packet::PingResp),
                "subscriber {i}"
            );
        }
        broker.wait_parked(N).await;
        subs
    });
    broker.stop_server();
    rt.block_on(async {
        for (i, client) in subs.iter_mut().enumerate() {
            assert_eq!(
                client.recv().await,
                None,
                "subscriber {i}: closed at shutdown"
            );
        }
    });
}
