//! The `conns` entry of the `cluster` command: three nodes of one cluster
//! on this machine each holding N idle connections (issue 18: 3 × 19,000).
//! A process may open 20,000 files here, so the clients are three child
//! processes, `hornet-bench run --scenario conns` (the `conns` machinery),
//! one per node, started together. This process watches the nodes from
//! `/proc`: the sockets each holds (open files above its count before),
//! their sum at its highest; once the sum stops growing, after a settle,
//! each node's memory per held connection (VmRSS growth over the held
//! count) and its idle cost over a window (CPU µs/s from the threads'
//! `schedstat`, wake-ups/s); and the open files limit the nodes run with.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cluster::Ctx;
use crate::cluster_nodes::Node;
use crate::cluster_table::Row;
use crate::procstat::{self, Proc};
use crate::report::Report;

/// How often the nodes' open files are counted.
const POLL: Duration = Duration::from_millis(200);
/// The sum of held sockets unchanged this long: every client connected.
const STABLE: Duration = Duration::from_secs(3);
/// The bound on connecting them all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(180);
/// Time for the nodes to settle before the idle window: longer than
/// Hornet's park delay (1 to 2 s without traffic), so the window measures
/// idle nodes rather than connections being parked.
const SETTLE: Duration = Duration::from_secs(3);

/// Open files of a process now.
fn open_files(pid: u32) -> Option<u64> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(|d| d.count() as u64)
}

/// The soft "Max open files" of a `/proc/PID/limits` text.
pub(crate) fn max_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The last line of a child's output that parses as a report.
pub(crate) fn last_report(stdout: &str) -> Option<Report> {
    stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Report>(l.trim()).ok())
}

/// One client process holding `n` connections to `node` for `hold` s.
fn spawn_clients(node: &Node, n: usize, hold: f64, out: &Path) -> Result<Child, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let file = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    Command::new(exe)
        .args([
            "run",
            "--scenario",
            "conns",
            "--json",
            "--host",
            "127.0.0.1",
        ])
        .args(["--port", &node.port.to_string()])
        .args(["--connections", &n.to_string()])
        .args(["--broker-pid", &node.process.pid.to_string()])
        .args(["--seconds", &format!("{hold}")])
        // Opening 19,000 took over 70 s on the loaded machine: with the
        // default 60 s the nodes rightly closed the first ones (1.5 × 60 s
        // silent) before the hold ended.
        .args(["--keep-alive", "600"])
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting a client process: {e}"))
}

/// What was seen of one node.
#[derive(Debug, Default, Clone)]
struct Seen {
    held: u64,
    bytes_per_conn: Option<f64>,
    idle_cpu_us_per_s: Option<f64>,
    idle_wakeups_per_s: Option<f64>,
    limit: Option<u64>,
    alive_after_hold: Option<usize>,
}

