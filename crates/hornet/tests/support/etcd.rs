//! A real etcd for the cluster tests (`cluster.rs`, `cluster_sessions.rs`):
//! one or more members from the Debian `etcd-server` on ephemeral ports,
//! their data on tmpfs (`/dev/shm`), short heartbeats and elections so
//! leases fit in short tests, killed on drop. Without `/usr/bin/etcd` the
//! tests print why and pass, except under CI (`CI` set), where they fail.

#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common;
use crate::process::Proc;

/// The etcd server binary (Debian `etcd-server`).
pub const ETCD: &str = "/usr/bin/etcd";
/// Its command-line client (Debian `etcd-client`).
pub const ETCDCTL: &str = "/usr/bin/etcdctl";

/// etcd members on ephemeral ports, their data on tmpfs.
pub struct Etcd {
    /// The members, in start order.
    pub members: Vec<Proc>,
    /// Their client URLs, in the same order.
    pub urls: Vec<String>,
    _data: Vec<tempfile::TempDir>,
}

impl Etcd {
    /// Starts an etcd of `n` members, or `None` (with the reason printed)
    /// when it is not installed outside CI.
    pub fn start(n: usize) -> Option<Etcd> {
        Etcd::start_on((0..n).map(|_| common::free_port()).collect())
    }

    /// Starts an etcd with one member per client port of `client_ports`.
    pub fn start_on(client_ports: Vec<u16>) -> Option<Etcd> {
        if !Path::new(ETCD).exists() {
            if std::env::var_os("CI").is_some() {
                panic!("{ETCD} is missing: CI must install etcd-server (scripts/test.sh)");
            }
            eprintln!("SKIPPED: {ETCD} is not installed (apt-get install etcd-server)");
            return None;
        }
        let ports: Vec<(u16, u16)> = client_ports
            .into_iter()
            .map(|client| (client, common::free_port()))
            .collect();
        let initial: Vec<String> = ports
            .iter()
            .enumerate()
            .map(|(i, (_, peer))| format!("e{i}=http://127.0.0.1:{peer}"))
            .collect();
        let initial = initial.join(",");
        let (mut members, mut urls, mut data) = (Vec::new(), Vec::new(), Vec::new());
        for (i, (client, peer)) in ports.iter().enumerate() {
            let shm = Path::new("/dev/shm");
            let dir = if shm.is_dir() {
                tempfile::Builder::new()
                    .prefix("hornet-etcd-")
                    .tempdir_in(shm)
            } else {
                tempfile::tempdir()
            }
            .expect("a data directory for etcd");
            let url = format!("http://127.0.0.1:{client}");
            let peer = format!("http://127.0.0.1:{peer}");
            let mut cmd = Command::new(ETCD);
            cmd.args(["--name", &format!("e{i}"), "--data-dir"])
                .arg(dir.path())
                .args([
                    "--listen-client-urls",
                    &url,
                    "--advertise-client-urls",
                    &url,
                ])
                .args([
                    "--listen-peer-urls",
                    &peer,
                    "--initial-advertise-peer-urls",
                    &peer,
                ])
                .args(["--initial-cluster", &initial])
                .args(["--initial-cluster-state", "new"])
                .args(["--heartbeat-interval", "100", "--election-timeout", "1000"]);
            members.push(Proc::spawn(
                &format!("etcd-e{i}"),
                &mut cmd,
                "apt-get install etcd-server",
            ));
            urls.push(url);
            data.push(dir);
        }
        for m in &mut members {
            m.wait_line(Duration::from_secs(30), "etcd ready", |l| {
                l.contains("ready to serve client requests")
            });
        }
        Some(Etcd {
            members,
            urls,
            _data: data,
        })
    }

    /// The first member's client URL (all of them for a one-member etcd).
    pub fn url(&self) -> &str {
        &self.urls[0]
    }

    /// `etcdctl get key --print-value-only` (empty when absent).
    pub fn get(&self, key: &str) -> String {
        let out = Command::new(ETCDCTL)
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.urls.join(",")])
            .args(["get", key, "--print-value-only"])
            .output()
            .expect("etcdctl");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}
