//! Starting and stopping a broker for `compare`: free loopback ports, its
//! configuration (the one `mosquitto.conf` Hornet and Mosquitto both read,
//! or a peer's own file rendered by [`crate::peers`]: a TCP listener, and
//! with the comparison's certificates a WebSocket, a TLS and a
//! WebSocket-over-TLS listener), a bounded wait until the listeners accept,
//! SIGTERM (then SIGKILL after a bound) at the end.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::pki::Pki;
use crate::transport::Transport;

/// How long a broker may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a broker may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Which broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    /// Hornet.
    Hornet,
    /// Eclipse Mosquitto.
    Mosquitto,
    /// rumqttd (Bytebeam), a peer built with `cargo install`.
    Rumqttd,
    /// RMQTT (`rmqttd`), a peer built with `cargo install`.
    Rmqtt,
}

impl Kind {
    /// Every broker, in table column order.
    pub(crate) const ALL: [Kind; 4] = [Kind::Hornet, Kind::Mosquitto, Kind::Rumqttd, Kind::Rmqtt];

    /// The lowercase name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Hornet => "hornet",
            Kind::Mosquitto => "mosquitto",
            Kind::Rumqttd => "rumqttd",
            Kind::Rmqtt => "rmqtt",
        }
    }

    /// The name as a column heading.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Kind::Hornet => "Hornet",
            Kind::Mosquitto => "Mosquitto",
            Kind::Rumqttd => "rumqttd",
            Kind::Rmqtt => "RMQTT",
        }
    }

    /// True for the brokers Hornet is measured against.
    pub(crate) fn is_peer(self) -> bool {
        self != Kind::Hornet
    }
}

/// The limits both brokers run with, as `mosquitto.conf` lines: queues
/// deep enough that nothing is dropped (ten times the most deliveries the
/// harness lets flooding publishers get ahead by, see `--max-ahead`), the same inflight window, no
/// connection limit, no `$SYS` publishing, no persistence, no per
/// connection log lines. Each broker keeps its own TCP_NODELAY default
/// (Hornet sets it and batches its writes; Mosquitto leaves Nagle on, its
/// default: `set_tcp_nodelay true` halves its throughput here).
pub(crate) const SHARED_SETTINGS: &[&str] = &[
    "allow_anonymous true",
    "persistence false",
    "max_inflight_messages 1000",
    "max_queued_messages 1000000",
    "max_queued_bytes 0",
    "max_connections -1",
    "sys_interval 0",
    "connection_messages false",
];

