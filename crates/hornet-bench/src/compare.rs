//! `hornet-bench compare`: for each repetition and suite entry, start a
//! fresh Hornet and a fresh Mosquitto in turn (the first alternates per
//! repetition) on the same configuration, run the entry against each, stop
//! it; then print the medians side by side, write every run as JSON and,
//! with `--docs`, regenerate the results section and charts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use crate::broker::{self, Kind};
use crate::cli::{CompareArgs, Only};
use crate::client::Target;
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
    /// Hornet median.
    pub(crate) hornet: Option<f64>,
    /// Mosquitto median.
    pub(crate) mosquitto: Option<f64>,
    /// Hornet / Mosquitto.
    pub(crate) ratio: Option<f64>,
    /// A Hornet run of this entry failed.
    pub(crate) hornet_failed: bool,
    /// A Mosquitto run of this entry failed.
    pub(crate) mosquitto_failed: bool,
}

#[derive(Serialize)]
struct Output<'a> {
    machine: &'a docs::Machine,
    command: &'a str,
    settings: &'a [&'a str],
    reps: usize,
    seconds: f64,
    warmup: f64,
    rows: &'a [Row],
    runs: &'a [Record],
}

fn find_hornet(args: &CompareArgs) -> Result<PathBuf, String> {
    if let Some(p) = &args.hornet {
        return p
            .is_file()
            .then(|| p.clone())
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

async fn compare(args: CompareArgs) -> Result<ExitCode, String> {
    let mut brokers: Vec<(Kind, PathBuf)> = Vec::new();
    if args.only != Some(Only::Mosquitto) {
        brokers.push((Kind::Hornet, find_hornet(&args)?));
    }
    if args.only != Some(Only::Hornet) {
        brokers.push((Kind::Mosquitto, find_mosquitto(&args)?));
    }
    let size = SuiteSize {
        seconds: args.seconds.unwrap_or(if args.smoke { 1.0 } else { 5.0 }),
        warmup: args.warmup.unwrap_or(if args.smoke { 0.3 } else { 1.0 }),
        smoke: args.smoke,
        max_rate: args.max_rate,
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
    let machine = docs::Machine::probe(
        brokers
            .iter()
            .find(|b| b.0 == Kind::Mosquitto)
            .map(|b| b.1.as_path()),
    );
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
                let tag = format!("{}-{}-r{rep}", kind.name(), entry.id);
                for report in run_entry(entry, *kind, binary, &work, &tag, &pki).await {
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

    let rows = table_rows(&entries, &records, reps);
    println!("{}", render_table(&rows, "Hornet", "Mosquitto"));
    let output = Output {
        machine: &machine,
        command: &command,
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
        let charts = charts::write_all(doc, &rows, &records).map_err(|e| format!("charts: {e}"))?;
        let section = docs::section(
            &machine,
            &command,
            reps,
            size,
            &render_table(&rows, "Hornet", "Mosquitto"),
            &charts,
        );
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
            Ok(carrier) => broker::start(binary, work, &tag, &settings, Some(pki), transport)
                .await
                .map(|running| (running, carrier)),
            Err(e) => Err(e),
        };
        let report = match started {
            Ok((mut running, carrier)) => {
                let target = Target {
                    host: "127.0.0.1".to_string(),
                    port: running.ports.of(transport),
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

/// Medians per entry, figure and broker.
pub(crate) fn table_rows(entries: &[Entry], records: &[Record], reps: usize) -> Vec<Row> {
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
            let median = |kind: Kind| {
                let values: Vec<f64> = (1..=reps)
                    .filter_map(|rep| suite::value(&figure, &runs_of(kind, rep)))
                    .collect();
                stats::median(&values)
            };
            let (hornet, mosquitto) = (median(Kind::Hornet), median(Kind::Mosquitto));
            rows.push(Row {
                entry: entry.id.to_string(),
                label: entry.label.clone(),
                figure: figure.name.clone(),
                better: figure.better,
                hornet,
                mosquitto,
                ratio: stats::ratio(hornet, mosquitto),
                hornet_failed: failed(Kind::Hornet),
                mosquitto_failed: failed(Kind::Mosquitto),
            });
        }
    }
    rows
}

/// A latency step is never "failed" for being slow, only for losses/errors.
fn is_step_saturation(report: &Report) -> bool {
    report.target_rate.is_some() && report.failures.is_empty()
}

/// The table as Markdown (readable as plain text too).
pub(crate) fn render_table(rows: &[Row], a: &str, b: &str) -> String {
    let mut out = format!("| scenario | figure | better | {a} | {b} | {a}/{b} |\n| --- | --- | :-: | --: | --: | --: |\n");
    let mut last = "";
    for row in rows {
        let scenario = if row.entry == last {
            String::new()
        } else {
            format!("{} (`{}`)", row.label, row.entry)
        };
        last = &row.entry;
        let cell = |v: Option<f64>, failed: bool| {
            let s = stats::fmt_value(v);
            if failed {
                format!("{s} FAILED")
            } else {
                s
            }
        };
        let ratio = row.ratio.map_or("-".to_string(), |r| {
            let mark = if stats::hornet_wins(r, row.better) {
                ""
            } else {
                " ✗"
            };
            format!("{r:.2}{mark}")
        });
        out.push_str(&format!(
            "| {scenario} | {} | {} | {} | {} | {ratio} |\n",
            row.figure,
            row.better.arrow(),
            cell(row.hornet, row.hornet_failed),
            cell(row.mosquitto, row.mosquitto_failed),
        ));
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
        let rows = table_rows(&entries, &records, 3);
        assert_eq!(rows[0].figure, "delivered msgs/s");
        assert_eq!(
            (rows[0].hornet, rows[0].mosquitto, rows[0].ratio),
            (Some(200.0), Some(100.0), Some(2.0))
        );
        assert!(!rows[0].hornet_failed && rows[0].mosquitto_failed);
        let table = render_table(&rows, "Hornet", "Mosquitto");
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
}
