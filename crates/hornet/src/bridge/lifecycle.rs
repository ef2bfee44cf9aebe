//! What decides when a bridge connects and disconnects, apart from
//! failures: the stop signal of a reload (SIGHUP) or of the server, the
//! `start_type` (`automatic`, `lazy` with `threshold` and `idle_timeout`,
//! `once`), and, with `round_robin false`, the watch on the main address
//! while connected to another one. The task (`task.rs`) asks; this file
//! answers.

use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::bridge::StartType;
use crate::config::Bridge;

/// The receiving end of a bridge's stop signal.
pub(crate) struct Stop(watch::Receiver<bool>);

/// The sending end: [`Stopper::stop`] asks the bridge to stop cleanly.
pub(crate) struct Stopper(watch::Sender<bool>);

/// A new stop signal.
pub(crate) fn stop_signal() -> (Stopper, Stop) {
    let (tx, rx) = watch::channel(false);
    (Stopper(tx), Stop(rx))
}

impl Stopper {
    /// Asks the bridge to stop (it disconnects cleanly, publishes its `0`
    /// and closes its local side).
    pub(crate) fn stop(&self) {
        let _ = self.0.send(true);
    }
}

impl Stop {
    /// Returns once a stop is asked; never when the sender is gone without
    /// asking (the server aborts its tasks then).
    pub(crate) async fn requested(&mut self) {
        if self.0.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Whether a bridge should connect now, by its `start_type`, given the
/// messages waiting for the remote and whether it has connected before.
pub(crate) fn wants_connection(bridge: &Bridge, queued: usize) -> bool {
    match bridge.start_type {
        StartType::Automatic | StartType::Once => true,
        // Mosquitto: "the number of queued messages reaches threshold".
        StartType::Lazy => queued >= bridge.threshold.max(1) as usize,
    }
}

/// Whether a bridge reconnects after a connection (or every attempt at
/// one) ended: `once` never does.
pub(crate) fn reconnects(bridge: &Bridge) -> bool {
    bridge.start_type != StartType::Once
}

/// When a lazy bridge, connected and with nothing to send since
/// `last_out`, disconnects; `None` for other start types.
pub(crate) fn idle_deadline(bridge: &Bridge, last_out: Instant) -> Option<Instant> {
    (bridge.start_type == StartType::Lazy)
        .then(|| last_out + Duration::from_secs(bridge.idle_timeout.max(1)))
}

/// How often the main address is tried while connected to another one
/// (`round_robin false`): `restart_timeout`'s base, at least one second
/// (Mosquitto retries its main address on a timer of its own, 5 s; the
/// base is 5 s by default).
pub(crate) fn primary_interval(bridge: &Bridge) -> Duration {
    Duration::from_secs(bridge.restart_base.max(1))
}

/// While connected to a backup address: a task that tries a TCP
/// connection to the main address every [`primary_interval`] and reports
/// the first that succeeds. Aborted when dropped.
pub(crate) struct PrimaryWatch {
    task: JoinHandle<()>,
    up: oneshot::Receiver<()>,
}

impl PrimaryWatch {
    /// Starts watching `host:port` every `every`.
    pub(crate) fn start(host: String, port: u16, every: Duration) -> PrimaryWatch {
        let (tx, up) = oneshot::channel();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let attempt = tokio::net::TcpStream::connect((host.as_str(), port));
                if let Ok(Ok(stream)) = tokio::time::timeout(PROBE_TIMEOUT, attempt).await {
                    drop(stream);
                    let _ = tx.send(());
                    return;
                }
            }
        });
        PrimaryWatch { task, up }
    }

    /// Returns once the main address took a connection.
    pub(crate) async fn back(&mut self) {
        if (&mut self.up).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// How long one probe of the main address may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

impl Drop for PrimaryWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits for the watch's report, or forever without a watch.
pub(crate) async fn primary_back(watch: &mut Option<PrimaryWatch>) {
    match watch {
        Some(w) => w.back().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn bridge(start: &str) -> Bridge {
        let mut b = Bridge::new("b1", PathBuf::from("m.conf"), 1);
        b.set("start_type", &[start], 2).unwrap();
        b
    }

    #[test]
    fn lazy_connects_at_the_threshold() {
        let mut b = bridge("lazy");
        assert!(!wants_connection(&b, 9));
        assert!(
            wants_connection(&b, 10),
            "Mosquitto's default threshold is 10"
        );
        b.set("threshold", &["3"], 3).unwrap();
        assert!(!wants_connection(&b, 2) && wants_connection(&b, 3));
        assert!(wants_connection(&bridge("automatic"), 0));
        assert!(wants_connection(&bridge("once"), 0));
    }

    #[test]
    fn only_lazy_bridges_go_idle_and_once_never_reconnects() {
        let now = Instant::now();
        let mut b = bridge("lazy");
        b.set("idle_timeout", &["2"], 3).unwrap();
        assert_eq!(idle_deadline(&b, now), Some(now + Duration::from_secs(2)));
        assert_eq!(idle_deadline(&bridge("automatic"), now), None);
        assert!(!reconnects(&bridge("once")) && reconnects(&b));
    }

    #[tokio::test]
    async fn the_watch_reports_the_main_address_once_it_listens() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let mut watch = Some(PrimaryWatch::start(
            "127.0.0.1".into(),
            port,
            Duration::from_millis(50),
        ));
        let early = tokio::time::timeout(Duration::from_millis(300), primary_back(&mut watch));
        assert!(early.await.is_err(), "nothing listens yet");
        let _listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), primary_back(&mut watch))
            .await
            .expect("the main address is back");
    }
}
