//! Runs one message scenario (fanin, fanout, pairs, latency) against a
//! running broker: connect subscribers then publishers, warm up, sample,
//! measure, sample, stop the publishers, let in-flight messages drain
//! (bounded), stop the subscribers and count.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::client::{self, Hello, Target};
use crate::procstat::{self, Proc};
use crate::publisher::{self, DRAIN_TIMEOUT};
use crate::report::{Latency, Report};
use crate::scenario::{self, Params};
use crate::shared::Shared;
use crate::subscriber::{self, Seen};

/// Keep alive of message scenario connections: no PINGREQ within a run.
const KEEP_ALIVE: u16 = 600;

/// A sample of the counters and process figures.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    at: Instant,
    published: u64,
    delivered: u64,
    broker_cpu: Option<f64>,
    client_cpu: Option<f64>,
}

fn sample(shared: &Shared, brokers: &[u32]) -> Sample {
    Sample {
        at: Instant::now(),
        published: shared.published.load(Ordering::Relaxed),
        delivered: shared.delivered.load(Ordering::Relaxed),
        broker_cpu: brokers_cpu(brokers),
        client_cpu: procstat::cpu_seconds(Proc::Myself),
    }
}

/// CPU seconds of all `brokers` together (`None` without any, or when one
/// cannot be read).
fn brokers_cpu(brokers: &[u32]) -> Option<f64> {
    if brokers.is_empty() {
        return None;
    }
    brokers
        .iter()
        .map(|&pid| procstat::cpu_seconds(Proc::Pid(pid)))
        .sum()
}

/// Where the clients of a message scenario go: subscribers and publishers
/// on one broker, or (a cluster) on different nodes.
pub(crate) struct Placement<'a> {
    /// The broker (node) the subscribers connect to.
    pub(crate) subscribers: &'a Target,
    /// The broker (node) the publishers connect to.
    pub(crate) publishers: &'a Target,
    /// The broker processes whose CPU and memory count, summed.
    pub(crate) brokers: &'a [u32],
}

/// A report skeleton for `p`.
pub(crate) fn base_report(p: &Params) -> Report {
    Report {
        scenario: p.scenario.name().to_string(),
        qos: p.qos as u8,
        protocol: scenario::protocol_name(p.protocol).to_string(),
        transport: p.transport,
        payload: p.payload,
        target_rate: (p.scenario == scenario::Scenario::Latency).then_some(p.rate),
        ..Report::default()
    }
}

/// Runs a message scenario and returns its judged report.
pub(crate) async fn run(target: &Target, p: &Params, broker: Option<u32>) -> Report {
    let brokers: Vec<u32> = broker.into_iter().collect();
    let placement = Placement {
        subscribers: target,
        publishers: target,
        brokers: &brokers,
    };
    run_placed(&placement, p, async { Ok(()) }).await
}

