//! `hornet-bench run`: one scenario (or, for `latency --rates`, a step
//! search) against a broker someone else started.

use std::process::ExitCode;

use serde::Serialize;

use crate::cli::RunArgs;
use crate::client::Target;
use crate::report::Report;
use crate::scenario::{Params, Scenario};
use crate::transport::Carrier;
use crate::{conns, runner};

/// p99 above this is where the latency step search stops, µs.
pub(crate) const P99_LIMIT_US: u64 = 50_000;

/// Runs the scenario of `p` against `target`.
pub(crate) async fn run_scenario(target: &Target, p: &Params, broker: Option<u32>) -> Report {
    match p.scenario {
        Scenario::Conns => conns::run(target, p, broker).await,
        _ => runner::run(target, p, broker).await,
    }
}

/// True when a latency step shows saturation: p99 over the limit, or the
/// publishers reaching less than 90 % of the target rate.
pub(crate) fn saturated(r: &Report) -> bool {
    let slow = r.latency_us.map_or(true, |l| l.p99 > P99_LIMIT_US);
    let short = r.target_rate.is_some_and(|t| r.published_per_s < 0.9 * t);
    slow || short
}

#[derive(Serialize)]
struct Steps<'a> {
    steps: &'a [Report],
    first_saturated_rate: Option<f64>,
}

/// The `run` subcommand.
pub(crate) async fn main(args: RunArgs) -> ExitCode {
    let carrier = match Carrier::new(args.transport, args.cafile.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hornet-bench run: {e}");
            return ExitCode::FAILURE;
        }
    };
    let target = Target {
        host: args.host.clone(),
        port: args.port,
        protocol: args.protocol,
        carrier,
    };
    let params = args.params();
    let mut reports = Vec::new();
    let mut knee = None;
    if args.scenario == Scenario::Latency && !args.rates.is_empty() {
        for &rate in &args.rates {
            let p = Params {
                rate,
                ..params.clone()
            };
            let report = run_scenario(&target, &p, args.broker_pid).await;
            if !args.json {
                println!("rate {rate:.0}/s: {}", report.human());
            }
            let stop = saturated(&report) || report.failed;
            reports.push(report);
            if stop {
                knee = Some(rate);
                break;
            }
        }
        if !args.json {
            match knee {
                Some(rate) => {
                    println!("first rate with p99 > 50 ms (or publishers short of it): {rate:.0}/s")
                }
                None => println!(
                    "p99 stayed within 50 ms up to {:.0}/s",
                    args.rates.last().copied().unwrap_or(0.0)
                ),
            }
        }
    } else {
        let report = run_scenario(&target, &params, args.broker_pid).await;
        if !args.json {
            println!("{}", report.human());
        }
        reports.push(report);
    }
    if args.json {
        let json = if reports.len() == 1 && args.rates.is_empty() {
            serde_json::to_string(&reports[0])
        } else {
            serde_json::to_string(&Steps {
                steps: &reports,
                first_saturated_rate: knee,
            })
        };
        match json {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("hornet-bench: {e}"),
        }
    }
    if reports.iter().any(|r| r.failed) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
