//! The last minutes of broker figures, sampled every few seconds by a task
//! of the admin listener, so the dashboard's chart has history as soon as
//! the page opens: `GET /api/v1/broker/history`.
//!
//! A quiet broker is not sampled: once a sample equals the one before (no
//! traffic, the same clients), the task sleeps until the core next gets
//! input (`Shared::activity`), so an idle broker makes no wake-ups. The
//! chart then shows the quiet stretch as one interval of zero rates.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State as AxumState;
use axum::Json;
use serde::Serialize;

use super::State;
use crate::server::Shared;

/// How often a sample is taken.
pub(crate) const EVERY: Duration = Duration::from_secs(5);
/// How many samples are kept (10 minutes).
const KEEP: usize = 120;

#[derive(Debug, Clone, Copy)]
struct Sample {
    at_ms: u64,
    received: u64,
    sent: u64,
    bytes_in: u64,
    bytes_out: u64,
    clients: usize,
}

/// The samples, oldest first.
#[derive(Debug, Default)]
pub(crate) struct History {
    samples: Mutex<VecDeque<Sample>>,
}

/// One point of the answer: rates over the interval ending at `t`.
#[derive(Debug, Serialize)]
pub(crate) struct Point {
    /// Unix time in milliseconds.
    t: u64,
    publish_received_per_s: f64,
    publish_sent_per_s: f64,
    bytes_received_per_s: f64,
    bytes_sent_per_s: f64,
    clients_connected: usize,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl History {
    /// Takes a sample; true when it equals the previous one (nothing
    /// happened in between).
    fn take(&self, shared: &Shared) -> bool {
        let (s, clients) =
            shared.with_core(|core| (core.stats().clone(), core.clients_connected()));
        let sample = Sample {
            at_ms: now_ms(),
            received: s.publish_received,
            sent: s.publish_sent,
            bytes_in: s.bytes_received,
            bytes_out: s.bytes_sent,
            clients,
        };
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let quiet = samples.back().is_some_and(|last| {
            (
                last.received,
                last.sent,
                last.bytes_in,
                last.bytes_out,
                last.clients,
            ) == (
                s.publish_received,
                s.publish_sent,
                s.bytes_received,
                s.bytes_sent,
                clients,
            )
        });
        if samples.len() == KEEP {
            samples.pop_front();
        }
        samples.push_back(sample);
        quiet
    }

    fn points(&self) -> Vec<Point> {
        let samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        samples
            .iter()
            .zip(samples.iter().skip(1))
            .map(|(a, b)| {
                let secs = (b.at_ms.saturating_sub(a.at_ms)).max(1) as f64 / 1000.0;
                let rate = |x: u64, y: u64| y.saturating_sub(x) as f64 / secs;
                Point {
                    t: b.at_ms,
                    publish_received_per_s: rate(a.received, b.received),
                    publish_sent_per_s: rate(a.sent, b.sent),
                    bytes_received_per_s: rate(a.bytes_in, b.bytes_in),
                    bytes_sent_per_s: rate(a.bytes_out, b.bytes_out),
                    clients_connected: b.clients,
                }
            })
            .collect()
    }
}

/// Samples every [`EVERY`] while anything happens, until aborted.
pub(crate) async fn sample(history: Arc<History>, shared: Arc<Shared>) {
    let mut interval = tokio::time::interval(EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if history.take(&shared) {
            shared.activity.wait().await;
            // The first sample of the new stretch closes the quiet one.
            history.take(&shared);
            interval.reset();
        }
    }
}

/// `GET /api/v1/broker/history`
pub(crate) async fn history(AxumState(state): AxumState<State>) -> Json<Vec<Point>> {
    Json(state.history.points())
}
