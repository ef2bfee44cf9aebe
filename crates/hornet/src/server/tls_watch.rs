//! Reloads TLS listeners' certificates when their files change, without
//! waking the broker while nothing changes.
//!
//! The directories holding each listener's `certfile`, `keyfile`, `cafile`
//! (and its `capath`) are watched with the kernel's file notifications
//! (inotify, through the `notify` crate): certbot and similar tools replace
//! files by renaming or by swapping symlinks in those directories, which a
//! watch on the directory sees and a watch on the old file would not. An
//! event only says "look again": after a short quiet period (files are often
//! written in several steps) each listener compares its files' modification
//! times with those it loaded and reloads if they differ; a failed reload
//! is logged once per change ([`TlsListener::reload`]).
//!
//! Where notifications cannot be had (no inotify instances left, a directory
//! missing at start) the watcher says so in the log and checks the files
//! every [`POLL`] instead, as Hornet did before.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::tls::TlsListener;

/// How often the files are checked when notifications are unavailable.
pub(crate) const POLL: Duration = Duration::from_secs(2);

/// How long the directories must stay quiet before the files are compared.
const SETTLE: Duration = Duration::from_millis(100);

/// Watches `listeners`' files for ever (the task is aborted at shutdown).
pub(crate) async fn run(listeners: Vec<Arc<TlsListener>>) {
    let dirs: BTreeSet<PathBuf> = listeners.iter().flat_map(|l| l.watched_dirs()).collect();
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    // The watcher calls back on its own thread; it must live as long as
    // this task does.
    let watcher = notify::recommended_watcher(move |_event: notify::Result<notify::Event>| {
        let _ = tx.send(());
    })
    .and_then(|mut watcher| {
        for dir in &dirs {
            watcher.watch(dir, RecursiveMode::NonRecursive)?;
        }
        Ok(watcher)
    });
    let _watcher = match watcher {
        Ok(watcher) => watcher,
        Err(e) => {
            tracing::warn!(
                "TLS certificate files: no change notifications ({e}); checking them every {} s instead",
                POLL.as_secs()
            );
            return poll(listeners).await;
        }
    };
    while rx.recv().await.is_some() {
        // Let a burst of events (a file written in parts, a renewal that
        // replaces several files) settle into one check.
        while let Ok(Some(())) = tokio::time::timeout(SETTLE, rx.recv()).await {}
        check(&listeners);
    }
}

/// The fallback: compares modification times every [`POLL`].
async fn poll(listeners: Vec<Arc<TlsListener>>) {
    let mut interval = tokio::time::interval(POLL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        check(&listeners);
    }
}

fn check(listeners: &[Arc<TlsListener>]) {
    for listener in listeners {
        if listener.files_changed() {
            let _ = listener.reload();
        }
    }
}
