//! `hornet pub`: publish one message (or one per line of stdin) and exit,
//! with `mosquitto_pub`'s options, output and exit codes.
//!
//! The payload comes from exactly one of `-m` (the argument), `-f` (a
//! file, read before connecting), `-s` (all of stdin, one message), `-l`
//! (one message per line of stdin, without the newline; empty lines are
//! empty messages) or `-n` (a zero-length message). `--repeat N` sends a
//! `-m`/`-f`/`-s`/`-n` message N times, `--repeat-delay S` seconds apart.
//! Each QoS 1/2 message's flow completes before the next is sent.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use hornet_codec::{Publish, QoS};
use tokio::io::AsyncBufReadExt;

use super::client_args::{v5_only, ClientArgs, Resolved};
use super::connect::{self, error};
use crate::client::session::Session;

/// Options of `hornet pub` (those of `mosquitto_pub`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct PubArgs {
    /// Connection, identity, will, TLS and property options.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Topic to publish to.
    #[arg(short = 't', long = "topic", value_name = "TOPIC")]
    pub topic: Option<String>,
    /// Message payload.
    #[arg(
        short = 'm',
        long = "message",
        value_name = "MESSAGE",
        allow_hyphen_values = true
    )]
    pub message: Option<String>,
    /// Send the contents of a file as the message.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Read stdin, sending a separate message for each line.
    #[arg(short = 'l', long = "stdin-line")]
    pub lines: bool,
    /// Read stdin, sending the whole input as one message.
    #[arg(short = 's', long = "stdin-file")]
    pub stdin: bool,
    /// Send a null (zero length) message.
    #[arg(short = 'n', long = "null-message")]
    pub null: bool,
    /// Quality of service: 0, 1 or 2. Defaults to 0.
    #[arg(short = 'q', long = "qos", value_name = "QOS", default_value_t = 0,
          value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// Retain the message.
    #[arg(short = 'r', long = "retain")]
    pub retain: bool,
    /// Publish the message N times (with -m, -f, -s or -n).
    #[arg(long = "repeat", value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Seconds between repeats (may be fractional). Defaults to 0.
    #[arg(long = "repeat-delay", value_name = "SECONDS", default_value = "0", value_parser = parse_delay)]
    pub repeat_delay: Duration,
    /// Accepted for compatibility: one message is in flight at a time.
    #[arg(short = 'M', value_name = "MAX_INFLIGHT")]
    pub max_inflight: Option<u16>,
}

/// Where the payload comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Fixed(Bytes),
    Lines,
}

/// `--repeat-delay`: seconds, possibly fractional.
fn parse_delay(s: &str) -> Result<Duration, String> {
    s.parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("invalid delay {s}: a number of seconds, 0 or more"))
}

const USAGE: &str = "Use 'hornet pub --help' to see usage.";

impl PubArgs {
    /// Checks the options and reads a fixed payload (`-f`, `-s`, `-n`, `-m`).
    fn source(&self) -> Result<Source, String> {
        let given = [
            self.message.is_some(),
            self.file.is_some(),
            self.lines,
            self.stdin,
            self.null,
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if given > 1 {
            return Err("Error: Only one type of message can be sent at once.".into());
        }
        if self.repeat > 1 && self.lines {
            return Err("Error: --repeat can only be used with -m, -f, -s or -n.".into());
        }
        if let Some(m) = &self.message {
            return Ok(Source::Fixed(Bytes::from(m.clone().into_bytes())));
        }
        if let Some(path) = &self.file {
            return std::fs::read(path)
                .map(|b| Source::Fixed(b.into()))
                .map_err(|e| format!("Error: Unable to read file \"{}\": {e}.", path.display()));
        }
        if self.null {
            return Ok(Source::Fixed(Bytes::new()));
        }
        if self.lines {
            return Ok(Source::Lines);
        }
        if self.stdin {
            let mut all = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut all)
                .map_err(|e| format!("Error: Unable to read stdin: {e}."))?;
            return Ok(Source::Fixed(all.into()));
        }
        Err("Error: Both topic and message must be supplied.".into())
    }
}

/// Runs `hornet pub`; the exit code is `mosquitto_pub`'s.
pub fn run(args: PubArgs) -> ExitCode {
    let quiet = args.client.quiet;
    let resolved = match args.client.resolve("pub") {
        Ok(r) => r,
        Err(e) => {
            error(quiet, &format!("{e}\n{USAGE}"));
            return ExitCode::from(1);
        }
    };
    let Some(topic) = args.topic.clone().or_else(|| resolved.url_topic.clone()) else {
        error(
            quiet,
            &format!("Error: Both topic and message must be supplied.\n{USAGE}"),
        );
        return ExitCode::from(1);
    };
    if let Err(e) = hornet_codec::topic::validate_name(&topic) {
        error(quiet, &format!("Error: Invalid publish topic '{topic}', does it contain '+' or '#'? ({e})\n{USAGE}"));
        return ExitCode::from(1);
    }
    let source = match args.source() {
        Ok(s) => s,
        Err(e) => {
            error(quiet, &format!("{e}\n{USAGE}"));
            return ExitCode::from(1);
        }
    };
    let rt = match connect::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(publish(&args, &resolved, &topic, source))
}

async fn publish(args: &PubArgs, r: &Resolved, topic: &str, source: Source) -> ExitCode {
    let mut session = match connect::open(r, true).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let result = match source {
        Source::Fixed(payload) => {
            let mut result = Ok(());
            for i in 0..args.repeat {
                if i > 0 && !args.repeat_delay.is_zero() {
                    tokio::time::sleep(args.repeat_delay).await;
                }
                result = send(&mut session, args, r, topic, payload.clone()).await;
                if result.is_err() {
                    break;
                }
            }
            result
        }
        Source::Lines => {
            let mut stdin = tokio::io::BufReader::new(tokio::io::stdin());
            let mut line = Vec::new();
            loop {
                line.clear();
                match stdin.read_until(b'\n', &mut line).await {
                    Ok(0) => break Ok(()),
                    Ok(_) => {
                        if line.last() == Some(&b'\n') {
                            line.pop();
                        }
                        let payload = Bytes::copy_from_slice(&line);
                        if let Err(code) = send(&mut session, args, r, topic, payload).await {
                            break Err(code);
                        }
                    }
                    Err(e) => {
                        error(r.quiet, &format!("Error: Unable to read stdin: {e}."));
                        break Err(ExitCode::from(1));
                    }
                }
            }
        }
    };
    if let Err(code) = result {
        return code;
    }
    let props = v5_only(session.protocol(), &r.props.disconnect);
    match session.disconnect(props).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => connect::failed(r.quiet, &e),
    }
}

/// Publishes one message and waits for its flow; a refusal by the broker
/// (MQTT 5 reason code ≥ 0x80) is a warning, as for mosquitto_pub.
async fn send(
    session: &mut Session,
    args: &PubArgs,
    r: &Resolved,
    topic: &str,
    payload: Bytes,
) -> Result<(), ExitCode> {
    let mut p = Publish::new(topic, payload);
    p.qos = QoS::from_u8(args.qos).expect("checked by clap");
    p.retain = args.retain;
    p.properties = v5_only(session.protocol(), &r.props.publish);
    match session.publish(p).await {
        Ok(outcome) => {
            if outcome.reason.is_error() {
                error(
                    r.quiet,
                    &format!(
                        "Warning: Publish {} failed: {}.",
                        outcome.mid,
                        outcome.reason.name()
                    ),
                );
            }
            Ok(())
        }
        Err(e) => Err(connect::failed(r.quiet, &e)),
    }
}