/// The configuration file for a broker listening on `127.0.0.1:port`.
pub(crate) fn conf_text(port: u16) -> String {
    let mut text = format!("# written by hornet-bench compare; read by Hornet and Mosquitto alike\nlistener {port} 127.0.0.1\n");
    for line in SHARED_SETTINGS {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// The ports of one broker start, one per transport (and one for MQTT 5
/// over TCP, for brokers that serve it on a listener of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ports {
    /// Raw MQTT over TCP.
    pub(crate) tcp: u16,
    /// WebSocket (`protocol websockets`), path `/mqtt`.
    pub(crate) ws: u16,
    /// TLS.
    pub(crate) tls: u16,
    /// WebSocket over TLS.
    pub(crate) wss: u16,
    /// MQTT 5 over TCP where a broker splits protocols (rumqttd); the
    /// others serve both on `tcp`.
    pub(crate) v5: u16,
    /// A port for a broker's own side service (RMQTT's gRPC), kept off its
    /// well-known default.
    pub(crate) aux: u16,
}

impl Ports {
    /// Six free ports.
    pub(crate) fn free() -> Result<Ports, String> {
        // Hold all six while choosing, so they differ.
        let bind = || {
            std::net::TcpListener::bind(("127.0.0.1", 0))
                .map_err(|e| format!("finding a free port: {e}"))
        };
        let held = [bind()?, bind()?, bind()?, bind()?, bind()?, bind()?];
        let port = |i: usize| {
            held[i]
                .local_addr()
                .map(|a| a.port())
                .map_err(|e| format!("finding a free port: {e}"))
        };
        Ok(Ports {
            tcp: port(0)?,
            ws: port(1)?,
            tls: port(2)?,
            wss: port(3)?,
            v5: port(4)?,
            aux: port(5)?,
        })
    }

    /// The port serving `transport`.
    pub(crate) fn of(&self, transport: Transport) -> u16 {
        match transport {
            Transport::Tcp => self.tcp,
            Transport::Ws => self.ws,
            Transport::Tls => self.tls,
            Transport::Wss => self.wss,
        }
    }

    /// The port `kind` serves `transport` and `protocol` on.
    pub(crate) fn target(&self, kind: Kind, transport: Transport, v5: bool) -> u16 {
        if kind == Kind::Rumqttd && v5 && transport == Transport::Tcp {
            self.v5
        } else {
            self.of(transport)
        }
    }
}

/// The listener sections after the TCP one: WebSocket always, TLS and
/// WebSocket over TLS when there are certificates. They come last, after
/// every global line, so nothing else lands in their sections.
pub(crate) fn listener_sections(ports: &Ports, pki: Option<&Pki>) -> String {
    let mut text = format!("listener {} 127.0.0.1\nprotocol websockets\n", ports.ws);
    if let Some(pki) = pki {
        let files = format!(
            "certfile {}\nkeyfile {}\n",
            pki.cert_file.display(),
            pki.key_file.display()
        );
        text.push_str(&format!("listener {} 127.0.0.1\n{files}", ports.tls));
        text.push_str(&format!(
            "listener {} 127.0.0.1\nprotocol websockets\n{files}",
            ports.wss
        ));
    }
    text
}

/// A running broker.
#[derive(Debug)]
pub(crate) struct Running {
    child: Child,
    /// Its ports on 127.0.0.1.
    pub(crate) ports: Ports,
    /// Its process id.
    pub(crate) pid: u32,
    /// Its log file.
    pub(crate) log: PathBuf,
}

/// The `mosquitto.conf` of Hornet and Mosquitto: the shared settings,
/// `extra` (`{data}` replaced by `data`, created) and the listeners.
fn mosquitto_conf(
    ports: &Ports,
    extra: &[&str],
    pki: Option<&Pki>,
    data: &Path,
) -> Result<String, String> {
    let mut text = conf_text(ports.tcp);
    // A `connection` block (the bridge entry) goes last: every line after
    // it belongs to the bridge.
    let split = extra
        .iter()
        .position(|l| l.starts_with("connection "))
        .unwrap_or(extra.len());
    let (extra, bridge) = extra.split_at(split);
    for line in extra {
        if line.contains("{data}") {
            std::fs::create_dir_all(data)
                .map_err(|e| format!("creating {}: {e}", data.display()))?;
            // Mosquitto wants the trailing slash.
            text.push_str(&line.replace("{data}", &format!("{}/", data.display())));
        } else {
            text.push_str(line);
        }
        text.push('\n');
    }
    text.push_str(&listener_sections(ports, pki));
    for line in bridge {
        text.push_str(line);
        text.push('\n');
    }
    Ok(text)
}

/// Starts broker `kind` from `binary` on free ports with its configuration
/// written to `dir/<tag>.conf` (a peer's: `dir/<tag>.toml`), logging to
/// `dir/<tag>.log`, and waits until its TCP listener and the one serving
/// `transport` (and `v5`) accept.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn start(
    kind: Kind,
    binary: &Path,
    dir: &Path,
    tag: &str,
    extra: &[&str],
    pki: Option<&Pki>,
    transport: Transport,
    v5: bool,
) -> Result<Running, String> {
    let ports = Ports::free()?;
    let log = dir.join(format!("{tag}.log"));
    let data = dir.join(format!("{tag}-data"));
    let (conf, text) = match kind {
        Kind::Hornet | Kind::Mosquitto => (
            dir.join(format!("{tag}.conf")),
            mosquitto_conf(&ports, extra, pki, &data)?,
        ),
        Kind::Rumqttd | Kind::Rmqtt => (
            dir.join(format!("{tag}.toml")),
            crate::peers::config(kind, &ports, pki, &data)?,
        ),
    };
    std::fs::write(&conf, text).map_err(|e| format!("writing {}: {e}", conf.display()))?;
    let out = File::create(&log).map_err(|e| format!("creating {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let child = Command::new(binary)
        .args(crate::peers::args(kind, &conf))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", binary.display()))?;
    let mut running = Running {
        pid: child.id(),
        child,
        ports,
        log,
    };
    let mut waiting = vec![ports.tcp];
    let serving = ports.target(kind, transport, v5);
    if serving != ports.tcp {
        waiting.push(serving);
    }
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = running.child.try_wait() {
            return Err(format!(
                "{} exited ({status}) before accepting; {}",
                binary.display(),
                log_tail(&running.log)
            ));
        }
        let port = waiting[0];
        let attempt = tokio::net::TcpStream::connect(("127.0.0.1", port));
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(500), attempt).await {
            waiting.remove(0);
            if waiting.is_empty() {
                return Ok(running);
            }
            continue;
        }
        if Instant::now() >= deadline {
            let tail = log_tail(&running.log);
            running.stop();
            return Err(format!(
                "{} did not accept on port {port} within {START_TIMEOUT:?}; {tail}",
                binary.display()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stops `child` (a broker or a cluster node, named `what` in the line
/// said if it must be killed): SIGTERM, up to [`STOP_TIMEOUT`] to exit,
/// then SIGKILL. Nothing if it has exited already.
pub(crate) fn terminate(child: &mut Child, what: &str) {
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    let pid = child.id();
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("hornet-bench: {what} {pid} ignored SIGTERM for {STOP_TIMEOUT:?}, killing it");
    let _ = child.kill();
    let _ = child.wait();
}

impl Running {
    /// True while the process has not exited.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, up to [`STOP_TIMEOUT`] to exit, then SIGKILL.
    pub(crate) fn stop(&mut self) {
        terminate(&mut self.child, "broker");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.alive() {
            self.stop();
        }
    }
}

/// The last lines of a log, for an error message.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
    format!("log {}: {tail}", log.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_has_the_listener_and_the_shared_limits() {
        let text = conf_text(4242);
        assert!(text.contains("\nlistener 4242 127.0.0.1\n"));
        for key in [
            "allow_anonymous true",
            "persistence false",
            "max_queued_messages 1000000",
            "max_connections -1",
            "sys_interval 0",
        ] {
            assert!(text.lines().any(|l| l == key), "{key}");
        }
        assert!(text
            .lines()
            .all(|l| l.starts_with('#') || l.split_whitespace().count() >= 2));
    }

    #[test]
    fn free_ports_are_nonzero() {
        let p = Ports::free().unwrap();
        let mut all = vec![p.tcp, p.ws, p.tls, p.wss, p.v5, p.aux];
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 6);
        assert_eq!(p.of(Transport::Wss), p.wss);
        // Only rumqttd serves MQTT 5 on a port of its own.
        assert_eq!(p.target(Kind::Rumqttd, Transport::Tcp, true), p.v5);
        assert_eq!(p.target(Kind::Rumqttd, Transport::Tcp, false), p.tcp);
        assert_eq!(p.target(Kind::Hornet, Transport::Tcp, true), p.tcp);
        assert_eq!(p.target(Kind::Rumqttd, Transport::Ws, true), p.ws);
    }

    #[test]
    fn extra_listeners_serve_websocket_and_tls() {
        let ports = Ports {
            tcp: 1,
            ws: 2,
            tls: 3,
            wss: 4,
            v5: 5,
            aux: 6,
        };
        let pki = Pki {
            ca_file: "/d/ca.crt".into(),
            cert_file: "/d/server.crt".into(),
            key_file: "/d/server.key".into(),
        };
        let text = listener_sections(&ports, Some(&pki));
        assert_eq!(
            text,
            "listener 2 127.0.0.1\nprotocol websockets\n\
             listener 3 127.0.0.1\ncertfile /d/server.crt\nkeyfile /d/server.key\n\
             listener 4 127.0.0.1\nprotocol websockets\ncertfile /d/server.crt\nkeyfile /d/server.key\n"
        );
        assert_eq!(
            listener_sections(&ports, None),
            "listener 2 127.0.0.1\nprotocol websockets\n"
        );
    }
}
