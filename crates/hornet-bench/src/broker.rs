//! Starting and stopping a broker for `compare`: a free loopback port, the
//! one `mosquitto.conf` both brokers read, a bounded wait until the port
//! accepts, SIGTERM (then SIGKILL after a bound) at the end.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
}

impl Kind {
    /// The lowercase name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Hornet => "hornet",
            Kind::Mosquitto => "mosquitto",
        }
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
    "max_inflight_messages 64",
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

/// A free TCP port on 127.0.0.1 (bound, then released).
pub(crate) fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

/// A running broker.
#[derive(Debug)]
pub(crate) struct Running {
    child: Child,
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
    /// Its process id.
    pub(crate) pid: u32,
    /// Its log file.
    pub(crate) log: PathBuf,
}

/// Starts `binary` on a free port with the shared configuration written to
/// `dir/<tag>.conf`, logging to `dir/<tag>.log`, and waits until it accepts.
pub(crate) async fn start(
    binary: &Path,
    dir: &Path,
    tag: &str,
    extra: &[&str],
) -> Result<Running, String> {
    let port = free_port()?;
    let conf = dir.join(format!("{tag}.conf"));
    let log = dir.join(format!("{tag}.log"));
    let mut text = conf_text(port);
    let data = dir.join(format!("{tag}-data"));
    for line in extra {
        if line.contains("{data}") {
            std::fs::create_dir_all(&data)
                .map_err(|e| format!("creating {}: {e}", data.display()))?;
            // Mosquitto wants the trailing slash.
            text.push_str(&line.replace("{data}", &format!("{}/", data.display())));
        } else {
            text.push_str(line);
        }
        text.push('\n');
    }
    std::fs::write(&conf, text).map_err(|e| format!("writing {}: {e}", conf.display()))?;
    let out = File::create(&log).map_err(|e| format!("creating {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let child = Command::new(binary)
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", binary.display()))?;
    let mut running = Running {
        pid: child.id(),
        child,
        port,
        log,
    };
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = running.child.try_wait() {
            return Err(format!(
                "{} exited ({status}) before accepting; {}",
                binary.display(),
                log_tail(&running.log)
            ));
        }
        let attempt = tokio::net::TcpStream::connect(("127.0.0.1", port));
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(500), attempt).await {
            return Ok(running);
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

impl Running {
    /// True while the process has not exited.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, up to [`STOP_TIMEOUT`] to exit, then SIGKILL.
    pub(crate) fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "hornet-bench: broker {} ignored SIGTERM for {STOP_TIMEOUT:?}, killing it",
            self.pid
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
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
        assert_ne!(free_port().unwrap(), 0);
    }
}
