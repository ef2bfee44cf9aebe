//! `hornet-bench compare`: for each repetition and suite entry, start a
//! fresh Hornet, Mosquitto and the peers that are built (rumqttd, RMQTT,
//! see [`crate::peers`]) in turn (the order reverses every other
//! repetition) on equal configurations, run the entry against each, stop
//! it; then print the medians side by side with Hornet's ratio to the best
//! peer and to Mosquitto per row, write every run as JSON and, with
//! `--docs`, regenerate the results section and charts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use crate::broker::{self, Kind};
use crate::cli::CompareArgs;
use crate::client::Target;
use crate::peers::{self, Build, Found};
use crate::pki::Pki;
use crate::report::Report;
use crate::single::{run_scenario, saturated};
use crate::stats::{self, Better};
use crate::suite::{self, Entry, SuiteSize};
use crate::transport::Carrier;
use crate::{charts, docs};

/// One run (or latency step) of the comparison.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Record {
    /// Which broker.
    pub(crate) broker: Kind,
    /// Repetition, from 1.
    pub(crate) rep: usize,
    /// Suite entry id.
    pub(crate) entry: String,
    /// The run's report.
    pub(crate) report: Report,
}

/// One broker's median in a row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Cell {
    /// Which broker.
    pub(crate) broker: Kind,
    /// The median over the repetitions.
    pub(crate) value: Option<f64>,
    /// A run of this entry on this broker failed.
    pub(crate) failed: bool,
}

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    /// Suite entry id.
    pub(crate) entry: String,
    /// Its description.
    pub(crate) label: String,
    /// Figure name.
    pub(crate) figure: String,
    /// Which way is better.
    pub(crate) better: Better,
    /// One cell per broker of the comparison, in column order.
    pub(crate) cells: Vec<Cell>,
    /// The best peer of this row (failed runs do not count).
    pub(crate) best_peer: Option<Kind>,
    /// Hornet / the best peer.
    pub(crate) ratio_best: Option<f64>,
    /// Hornet / Mosquitto.
    pub(crate) ratio: Option<f64>,
}

impl Row {
    /// The median of `kind`.
    pub(crate) fn value(&self, kind: Kind) -> Option<f64> {
        self.cells
            .iter()
            .find(|c| c.broker == kind)
            .and_then(|c| c.value)
    }
}

#[derive(Serialize)]
struct Output<'a> {
    machine: &'a docs::Machine,
    command: &'a str,
    skipped: &'a [String],
    settings: &'a [&'a str],
    reps: usize,
    seconds: f64,
    warmup: f64,
    rows: &'a [Row],
    runs: &'a [Record],
}

fn find_hornet(args: &CompareArgs) -> Result<PathBuf, String> {
    find_hornet_at(args.hornet.as_deref())
}

