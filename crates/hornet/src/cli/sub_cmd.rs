//! `hornet sub`: subscribe and print messages, with `mosquitto_sub`'s
//! options, output and exit codes.
//!
//! All `-t` filters go in one SUBSCRIBE at `-q`; `-U` filters are then
//! unsubscribed. Each message is printed as [`Output`] says (`-v`, `-N`,
//! `-F`); `-R` skips retained messages, `-T` skips topics matching a
//! filter, `--retained-only` stops at the first live message,
//! `--remove-retained` clears each retained message received. `-C N` exits
//! 0 after N printed messages, `-E` right after the SUBACK, `-W S` exits
//! 27 after S seconds, Ctrl-C and SIGTERM disconnect cleanly and exit 0.
//!
//! A lost connection is not the end: like `mosquitto_sub`, `hornet sub`
//! reconnects every second (see [`connect::reconnect`]) with the same
//! client id, and subscribes again unless the broker kept the session
//! (CONNACK session present 1). `-C` counts across connections; `-W`
//! still counts from the start.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::Args;
use hornet_codec::{Publish, QoS, SubscribeFilter, SubscriptionOptions};

use super::client_args::{v5_only, ClientArgs, Resolved};
use super::connect::{self, error, EXIT_TIMEOUT};
use super::format::Output;
use crate::client::session::{ClientError, Session};

/// Options of `hornet sub` (those of `mosquitto_sub`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct SubArgs {
    /// Connection, identity, will, TLS and property options.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Topic filter to subscribe to; may be repeated.
    #[arg(short = 't', long = "topic", value_name = "FILTER")]
    pub topics: Vec<String>,
    /// Quality of service of the subscriptions: 0, 1 or 2. Defaults to 0.
    #[arg(short = 'q', long = "qos", value_name = "QOS", default_value_t = 0,
          value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// Exit after receiving this many messages.
    #[arg(short = 'C', long = "count", value_name = "COUNT",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Exit (code 27) after this many seconds.
    #[arg(short = 'W', long = "timeout", value_name = "SECONDS",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub timeout: Option<u32>,
    /// Do not print stale messages (those with retain set).
    #[arg(short = 'R', long = "no-retained")]
    pub no_retained: bool,
    /// Do not add an end of line after each message.
    #[arg(short = 'N', long = "no-eol")]
    pub no_eol: bool,
    /// Print `topic payload`.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Output format (%t topic, %p payload, %j JSON, ...; see docs/cli.md).
    #[arg(short = 'F', long = "format", value_name = "FORMAT")]
    pub format: Option<String>,
    /// Print `-F %j` / `%J` JSON laid out on several lines.
    #[arg(long = "pretty")]
    pub pretty: bool,
    /// Topic filter whose messages are not printed; may be repeated.
    #[arg(short = 'T', long = "filter-out", value_name = "FILTER")]
    pub filter_out: Vec<String>,
    /// Topic filter to unsubscribe from after subscribing; may be repeated.
    #[arg(short = 'U', long = "unsubscribe", value_name = "FILTER")]
    pub unsubscribe: Vec<String>,
    /// Exit once the subscriptions are acknowledged.
    #[arg(short = 'E', long = "exit-after-sub")]
    pub exit_after_sub: bool,
    /// Handle only retained messages; exit at the first live one.
    #[arg(long = "retained-only")]
    pub retained_only: bool,
    /// Clear every retained message received (publish an empty retained message).
    #[arg(long = "remove-retained")]
    pub remove_retained: bool,
}

const USAGE: &str = "Use 'hornet sub --help' to see usage.";