/// Runs a message scenario with its clients placed as `at` says; `ready`
/// is awaited once every subscriber has its SUBACK, before any publisher
/// connects (a cluster: until the publishers' node has the route).
pub(crate) async fn run_placed(
    at: &Placement<'_>,
    p: &Params,
    ready: impl std::future::Future<Output = Result<(), String>>,
) -> Report {
    let brokers = at.brokers;
    let plan = scenario::plan(p);
    let mut report = base_report(p);
    report.publishers = plan.publishers.len();
    report.subscribers = plan.subscribers.len();
    let shared = Arc::new(Shared::new(plan.fan, p.max_ahead));
    let v5 = p.protocol.is_v5();
    let tag = format!(
        "hb{}-{}",
        std::process::id(),
        shared.start.elapsed().as_nanos() % 1_000_000
    );

    // Subscribers first, each with its SUBACK in hand, so nothing published
    // is missed for want of a subscription.
    let hellos = plan
        .subscribers
        .iter()
        .enumerate()
        .map(|(i, s)| Hello {
            client_id: format!("{tag}-s{i}"),
            keep_alive: KEEP_ALIVE,
            receive_maximum: Some(u16::MAX),
            subscribe: Some((s.filter.clone(), p.qos)),
            buffer: 64 * 1024,
            persistent: p.scenario == scenario::Scenario::Durable,
        })
        .collect();
    let subs = client::open_many(at.subscribers, hellos, p.concurrency).await;
    if subs.iter().all(Result::is_ok) {
        if let Err(e) = ready.await {
            report.errors = 1;
            report.first_error = Some(e);
            report.judge();
            return report;
        }
    }
    let hellos = (0..plan.publishers.len())
        .map(|i| Hello {
            client_id: format!("{tag}-p{i}"),
            keep_alive: KEEP_ALIVE,
            receive_maximum: None,
            subscribe: None,
            buffer: 4 * 1024,
            persistent: false,
        })
        .collect();
    let pubs = client::open_many(at.publishers, hellos, p.concurrency).await;
    let failed_to_connect = subs
        .iter()
        .map(|r| ("subscriber", r))
        .chain(pubs.iter().map(|r| ("publisher", r)))
        .filter_map(|(who, r)| r.as_ref().err().map(|e| (who, e.clone())))
        .collect::<Vec<_>>();
    if let Some((who, e)) = failed_to_connect.first() {
        report.errors = failed_to_connect.len() as u64;
        report.first_error = Some(format!("{who} connecting: {e}"));
        report.judge();
        return report;
    }

    let (stop_subs, stop_rx) = watch::channel(false);
    let sub_tasks: Vec<_> = subs
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, conn)| {
            tokio::spawn(subscriber::run(
                conn,
                i,
                v5,
                shared.clone(),
                stop_rx.clone(),
            ))
        })
        .collect();
    let pub_tasks: Vec<_> = pubs
        .into_iter()
        .flatten()
        .zip(&plan.publishers)
        .enumerate()
        .map(|(i, (conn, spec))| {
            let plan = publisher::Plan {
                id: i as u32,
                topic: spec.topic.clone(),
                qos: p.qos,
                v5,
                payload: p.payload,
                pace: spec.pace,
                window: p.window,
                device: p.device,
            };
            tokio::spawn(publisher::run(conn, plan, shared.clone()))
        })
        .collect();

    tokio::time::sleep(Duration::from_secs_f64(p.warmup)).await;
    shared.measuring.store(true, Ordering::Relaxed);
    let s0 = sample(&shared, brokers);
    tokio::time::sleep(Duration::from_secs_f64(p.seconds)).await;
    let s1 = sample(&shared, brokers);
    shared.measuring.store(false, Ordering::Relaxed);
    let memory = brokers
        .iter()
        .map(|&pid| procstat::memory(Proc::Pid(pid)))
        .collect::<Option<Vec<_>>>()
        .filter(|m| !m.is_empty())
        .map(|m| procstat::Memory {
            rss_kib: m.iter().map(|m| m.rss_kib).sum(),
            hwm_kib: m.iter().map(|m| m.hwm_kib).sum(),
        });

    // Stop publishing; each publisher drains its own acknowledgements.
    shared.stop.store(true, Ordering::Relaxed);
    let mut sent = Vec::with_capacity(pub_tasks.len());
    for task in pub_tasks {
        let abort = task.abort_handle();
        match tokio::time::timeout(DRAIN_TIMEOUT + Duration::from_secs(5), task).await {
            Ok(Ok(n)) => sent.push(n),
            _ => {
                abort.abort();
                shared.error("publisher", "did not stop in time");
                sent.push(0);
            }
        }
    }
    let expected: u64 = plan
        .subscribers
        .iter()
        .flat_map(|s| s.expects.iter())
        .map(|&id| sent.get(id as usize).copied().unwrap_or(0))
        .sum();
    // Let what is in flight arrive, for at most `drain` seconds.
    let drain_until = Instant::now() + Duration::from_secs_f64(p.drain);
    while shared.delivered.load(Ordering::Relaxed) < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop_subs.send(true);
    let mut seen: Vec<Option<Seen>> = Vec::with_capacity(sub_tasks.len());
    for task in sub_tasks {
        let abort = task.abort_handle();
        match tokio::time::timeout(Duration::from_secs(5), task).await {
            Ok(Ok(s)) => seen.push(Some(s)),
            _ => {
                abort.abort();
                shared.error("subscriber", "did not stop in time");
                seen.push(None);
            }
        }
    }

    fill(&mut report, &plan, &sent, expected, &seen, s0, s1);
    if let Some(m) = memory {
        report.broker_rss_kib = Some(m.rss_kib);
        report.broker_hwm_kib = Some(m.hwm_kib);
    }
    (report.errors, report.first_error) = shared.errors();
    report.judge();
    report
}

fn fill(
    report: &mut Report,
    plan: &scenario::Plan,
    sent: &[u64],
    expected: u64,
    seen: &[Option<Seen>],
    s0: Sample,
    s1: Sample,
) {
    let window = s1.at.duration_since(s0.at).as_secs_f64().max(1e-9);
    let delivered = s1.delivered.saturating_sub(s0.delivered);
    report.window_s = window;
    report.published_per_s = s1.published.saturating_sub(s0.published) as f64 / window;
    report.delivered_per_s = delivered as f64 / window;
    let broker_cpu = s0.broker_cpu.zip(s1.broker_cpu).map(|(a, b)| b - a);
    report.broker_cores = broker_cpu.map(|c| c / window);
    report.broker_cpu_us_per_msg = broker_cpu
        .filter(|_| delivered > 0)
        .map(|c| c * 1e6 / delivered as f64);
    report.client_cpu_pct = s0
        .client_cpu
        .zip(s1.client_cpu)
        .map(|(a, b)| (b - a) * 100.0 / window);
    report.sent = sent.iter().sum();
    report.expected = expected;

    let mut latency = subscriber::new_histogram();
    let sent_by = |id: u32| sent.get(id as usize).copied().unwrap_or(0);
    for (s, spec) in seen.iter().zip(&plan.subscribers) {
        let Some(s) = s else {
            // A subscriber that did not report: its share counts as lost.
            report.lost += spec.expects.iter().map(|&id| sent_by(id)).sum::<u64>();
            continue;
        };
        let _ = latency.add(&s.latency);
        for &id in &spec.expects {
            let n = sent_by(id);
            match s.trackers.get(id) {
                Some(t) => {
                    report.received += t.unique;
                    report.lost += t.lost(n);
                }
                None => report.lost += n,
            }
        }
        for t in s.trackers.iter() {
            report.duplicates += t.dup_unflagged;
            report.dup_flagged += t.dup_flagged;
            report.out_of_order += t.out_of_order;
        }
    }
    if !latency.is_empty() {
        report.latency_us = Some(Latency {
            p50: latency.value_at_quantile(0.50),
            p99: latency.value_at_quantile(0.99),
            p999: latency.value_at_quantile(0.999),
            max: latency.max(),
            count: latency.len(),
        });
    }
}