/// The Hornet binary: `given`, else `hornet` next to this executable.
pub(crate) fn find_hornet_at(given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = given {
        return p
            .is_file()
            .then(|| p.to_path_buf())
            .ok_or_else(|| format!("no Hornet binary at {}", p.display()));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let candidate = exe.with_file_name("hornet");
    if candidate.is_file() {
        Ok(candidate)
    } else {
        Err(format!(
            "no Hornet binary at {} (build it first: cargo build --release -p hornet, or pass --hornet PATH)",
            candidate.display()
        ))
    }
}

fn find_mosquitto(args: &CompareArgs) -> Result<PathBuf, String> {
    if let Some(p) = &args.mosquitto {
        return p
            .is_file()
            .then(|| p.clone())
            .ok_or_else(|| format!("no Mosquitto binary at {}", p.display()));
    }
    let default = PathBuf::from("/usr/sbin/mosquitto");
    if default.is_file() {
        return Ok(default);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("mosquitto"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            "mosquitto not found (install it, or pass --mosquitto PATH or --only hornet)"
                .to_string()
        })
}

/// The `compare` subcommand.
pub(crate) async fn main(args: CompareArgs) -> ExitCode {
    match compare(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hornet-bench compare: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The brokers of a comparison with their binaries, in column order.
type Brokers = Vec<(Kind, PathBuf)>;

/// The brokers of the comparison, in column order, and a line for each
/// peer that was asked for but cannot run.
fn brokers(args: &CompareArgs) -> Result<(Brokers, Vec<String>), String> {
    let wanted = |kind: Kind| args.only.is_empty() || args.only.iter().any(|o| o.kind() == kind);
    let cache = args.peers_dir.clone().unwrap_or_else(peers::default_cache);
    // Named relative to the current directory when it is below it: the
    // skip lines go into the docs.
    let cache = std::env::current_dir()
        .ok()
        .and_then(|cwd| cache.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(cache);
    let build = if args.smoke {
        Build::Forbidden("--smoke never builds peers; build them with scripts/peers.sh")
    } else if args.no_build_peers {
        Build::Forbidden("--no-build-peers")
    } else {
        Build::Allowed
    };
    let mut brokers = Vec::new();
    let mut skipped = Vec::new();
    for kind in Kind::ALL.into_iter().filter(|k| wanted(*k)) {
        match kind {
            Kind::Hornet => brokers.push((kind, find_hornet(args)?)),
            Kind::Mosquitto => brokers.push((kind, find_mosquitto(args)?)),
            Kind::Rumqttd | Kind::Rmqtt => {
                let Some(recipe) = peers::recipe(kind) else {
                    continue;
                };
                match peers::locate(
                    recipe,
                    &cache,
                    build,
                    &peers::on_path,
                    &peers::cargo_install,
                ) {
                    // Absolute: brokers run in the work directory.
                    Found::Ready(binary) => {
                        brokers.push((kind, std::fs::canonicalize(&binary).unwrap_or(binary)))
                    }
                    Found::Skipped(why) => skipped.push(format!("{} skipped: {why}", kind.title())),
                }
            }
        }
    }
    Ok((brokers, skipped))
}

async fn compare(args: CompareArgs) -> Result<ExitCode, String> {
    let (brokers, mut skipped) = brokers(&args)?;
    for line in &skipped {
        eprintln!("hornet-bench compare: {line}");
    }
    let kinds: Vec<Kind> = brokers.iter().map(|b| b.0).collect();
    // The bridge entry's remote, whichever brokers are compared.
    let sink = find_mosquitto(&args).ok();
    let size = SuiteSize {
        seconds: args.seconds.unwrap_or(if args.smoke { 1.0 } else { 5.0 }),
        warmup: args.warmup.unwrap_or(if args.smoke { 0.3 } else { 1.0 }),
        smoke: args.smoke,
        max_rate: args.max_rate,
        idle_seconds: args
            .idle_seconds
            .unwrap_or(if args.smoke { 0.5 } else { 60.0 }),
    };
    let reps = if args.smoke { 1 } else { args.reps.max(1) };
    let mut entries = suite::suite(size);
    if !args.scenarios.is_empty() {
        let known: Vec<&str> = entries.iter().map(|e| e.id).collect();
        if let Some(bad) = args.scenarios.iter().find(|s| !known.contains(&s.as_str())) {
            return Err(format!(
                "unknown suite entry {bad:?}; known: {}",
                known.join(", ")
            ));
        }
        entries.retain(|e| args.scenarios.iter().any(|s| s == e.id));
    }
    let work = match &args.work_dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("hornet-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&work).map_err(|e| format!("creating {}: {e}", work.display()))?;
    // One CA and server certificate for the whole comparison: both brokers
    // serve the same files on their TLS listeners.
    let pki = Pki::create(&work)?;
    let command = command_line(std::env::args());
    let mut machine = docs::Machine::probe(
        brokers
            .iter()
            .find(|b| b.0 == Kind::Mosquitto)
            .map(|b| b.1.as_path()),
    );
    machine.peers = brokers
        .iter()
        .filter_map(|(kind, binary)| peers::version(*kind, binary))
        .collect();
    eprintln!(
        "hornet-bench compare: {} entries x {} brokers x {reps} reps, {}+{} s per run; broker logs in {}",
        entries.len(),
        brokers.len(),
        size.warmup,
        size.seconds,
        work.display()
    );

    let mut records = Vec::new();
    for rep in 1..=reps {
        let mut order = brokers.clone();
        if rep % 2 == 0 {
            order.reverse();
        }
        for entry in &entries {
            for (kind, binary) in &order {
                let unsupported = if entry.kind == suite::Kind::Bridge && kind.is_peer() {
                    (*kind != Kind::Mosquitto).then(|| "no mosquitto.conf bridge".to_string())
                } else {
                    peers::unsupported(*kind, &entry.params, entry.extra_settings)
                };
                if let Some(why) = unsupported {
                    let line = format!("{} skips {}: {why}", kind.title(), entry.id);
                    if rep == 1 {
                        eprintln!("hornet-bench compare: {line}");
                        skipped.push(line);
                    }
                    continue;
                }
                let tag = format!("{}-{}-r{rep}", kind.name(), entry.id);
                let reports = if entry.kind == suite::Kind::Bridge {
                    let sink = sink.as_deref();
                    vec![crate::bridge::run(*kind, binary, sink, &work, &tag, &entry.params).await]
                } else {
                    run_entry(entry, *kind, binary, &work, &tag, &pki).await
                };
                for report in reports {
                    eprintln!(
                        "  r{rep} {:<9} {:<12} {}",
                        kind.name(),
                        entry.id,
                        report.human()
                    );
                    records.push(Record {
                        broker: *kind,
                        rep,
                        entry: entry.id.to_string(),
                        report,
                    });
                }
            }
        }
    }

    let rows = table_rows(&entries, &records, reps, &kinds);
    let table = render_table(&rows, &kinds);
    println!("{table}");
    for line in &skipped {
        println!("- {line}");
    }
    let output = Output {
        machine: &machine,
        command: &command,
        skipped: &skipped,
        settings: broker::SHARED_SETTINGS,
        reps,
        seconds: size.seconds,
        warmup: size.warmup,
        rows: &rows,
        runs: &records,
    };
    write_json(&args.json_out, &output)?;
    eprintln!(
        "hornet-bench compare: results in {}",
        args.json_out.display()
    );
    if let Some(doc) = &args.docs {
        let charts =
            charts::write_all(doc, &rows, &records, &kinds).map_err(|e| format!("charts: {e}"))?;
        let section = docs::section(&machine, &command, reps, size, &table, &skipped, &charts);
        docs::update_file(doc, &section)?;
        eprintln!("hornet-bench compare: updated {}", doc.display());
    }
    let failed: Vec<_> = records.iter().filter(|r| r.report.failed).collect();
    for r in &failed {
        eprintln!(
            "FAILED: {} {} r{}: {}",
            r.broker.name(),
            r.entry,
            r.rep,
            r.report.failures.join("; ")
        );
    }
    // Only Hornet's failures fail the command: it is Hornet's gate. Another
    // broker's failures are in the table and on stderr.
    Ok(if failed.iter().any(|r| r.broker == Kind::Hornet) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The command as typed, with the executable's directory left out (it is
/// this machine's target directory, of no use to a reader).
fn command_line(args: impl Iterator<Item = String>) -> String {
    args.enumerate()
        .map(|(i, a)| match (i, Path::new(&a).file_name()) {
            (0, Some(name)) => name.to_string_lossy().into_owned(),
            _ => a,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs one entry against a fresh broker (a fresh one per latency step).
async fn run_entry(
    entry: &Entry,
    kind: Kind,
    binary: &Path,
    work: &Path,
    tag: &str,
    pki: &Pki,
) -> Vec<Report> {
    let transport = entry.params.transport;
    let steps: Vec<Option<f64>> = match &entry.kind {
        suite::Kind::Latency(rates) => rates.iter().map(|&r| Some(r)).collect(),
        _ => vec![None],
    };
    let mut reports = Vec::new();
    for rate in steps {
        let mut params = entry.params.clone();
        if let Some(rate) = rate {
            params.rate = rate;
        }
        let tag = rate.map_or(tag.to_string(), |r| format!("{tag}-{r:.0}"));
        let mut settings = entry.extra_settings.to_vec();
        if kind == Kind::Hornet {
            settings.extend_from_slice(entry.hornet_settings);
        }
        let started = match Carrier::new(transport, Some(&pki.ca_file)) {
            Ok(carrier) => broker::start(
                kind,
                binary,
                work,
                &tag,
                &settings,
                Some(pki),
                transport,
                params.protocol.is_v5(),
            )
            .await
            .map(|running| (running, carrier)),
            Err(e) => Err(e),
        };
        let report = match started {
            Ok((mut running, carrier)) => {
                let target = Target {
                    host: "127.0.0.1".to_string(),
                    port: running
                        .ports
                        .target(kind, transport, params.protocol.is_v5()),
                    protocol: params.protocol,
                    carrier,
                };
                let mut report = run_scenario(&target, &params, Some(running.pid)).await;
                if !running.alive() {
                    report.failures.push(format!(
                        "{} exited during the run (log {})",
                        kind.name(),
                        running.log.display()
                    ));
                    report.failed = true;
                }
                running.stop();
                if let Some(line) = store_totals(&running.log) {
                    eprintln!("hornet-bench: {tag}: {line}");
                }
                report
            }
            Err(e) => {
                let mut report = crate::runner::base_report(&params);
                report.errors = 1;
                report.first_error = Some(e);
                report.judge();
                report
            }
        };
        let stop = rate.is_some() && (saturated(&report) || report.failed);
        reports.push(report);
        if stop {
            break;
        }
    }
    reports
}

/// Hornet's store counters from its log (the line it writes on exit).
fn store_totals(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let line = text.lines().rev().find(|l| l.contains("Store totals"))?;
    Some(line[line.find("Store totals")?..].to_string())
}

/// Medians per entry, figure and broker (`brokers`: the columns).
pub(crate) fn table_rows(
    entries: &[Entry],
    records: &[Record],
    reps: usize,
    brokers: &[Kind],
) -> Vec<Row> {
    let mut rows = Vec::new();
    for entry in entries {
        let runs_of = |kind: Kind, rep: usize| -> Vec<Report> {
            records
                .iter()
                .filter(|r| r.broker == kind && r.rep == rep && r.entry == entry.id)
                .map(|r| r.report.clone())
                .collect()
        };
        let failed = |kind: Kind| {
            records.iter().any(|r| {
                r.broker == kind
                    && r.entry == entry.id
                    && r.report.failed
                    && !is_step_saturation(&r.report)
            })
        };
        for figure in suite::figures(entry) {
            let cells: Vec<Cell> = brokers
                .iter()
                .map(|&kind| {
                    let values: Vec<f64> = (1..=reps)
                        .filter_map(|rep| suite::value(&figure, &runs_of(kind, rep)))
                        .collect();
                    Cell {
                        broker: kind,
                        value: stats::median(&values),
                        failed: failed(kind),
                    }
                })
                .collect();
            let best_peer = best_peer(&cells, figure.better);
            let value = |kind: Kind| {
                cells
                    .iter()
                    .find(|c| c.broker == kind)
                    .and_then(|c| c.value)
            };
            let hornet = value(Kind::Hornet);
            rows.push(Row {
                entry: entry.id.to_string(),
                label: entry.label.clone(),
                figure: figure.name.clone(),
                better: figure.better,
                ratio_best: best_peer.and_then(|k| stats::ratio(hornet, value(k))),
                ratio: stats::ratio(hornet, value(Kind::Mosquitto)),
                best_peer,
                cells,
            });
        }
    }
    rows
}

/// The peer with the best value among those whose runs did not fail.
fn best_peer(cells: &[Cell], better: Better) -> Option<Kind> {
    cells
        .iter()
        .filter(|c| c.broker.is_peer() && !c.failed)
        .filter_map(|c| c.value.map(|v| (c.broker, v)))
        .reduce(|a, b| {
            let b_better = match better {
                Better::Higher => b.1 > a.1,
                Better::Lower => b.1 < a.1,
            };
            if b_better {
                b
            } else {
                a
            }
        })
        .map(|(k, _)| k)
}

/// A latency step is never "failed" for being slow, only for losses/errors.
fn is_step_saturation(report: &Report) -> bool {
    report.target_rate.is_some() && report.failures.is_empty()
}

/// The table as Markdown (readable as plain text too): a column per
/// broker, then Hornet's ratio to the best peer (named; left out when
/// Mosquitto is the only peer) and to Mosquitto. ✗ marks a ratio where
/// Hornet is worse.
pub(crate) fn render_table(rows: &[Row], brokers: &[Kind]) -> String {
    let peers = brokers.iter().filter(|k| k.is_peer()).count();
    let with_hornet = brokers.contains(&Kind::Hornet);
    let mosquitto_col = with_hornet && brokers.contains(&Kind::Mosquitto);
    let best_col = with_hornet && peers > usize::from(mosquitto_col);
    let mut head = "| scenario | figure | better |".to_string();
    let mut rule = "| --- | --- | :-: |".to_string();
    for kind in brokers {
        head.push_str(&format!(" {} |", kind.title()));
        rule.push_str(" --: |");
    }
    if best_col {
        head.push_str(" Hornet/best peer |");
        rule.push_str(" --: |");
    }
    if mosquitto_col {
        head.push_str(" Hornet/Mosquitto |");
        rule.push_str(" --: |");
    }
    let mut out = format!("{head}\n{rule}\n");
    let mut last = "";
    for row in rows {
        let scenario = if row.entry == last {
            String::new()
        } else {
            format!("{} (`{}`)", row.label, row.entry)
        };
        last = &row.entry;
        let ratio = |r: Option<f64>| {
            r.map_or("-".to_string(), |r| {
                let mark = if stats::hornet_wins(r, row.better) {
                    ""
                } else {
                    " ✗"
                };
                format!("{r:.2}{mark}")
            })
        };
        out.push_str(&format!(
            "| {scenario} | {} | {} |",
            row.figure,
            row.better.arrow()
        ));
        for cell in &row.cells {
            let s = stats::fmt_value(cell.value);
            if cell.failed {
                out.push_str(&format!(" {s} FAILED |"));
            } else {
                out.push_str(&format!(" {s} |"));
            }
        }
        if best_col {
            let who = row
                .best_peer
                .filter(|_| row.ratio_best.is_some())
                .map_or(String::new(), |k| format!(" ({})", k.title()));
            out.push_str(&format!(" {}{who} |", ratio(row.ratio_best)));
        }
        if mosquitto_col {
            out.push_str(&format!(" {} |", ratio(row.ratio)));
        }
        out.push('\n');
    }
    out
}

fn write_json(path: &Path, output: &Output<'_>) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(output).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::SuiteSize;

    fn record(broker: Kind, rep: usize, entry: &str, delivered: f64, failed: bool) -> Record {
        Record {
            broker,
            rep,
            entry: entry.to_string(),
            report: Report {
                delivered_per_s: delivered,
                broker_cpu_us_per_msg: Some(delivered / 1000.0),
                failed,
                failures: if failed { vec!["lost".into()] } else { vec![] },
                ..Report::default()
            },
        }
    }

    #[test]
    fn command_line_drops_the_target_dir() {
        let args = ["/x/target/release/hornet-bench", "compare", "--reps", "1"].map(String::from);
        assert_eq!(
            command_line(args.into_iter()),
            "hornet-bench compare --reps 1"
        );
    }

    #[test]
    fn rows_take_medians_and_ratios() {
        let size = SuiteSize {
            seconds: 1.0,
            warmup: 0.0,
            smoke: true,
            max_rate: 1e6,
            idle_seconds: 1.0,
        };
        let entries: Vec<Entry> = suite::suite(size)
            .into_iter()
            .filter(|e| e.id == "fanin-q1")
            .collect();
        let records = vec![
            record(Kind::Hornet, 1, "fanin-q1", 100.0, false),
            record(Kind::Hornet, 2, "fanin-q1", 300.0, false),
            record(Kind::Hornet, 3, "fanin-q1", 200.0, false),
            record(Kind::Mosquitto, 1, "fanin-q1", 100.0, false),
            record(Kind::Mosquitto, 2, "fanin-q1", 100.0, true),
            record(Kind::Mosquitto, 3, "fanin-q1", 100.0, false),
        ];
        let brokers = [Kind::Hornet, Kind::Mosquitto];
        let rows = table_rows(&entries, &records, 3, &brokers);
        assert_eq!(rows[0].figure, "delivered msgs/s");
        assert_eq!(
            (
                rows[0].value(Kind::Hornet),
                rows[0].value(Kind::Mosquitto),
                rows[0].ratio
            ),
            (Some(200.0), Some(100.0), Some(2.0))
        );
        assert!(!rows[0].cells[0].failed && rows[0].cells[1].failed);
        // A failed peer is never the best one.
        assert_eq!((rows[0].best_peer, rows[0].ratio_best), (None, None));
        let table = render_table(&rows, &brokers);
        assert!(
            table.starts_with(
                "| scenario | figure | better | Hornet | Mosquitto | Hornet/Mosquitto |"
            ),
            "{table}"
        );
        assert!(
            table.contains("| delivered msgs/s | ↑ | 200 | 100 FAILED | 2.00 |"),
            "{table}"
        );
        // CPU-µs/msg: lower is better, so a ratio of 2 is marked as a loss.
        assert!(
            table.contains("| broker CPU-µs/msg | ↓ | 0.20 | 0.10 FAILED | 2.00 ✗ |"),
            "{table}"
        );
    }

    #[test]
    fn every_ratio_is_against_the_best_peer_of_its_row() {
        let size = SuiteSize {
            seconds: 1.0,
            warmup: 0.0,
            smoke: true,
            max_rate: 1e6,
            idle_seconds: 1.0,
        };
        let entries: Vec<Entry> = suite::suite(size)
            .into_iter()
            .filter(|e| e.id == "fanout-q0")
            .collect();
        // CPU-µs/msg = delivered / 1000 in `record`: the fastest peer
        // (rumqttd) costs the most CPU, Mosquitto the least.
        let records = vec![
            record(Kind::Hornet, 1, "fanout-q0", 2000.0, false),
            record(Kind::Mosquitto, 1, "fanout-q0", 100.0, false),
            record(Kind::Rumqttd, 1, "fanout-q0", 4000.0, false),
            record(Kind::Rmqtt, 1, "fanout-q0", 200.0, false),
        ];
        let rows = table_rows(&entries, &records, 1, &Kind::ALL);
        let msgs = &rows[0];
        assert_eq!(msgs.best_peer, Some(Kind::Rumqttd));
        assert_eq!((msgs.ratio_best, msgs.ratio), (Some(0.5), Some(20.0)));
        let cpu = &rows[1];
        assert_eq!(cpu.best_peer, Some(Kind::Mosquitto));
        assert_eq!(cpu.ratio_best, Some(20.0));
        let table = render_table(&rows, &Kind::ALL);
        assert!(
            table.starts_with(
                "| scenario | figure | better | Hornet | Mosquitto | rumqttd | RMQTT | Hornet/best peer | Hornet/Mosquitto |"
            ),
            "{table}"
        );
        assert!(
            table.contains(
                "| delivered msgs/s | ↑ | 2,000 | 100 | 4,000 | 200 | 0.50 ✗ (rumqttd) | 20.00 |"
            ),
            "{table}"
        );
        // Without Mosquitto, the best peer's column alone.
        let pair = [Kind::Hornet, Kind::Rumqttd];
        let table = render_table(&table_rows(&entries, &records, 1, &pair), &pair);
        assert!(
            table.contains("| delivered msgs/s | ↑ | 2,000 | 4,000 | 0.50 ✗ (rumqttd) |\n"),
            "{table}"
        );
        // A peer that was skipped (no runs) has no value and is not best.
        let rows = table_rows(&entries, &records[..2], 1, &Kind::ALL);
        assert_eq!(rows[0].value(Kind::Rmqtt), None);
        assert_eq!(rows[0].best_peer, Some(Kind::Mosquitto));
    }
}