async fn measure(ctx: &mut Ctx) -> Result<(u64, Vec<Seen>), String> {
    let n = ctx.connections;
    let nodes: [Node; 3] = ctx.cluster::<3>("conns").await?;
    let pids: Vec<u32> = nodes.iter().map(|n| n.process.pid).collect();
    let base: Vec<u64> = pids.iter().map(|&p| open_files(p).unwrap_or(0)).collect();
    let rss0: Vec<Option<u64>> = pids
        .iter()
        .map(|&p| procstat::memory(Proc::Pid(p)).map(|m| m.rss_kib))
        .collect();
    let mut seen: Vec<Seen> = pids
        .iter()
        .map(|&p| Seen {
            limit: std::fs::read_to_string(format!("/proc/{p}/limits"))
                .ok()
                .and_then(|t| max_open_files(&t)),
            ..Seen::default()
        })
        .collect();
    let slack = if n <= 1000 { 5.0 } else { 30.0 };
    let hold = ctx.idle_seconds + slack;
    let mut children = Vec::new();
    let mut outs = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let out = ctx.work.join(format!("conns-clients-n{}.json", i + 1));
        children.push(spawn_clients(node, n, hold, &out)?);
        outs.push(out);
    }
    let held = |pids: &[u32], base: &[u64]| -> Vec<u64> {
        pids.iter()
            .zip(base)
            .map(|(&p, &b)| open_files(p).unwrap_or(0).saturating_sub(b))
            .collect()
    };
    // Until every client connected (or the sum stopped growing).
    let (started, mut best, mut since) = (Instant::now(), 0u64, Instant::now());
    let target = 3 * n as u64;
    loop {
        let sum: u64 = held(&pids, &base).iter().sum();
        if sum > best {
            (best, since) = (sum, Instant::now());
        }
        if best >= target || (best > 0 && since.elapsed() > STABLE) {
            break;
        }
        if started.elapsed() > CONNECT_TIMEOUT {
            return Err(format!(
                "only {best} of {target} connections after {CONNECT_TIMEOUT:?}"
            ));
        }
        tokio::time::sleep(POLL).await;
    }
    tokio::time::sleep(SETTLE).await;
    let now = held(&pids, &base);
    let cpu = |p: u32| procstat::thread_cpu_seconds(Proc::Pid(p));
    let sw = |p: u32| procstat::switches(Proc::Pid(p));
    let t0 = Instant::now();
    let before: Vec<_> = pids.iter().map(|&p| (cpu(p), sw(p))).collect();
    tokio::time::sleep(Duration::from_secs_f64(ctx.idle_seconds)).await;
    let after: Vec<_> = pids.iter().map(|&p| (cpu(p), sw(p))).collect();
    let window = t0.elapsed().as_secs_f64();
    // Memory at the end of the idle window, every connection parked.
    let rss1: Vec<Option<u64>> = pids
        .iter()
        .map(|&p| procstat::memory(Proc::Pid(p)).map(|m| m.rss_kib))
        .collect();
    let end = held(&pids, &base);
    let at_once: u64 = end.iter().sum::<u64>().min(now.iter().sum());
    for (i, s) in seen.iter_mut().enumerate() {
        s.held = now[i].min(end[i]);
        s.bytes_per_conn = rss0[i]
            .zip(rss1[i])
            .filter(|_| s.held > 0)
            .map(|(a, b)| (b as f64 - a as f64) * 1024.0 / s.held as f64);
        s.idle_cpu_us_per_s = before[i]
            .0
            .zip(after[i].0)
            .map(|(a, b)| (b - a) * 1e6 / window);
        s.idle_wakeups_per_s = before[i]
            .1
            .zip(after[i].1)
            .map(|(a, b)| b.voluntary.saturating_sub(a.voluntary) as f64 / window);
    }
    // The clients ping every connection after their hold, then exit.
    let deadline = Instant::now() + Duration::from_secs_f64(hold) + CONNECT_TIMEOUT;
    for (i, child) in children.iter_mut().enumerate() {
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        let text = std::fs::read_to_string(&outs[i]).unwrap_or_default();
        seen[i].alive_after_hold = last_report(&text)
            .and_then(|r| r.conns)
            .map(|c| c.alive_after_hold);
    }
    for (i, mut node) in nodes.into_iter().enumerate() {
        if !node.process.alive() {
            return Err(format!("node n{} exited during the run", i + 1));
        }
        node.process.stop();
    }
    Ok((at_once, seen))
}

/// Runs the entry; returns its rows.
pub(crate) async fn run(ctx: &mut Ctx, failures: &mut Vec<String>) -> Vec<Row> {
    let n = ctx.connections;
    let (at_once, seen) = match measure(ctx).await {
        Ok(x) => x,
        Err(e) => {
            eprintln!("  conns: {e}");
            failures.push(format!("conns: {e}"));
            return Vec::new();
        }
    };
    let mut rows = vec![Row::cluster_only(
        "conns",
        &format!("sockets held at once by 3 nodes, from their open files (asked 3 × {n})"),
        Some(at_once as f64),
    )];
    for (i, s) in seen.iter().enumerate() {
        let node = format!("n{}", i + 1);
        eprintln!("  conns {node}: {s:?}");
        if s.alive_after_hold.map_or(true, |a| a < n) {
            failures.push(format!(
                "conns {node}: {} of {n} connections answered PINGREQ after the hold",
                s.alive_after_hold.unwrap_or(0)
            ));
        }
        let f =
            |what: &str, v: Option<f64>| Row::cluster_only("conns", &format!("{node}: {what}"), v);
        rows.push(f("connections held", Some(s.held as f64)));
        rows.push(f(
            "connections answering PINGREQ after the hold",
            s.alive_after_hold.map(|a| a as f64),
        ));
        rows.push(f("bytes per connection (VmRSS)", s.bytes_per_conn));
        rows.push(f("idle CPU µs/s", s.idle_cpu_us_per_s));
        rows.push(f("idle wake-ups/s", s.idle_wakeups_per_s));
        rows.push(f("open files limit", s.limit.map(|l| l as f64)));
    }
    // The open files are a close view (another socket of the node, such
    // as the admin request just answered, moves them by one), so the
    // verdict is the clients': every connection opened and answering.
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_files_limit_from_proc_limits() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max cpu time              unlimited            unlimited            seconds   \n\
                    Max open files            20000                20000                files     \n\
                    Max locked memory         8388608              8388608              bytes     \n";
        assert_eq!(max_open_files(text), Some(20_000));
        assert_eq!(max_open_files("Limit\n"), None);
    }

    #[test]
    fn the_report_is_the_last_json_line() {
        let r = Report {
            scenario: "conns".into(),
            ..Report::default()
        };
        let text = format!("a warning\n{}\n", serde_json::to_string(&r).unwrap());
        assert_eq!(last_report(&text).map(|r| r.scenario), Some("conns".into()));
        assert!(last_report("no json here\n{\"x\": 1}\n").is_none());
    }
}