/// Runs `hornet sub`; the exit code is `mosquitto_sub`'s.
pub fn run(args: SubArgs) -> ExitCode {
    let quiet = args.client.quiet;
    let resolved = match args.client.resolve("sub") {
        Ok(r) => r,
        Err(e) => {
            error(quiet, &format!("{e}\n{USAGE}"));
            return ExitCode::from(1);
        }
    };
    let mut topics = args.topics.clone();
    topics.extend(resolved.url_topic.clone());
    if topics.is_empty() {
        error(
            quiet,
            &format!("Error: You must specify a topic to subscribe to.\n{USAGE}"),
        );
        return ExitCode::from(1);
    }
    for filter in topics
        .iter()
        .chain(&args.filter_out)
        .chain(&args.unsubscribe)
    {
        if let Err(e) = hornet_codec::topic::validate_filter(filter) {
            error(quiet, &format!("Error: Invalid subscription topic '{filter}', are all '+' and '#' wildcards correct? ({e})\n{USAGE}"));
            return ExitCode::from(1);
        }
    }
    if let Some(format) = &args.format {
        if let Err(e) = super::format::check(format) {
            error(quiet, &format!("{e}\n{USAGE}"));
            return ExitCode::from(1);
        }
    }
    let rt = match connect::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(subscribe(&args, &resolved, topics))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Sleeps until the `-W` deadline, forever without one.
async fn deadline(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn subscribe(args: &SubArgs, r: &Resolved, topics: Vec<String>) -> ExitCode {
    // -W counts from the start, as mosquitto_sub's alarm does.
    let until = args
        .timeout
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(u64::from(s)));
    let timed_out = || {
        error(r.quiet, "Timed out");
        ExitCode::from(EXIT_TIMEOUT)
    };
    let mut session = tokio::select! {
        opened = connect::open(r, false) => match opened {
            Ok(s) => s,
            Err(code) => return code,
        },
        _ = deadline(until) => return timed_out(),
        _ = interrupted() => return ExitCode::SUCCESS,
    };
    let mut progress = Progress {
        printed: 0,
        subscribe: true,
    };
    loop {
        // Stopped by -W or a signal, the session still says DISCONNECT,
        // so the broker drops the will as for mosquitto_sub.
        let outcome = tokio::select! {
            done = receive(&mut session, args, r, &topics, &mut progress) => done,
            _ = deadline(until) => Err(Stop::Code(timed_out())),
            _ = interrupted() => Ok(()),
        };
        let code = match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(Stop::Code(code)) => code,
            Err(Stop::Client(e)) if connect::is_lost(&e) => {
                let again = tokio::select! {
                    again = connect::reconnect(&mut session, r, false) => again,
                    _ = deadline(until) => return timed_out(),
                    _ = interrupted() => return ExitCode::SUCCESS,
                };
                match again {
                    Ok(connack) => progress.subscribe |= !connack.session_present,
                    Err(code) => return code,
                }
                continue;
            }
            Err(Stop::Client(e)) => return connect::failed(r.quiet, &e),
        };
        let props = v5_only(session.protocol(), &r.props.disconnect);
        return match session.disconnect(props).await {
            Ok(()) => code,
            Err(e) => connect::failed(r.quiet, &e),
        };
    }
}

/// What outlives a connection.
struct Progress {
    /// Messages printed so far (for `-C`).
    printed: u64,
    /// Whether to subscribe (again) on this connection.
    subscribe: bool,
}

enum Stop {
    Code(ExitCode),
    Client(ClientError),
}

impl From<ClientError> for Stop {
    fn from(e: ClientError) -> Self {
        Stop::Client(e)
    }
}

/// Subscribes (unless the broker kept the subscriptions), then prints
/// messages until `-C`, `-E` or `--retained-only` say stop.
async fn receive(
    session: &mut Session,
    args: &SubArgs,
    r: &Resolved,
    topics: &[String],
    progress: &mut Progress,
) -> Result<(), Stop> {
    if progress.subscribe {
        subscribe_all(session, args, r, topics).await?;
        progress.subscribe = false;
        if args.exit_after_sub {
            return Ok(());
        }
    }
    let output = Output {
        verbose: args.verbose,
        no_eol: args.no_eol,
        format: args.format.clone(),
        pretty: args.pretty,
    };
    loop {
        let msg = session.next_message().await?;
        if args.retained_only && !msg.retain {
            return Ok(());
        }
        if args.remove_retained && msg.retain && !msg.payload.is_empty() {
            let mut clear = Publish::new(msg.topic.clone(), bytes::Bytes::new());
            clear.retain = true;
            session.publish(clear).await?;
        }
        if args.no_retained && msg.retain {
            continue;
        }
        if args
            .filter_out
            .iter()
            .any(|f| hornet_codec::topic::matches(f, &msg.topic))
        {
            continue;
        }
        let (bytes, warning) = output.render(&msg, SystemTime::now());
        if let Some(w) = warning {
            error(r.quiet, &w);
        }
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(&bytes);
        let _ = stdout.flush();
        progress.printed += 1;
        if args.count.is_some_and(|c| progress.printed >= c) {
            return Ok(());
        }
    }
}

/// The SUBSCRIBE of every `-t` filter, then the UNSUBSCRIBE of `-U`.
async fn subscribe_all(
    session: &mut Session,
    args: &SubArgs,
    r: &Resolved,
    topics: &[String],
) -> Result<(), Stop> {
    let qos = QoS::from_u8(args.qos).expect("checked by clap");
    let filters = topics
        .iter()
        .map(|t| SubscribeFilter {
            filter: t.as_str().into(),
            options: SubscriptionOptions::qos(qos),
        })
        .collect();
    let suback = session
        .subscribe(filters, v5_only(session.protocol(), &r.props.subscribe))
        .await?;
    let granted: Vec<u8> = suback
        .reason_codes
        .iter()
        .map(|c| if c.is_error() { 0x80 } else { c.as_u8() })
        .collect();
    if r.debug {
        let list: Vec<String> = granted.iter().map(|g| g.to_string()).collect();
        println!(
            "Subscribed (mid: {}): {}",
            suback.packet_id,
            list.join(", ")
        );
    }
    if !granted.is_empty() && granted.iter().all(|g| *g == 0x80) {
        error(r.quiet, "All subscription requests were denied.");
        return Err(Stop::Code(ExitCode::from(1)));
    }
    if !args.unsubscribe.is_empty() {
        let filters = args.unsubscribe.iter().map(|f| f.as_str().into()).collect();
        session
            .unsubscribe(filters, v5_only(session.protocol(), &r.props.unsubscribe))
            .await?;
    }
    Ok(())
}
