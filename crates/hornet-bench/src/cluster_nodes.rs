//! The processes of the `cluster` command: one etcd member (Debian
//! `etcd`, data on tmpfs, ephemeral ports, short heartbeats) and Hornet
//! nodes started from a TOML configuration, with a `[cluster]` table or
//! without one (the single-node baseline, otherwise the same file), each
//! stopped with SIGTERM (a cluster node then revokes its lease) on drop.
//! Also the route wait: a node's `/metrics` read until it counts the
//! filters another node announced.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long etcd or a node may take to serve.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A free loopback port (released at once; the caller binds it soon).
pub(crate) fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

/// A child process stopped with SIGTERM (then SIGKILL) on drop.
#[derive(Debug)]
pub(crate) struct Process {
    child: Child,
    /// Its process id.
    pub(crate) pid: u32,
    /// Where its output goes.
    pub(crate) log: PathBuf,
}

impl Process {
    fn spawn(cmd: &mut Command, log: &Path) -> Result<Process, String> {
        let out = File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("starting {:?}: {e}", cmd.get_program()))?;
        Ok(Process {
            pid: child.id(),
            child,
            log: log.to_path_buf(),
        })
    }

    /// True while it has not exited.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits until its log has a line containing `needle` (bounded).
    async fn wait_log(&mut self, needle: &str, what: &str) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if text.contains(needle) {
                return Ok(());
            }
            if !self.alive() || Instant::now() > deadline {
                return Err(format!(
                    "{what} did not log {needle:?} (log {}: {})",
                    self.log.display(),
                    tail(&text)
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, up to five seconds to exit, then SIGKILL.
    pub(crate) fn stop(&mut self) {
        crate::broker::terminate(&mut self.child, "cluster process");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

/// One etcd member on ephemeral ports, its data under `/dev/shm`.
pub(crate) struct Etcd {
    /// The process.
    pub(crate) process: Process,
    /// Its client URL.
    pub(crate) url: String,
    data: PathBuf,
}

impl Etcd {
    /// Starts `binary` and waits until it serves clients.
    pub(crate) async fn start(binary: &Path, work: &Path) -> Result<Etcd, String> {
        let (client, peer) = (free_port()?, free_port()?);
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() { shm } else { work };
        let data = base.join(format!("hornet-bench-etcd-{}-{client}", std::process::id()));
        let url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let mut cmd = Command::new(binary);
        cmd.args(["--name", "e0", "--data-dir"])
            .arg(&data)
            .args([
                "--listen-client-urls",
                &url,
                "--advertise-client-urls",
                &url,
            ])
            .args([
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ])
            .args(["--initial-cluster", &format!("e0={peer_url}")])
            .args(["--initial-cluster-state", "new"])
            .args(["--heartbeat-interval", "100", "--election-timeout", "1000"]);
        let mut process = Process::spawn(&mut cmd, &work.join("etcd.log"))?;
        process
            .wait_log("ready to serve client requests", "etcd")
            .await?;
        Ok(Etcd { process, url, data })
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.process.stop();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// The cluster a node joins.
#[derive(Debug, Clone)]
pub(crate) struct Membership {
    /// The cluster's name (a fresh one per run: no stale keys).
    pub(crate) cluster: String,
    /// This node's name.
    pub(crate) node: String,
    /// The etcd client URL.
    pub(crate) etcd: String,
}

/// A running Hornet node.
pub(crate) struct Node {
    /// The process.
    pub(crate) process: Process,
    /// Its MQTT port on 127.0.0.1.
    pub(crate) port: u16,
    /// Its admin (HTTP) port on 127.0.0.1.
    pub(crate) admin: u16,
}

/// The node's `hornet.toml`: the limits `compare` gives every broker
/// (deep queues, no connection limit, no `$SYS`, no persistence), the
/// admin listener on loopback, and `[cluster]` when it is a member.
pub(crate) fn config(port: u16, admin: u16, link: u16, member: Option<&Membership>) -> String {
    let mut text = format!(
        "# written by hornet-bench cluster\n\
         allow_anonymous = true\npersistence = false\nsys_interval = 0\n\
         [[listener]]\nport = {port}\nbind_address = \"127.0.0.1\"\n\
         [limits]\nmax_inflight_messages = 1000\nmax_queued_messages = 1000000\n\
         max_queued_bytes = 0\n\
         [log]\nconnection_messages = false\n\
         [admin]\nport = {admin}\n"
    );
    if let Some(m) = member {
        text.push_str(&format!(
            "[cluster]\nname = \"{}\"\nnode = \"{}\"\netcd = [\"{}\"]\n\
             listen = \"127.0.0.1:{link}\"\nlease_ttl = 10\n",
            m.cluster, m.node, m.etcd
        ));
    }
    text
}

impl Node {
    /// Starts `binary` with [`config`] written to `work/<tag>.toml` and
    /// waits until it listens on its MQTT and admin ports (and, as a
    /// member, has joined).
    pub(crate) async fn start(
        binary: &Path,
        work: &Path,
        tag: &str,
        member: Option<&Membership>,
    ) -> Result<Node, String> {
        let (port, admin, link) = (free_port()?, free_port()?, free_port()?);
        let conf = work.join(format!("{tag}.toml"));
        std::fs::write(&conf, config(port, admin, link, member))
            .map_err(|e| format!("writing {}: {e}", conf.display()))?;
        let mut cmd = Command::new(binary);
        cmd.arg("-c").arg(&conf).current_dir(work);
        let mut process = Process::spawn(&mut cmd, &work.join(format!("{tag}.log")))?;
        if member.is_some() {
            process.wait_log("Cluster: joined", tag).await?;
        }
        // Both the MQTT and the admin listener: the admin one may come up
        // a moment after the first (the benches read `/metrics` at once).
        let deadline = Instant::now() + START_TIMEOUT;
        for listening in [port, admin] {
            while tokio::net::TcpStream::connect(("127.0.0.1", listening))
                .await
                .is_err()
            {
                if !process.alive() || Instant::now() > deadline {
                    return Err(format!(
                        "{tag} never accepted on port {listening} (log {})",
                        process.log.display()
                    ));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok(Node {
            process,
            port,
            admin,
        })
    }

    /// The node's `/metrics` text.
    pub(crate) async fn metrics(&self) -> Result<String, String> {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.admin))
            .await
            .map_err(|e| format!("admin port: {e}"))?;
        let req = format!(
            "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.admin
        );
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| format!("admin port: {e}"))?;
        let mut body = String::new();
        s.read_to_string(&mut body)
            .await
            .map_err(|e| format!("admin port: {e}"))?;
        Ok(body)
    }

    /// Waits (bounded) until this node's `family{node="<other>"}` is at
    /// least `n` for every node of `others`.
    async fn wait_metric(&self, family: &str, others: &[&str], n: u64) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let text = self.metrics().await?;
            if others
                .iter()
                .all(|o| node_metric(&text, family, o).is_some_and(|v| v >= n))
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{family} of {others:?} never reached {n} within {START_TIMEOUT:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits (bounded) until this node counts at least `n` filters
    /// announced by node `other`.
    pub(crate) async fn wait_routes(&self, other: &str, n: u64) -> Result<(), String> {
        self.wait_metric("hornet_cluster_node_routes", &[other], n)
            .await
    }

    /// Waits (bounded) until this node's links to `others` are up.
    pub(crate) async fn wait_links(&self, others: &[&str]) -> Result<(), String> {
        self.wait_metric("hornet_cluster_link_up", others, 1).await
    }
}

/// The value of `family{node="<node>"}` in a Prometheus text exposition.
pub(crate) fn node_metric(metrics: &str, family: &str, node: &str) -> Option<u64> {
    let label = format!("node=\"{node}\"");
    let prefix = format!("{family}{{");
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .filter_map(|l| l.split_once('}'))
        .find(|(labels, _)| labels.split(',').any(|kv| kv.trim() == label))
        .and_then(|(_, value)| value.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_of_one_node_among_several() {
        let text = "# HELP hornet_cluster_node_routes Topic filters the node announced.\n\
                    # TYPE hornet_cluster_node_routes gauge\n\
                    hornet_cluster_node_routes{node=\"n10\"} 7\n\
                    hornet_cluster_node_routes{cluster=\"x\",node=\"n1\"} 3\n\
                    hornet_cluster_node_routes_total{node=\"n1\"} 99\n";
        let routes = |t, n| node_metric(t, "hornet_cluster_node_routes", n);
        assert_eq!(routes(text, "n1"), Some(3));
        assert_eq!(routes(text, "n10"), Some(7));
        assert_eq!(routes(text, "n2"), None);
        assert_eq!(routes("", "n1"), None);
        assert_eq!(node_metric(text, "hornet_cluster_node", "n1"), None);
    }

    #[test]
    fn the_cluster_table_only_for_members() {
        let single = config(1, 2, 3, None);
        assert!(!single.contains("[cluster]"));
        let m = Membership {
            cluster: "c".into(),
            node: "n1".into(),
            etcd: "http://127.0.0.1:9".into(),
        };
        let member = config(1, 2, 3, Some(&m));
        // Everything else is the same file.
        assert!(member.starts_with(&single));
        assert!(member.contains("node = \"n1\"\n"));
        assert!(member.contains("listen = \"127.0.0.1:3\"\n"));
        // Both parse as TOML.
        for text in [single, member] {
            text.parse::<toml::Table>().unwrap();
        }
    }
}
