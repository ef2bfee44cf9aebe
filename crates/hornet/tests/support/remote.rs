//! What the outgoing bridge tests share: a real Mosquitto as the remote
//! (an ephemeral port, a generated mosquitto.conf, stopped on drop and
//! restartable on the same port), and small MQTT clients that acknowledge
//! what they receive.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use hornet_codec::{Ack, Connect, Packet, PacketId, Protocol, Publish, QoS, Subscribe};

use crate::codec_client::Raw;
use crate::common::{self, TIMEOUT};
use crate::process::{self, Proc};

pub const INSTALL: &str = "the Debian package mosquitto (see .ci/run)";

/// A Mosquitto remote.
pub struct Remote {
    pub port: u16,
    conf: PathBuf,
    proc: Option<Proc>,
    _dir: tempfile::TempDir,
}

impl Remote {
    /// Starts Mosquitto on a free port with `extra` configuration lines
    /// (persistence in its own directory).
    pub fn start(extra: &str) -> Remote {
        process::require("mosquitto", INSTALL);
        let dir = tempfile::tempdir().unwrap();
        // Started as root, Mosquitto drops to its own user: the directory
        // must be its to write its store in.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let port = common::free_port();
        let conf = dir.path().join("remote.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
                 persistence_location {}/\n{extra}\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let mut remote = Remote {
            port,
            conf,
            proc: None,
            _dir: dir,
        };
        remote.run();
        remote
    }

    fn run(&mut self) {
        let mut cmd = Command::new("mosquitto");
        cmd.arg("-c").arg(&self.conf);
        self.proc = Some(Proc::spawn("remote mosquitto", &mut cmd, INSTALL));
        common::wait_for_port(([127, 0, 0, 1], self.port).into());
    }

    /// Stops it with SIGTERM (Mosquitto saves its sessions) and waits.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            let status = Command::new("kill")
                .arg("-TERM")
                .arg(p.pid().to_string())
                .status()
                .unwrap();
            assert!(status.success());
            p.wait_exit(TIMEOUT);
        }
    }

    /// Kills it with SIGKILL (Mosquitto keeps only what its last autosave
    /// wrote) and starts it again on the same port.
    pub fn kill_and_restart(&mut self) {
        drop(self.proc.take());
        self.run();
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }
}

/// A client of `port`; `clean` false keeps its session.
pub fn client(port: u16, id: &str, protocol: Protocol, clean: bool) -> Raw {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let mut connect = Connect::new(protocol, id);
        connect.clean_start = clean;
        if !clean && protocol.is_v5() {
            connect
                .properties
                .push(hornet_codec::Property::SessionExpiryInterval(3600));
        }
        let addr = ([127, 0, 0, 1], port).into();
        if std::net::TcpStream::connect(addr).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        let mut c = Raw::connect_to(addr, connect);
        match c.recv() {
            Some(Packet::ConnAck(a)) if !a.reason_code.is_error() => return c,
            other => panic!("CONNACK of {id}: {other:?}"),
        }
    }
}

pub fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

/// Subscribes to each filter at QoS 1.
pub fn subscribe(c: &mut Raw, filters: &[&str]) {
    for (i, f) in filters.iter().enumerate() {
        c.send(Subscribe::new(pid(i as u16 + 1), *f, QoS::AtLeastOnce).into());
        loop {
            match c.recv() {
                Some(Packet::SubAck(_)) => break,
                Some(Packet::Publish(p)) => ack(c, &p),
                other => panic!("SUBACK: {other:?}"),
            }
        }
    }
}

fn ack(c: &mut Raw, p: &Publish) {
    if let (QoS::AtLeastOnce, Some(id)) = (p.qos, p.packet_id) {
        c.send(Packet::PubAck(Ack::new(id)));
    }
}

/// Publishes at QoS 1 with packet id `n` and waits for its PUBACK
/// (acknowledging whatever arrives meanwhile).
pub fn publish_qos1(c: &mut Raw, topic: &str, payload: &str, n: u16) {
    let mut p = Publish::new(topic, payload.to_string());
    p.qos = QoS::AtLeastOnce;
    p.packet_id = Some(pid(n));
    c.send(p.into());
    loop {
        match c.recv() {
            Some(Packet::PubAck(a)) if a.packet_id == pid(n) => return,
            Some(Packet::Publish(p)) => ack(c, &p),
            Some(_) => {}
            None => panic!("closed before PUBACK {n}"),
        }
    }
}

/// Publishes at QoS 0.
pub fn publish(c: &mut Raw, topic: &str, payload: &str) {
    c.send(Publish::new(topic, payload.to_string()).into());
}

/// The next PUBLISH (acknowledged), within [`TIMEOUT`].
pub fn next_publish(c: &mut Raw) -> Publish {
    loop {
        match c.recv() {
            Some(Packet::Publish(p)) => {
                ack(c, &p);
                return p;
            }
            Some(_) => {}
            None => panic!("closed while waiting for a PUBLISH"),
        }
    }
}

/// Waits for a PUBLISH on `topic` with `payload`; returns the others seen.
pub fn wait_for(c: &mut Raw, topic: &str, payload: &str) -> Vec<Publish> {
    let deadline = Instant::now() + TIMEOUT;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let p = next_publish(c);
        if p.topic == topic && &p.payload[..] == payload.as_bytes() {
            return seen;
        }
        seen.push(p);
    }
    panic!("no {payload:?} on {topic} within {TIMEOUT:?}; saw {seen:?}");
}

/// Publishes `topic` from `from` until `to` receives it (a subscription on
/// the far side may still be on its way); bounded by [`TIMEOUT`].
pub fn until_bridged(from: &mut Raw, to: &mut Raw, topic: &str) {
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        publish(from, topic, "ping");
        while let Ok(Some(p)) = to.recv_within(Duration::from_millis(200)) {
            if matches!(&p, Packet::Publish(m) if m.topic == topic) {
                return;
            }
        }
    }
    panic!("nothing bridged on {topic} within {TIMEOUT:?}");
}
