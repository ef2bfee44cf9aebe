//! `hornet pub`: publish one message (or one per line of stdin) and exit,
//! with `mosquitto_pub`'s options, output and exit codes.
//!
//! The payload comes from exactly one of `-m` (the argument), `-f` (a
//! file, read before connecting), `-s` (all of stdin, one message), `-l`
//! (one message per line of stdin, without the newline; empty lines are
//! empty messages) or `-n` (a zero-length message). `--repeat N` sends a
//! `-m`/`-f`/`-s`/`-n` message N times, `--repeat-delay S` seconds apart.
//!
//! With `-l`, up to `-M` (default 20, as `mosquitto_pub`) QoS 1/2
//! messages are in flight at once, fewer if the broker's Receive Maximum
//! says so; lines are read on a thread of their own while the broker's
//! acknowledgements come in, and the run ends (DISCONNECT) once stdin is
//! at its end and every flow has finished. A lost connection is then
//! reconnected as `mosquitto_pub -l` does, the unacknowledged messages
//! sent again. Other modes publish one message at a time and exit 1 when
//! the connection is lost.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::client_args::{v5_only, ClientArgs, Resolved};
use super::connect::{self, error};
use crate::client::session::{ClientError, Filled, Session};
use bytes::Bytes;
use clap::Args;
use hornet_codec::{Publish, QoS};

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
    /// The maximum number of QoS 1/2 messages in flight. Defaults to 20.
    #[arg(short = 'M', value_name = "MAX_INFLIGHT", default_value_t = 20,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub max_inflight: u16,
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
        Source::Lines => lines(&mut session, args, r, topic).await,
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

/// A line of stdin (without its newline), or why reading failed.
type Line = std::io::Result<Vec<u8>>;

/// Reads stdin line by line on a thread (a blocking read must not stall
/// the acknowledgements); the channel closes at the end of input.
fn read_lines() -> tokio::sync::mpsc::Receiver<Line> {
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        loop {
            let mut line = Vec::new();
            match std::io::BufRead::read_until(&mut stdin, b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    if tx.blocking_send(Ok(line)).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    rx
}

/// `-l`: one message per line, up to the window in flight; reconnects
/// when the connection is lost.
async fn lines(
    session: &mut Session,
    args: &PubArgs,
    r: &Resolved,
    topic: &str,
) -> Result<(), ExitCode> {
    session.set_max_inflight(args.max_inflight);
    let mut input = read_lines();
    let mut eof = false;
    loop {
        match pump_lines(session, args, r, topic, &mut input, &mut eof).await {
            Ok(()) => return Ok(()),
            Err(LinesError::Exit(code)) => return Err(code),
            Err(LinesError::Client(e)) if connect::is_lost(&e) => {
                connect::reconnect(session, r, true).await?;
            }
            Err(LinesError::Client(e)) => return Err(connect::failed(r.quiet, &e)),
        }
    }
}

enum LinesError {
    Exit(ExitCode),
    Client(ClientError),
}

impl From<ClientError> for LinesError {
    fn from(e: ClientError) -> Self {
        LinesError::Client(e)
    }
}

/// Sends lines while the window has room and reads the broker's
/// acknowledgements, until stdin ended and nothing is in flight.
async fn pump_lines(
    session: &mut Session,
    args: &PubArgs,
    r: &Resolved,
    topic: &str,
    input: &mut tokio::sync::mpsc::Receiver<Line>,
    eof: &mut bool,
) -> Result<(), LinesError> {
    use tokio::sync::mpsc::error::TryRecvError;
    loop {
        // Send what is already read, as far as the window allows.
        while !*eof && session.window() > 0 {
            match input.try_recv() {
                Ok(Ok(line)) => {
                    session
                        .start_publish(message(session, args, r, topic, line.into()))
                        .await?;
                }
                Ok(Err(e)) => {
                    error(r.quiet, &format!("Error: Unable to read stdin: {e}."));
                    return Err(LinesError::Exit(ExitCode::from(1)));
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => *eof = true,
            }
        }
        warn_refused(session, r);
        if *eof && session.inflight() == 0 {
            return Ok(());
        }
        let room = !*eof && session.window() > 0;
        tokio::select! {
            line = input.recv(), if room => match line {
                Some(Ok(line)) => {
                    session.start_publish(message(session, args, r, topic, line.into())).await?;
                }
                Some(Err(e)) => {
                    error(r.quiet, &format!("Error: Unable to read stdin: {e}."));
                    return Err(LinesError::Exit(ExitCode::from(1)));
                }
                None => *eof = true,
            },
            filled = session.fill() => match filled? {
                Filled::Data => session.handle_buffered().await?,
                Filled::Timer => session.keep_alive_due().await?,
            },
        }
    }
}

/// The PUBLISH for `payload` as the options say.
fn message(
    session: &Session,
    args: &PubArgs,
    r: &Resolved,
    topic: &str,
    payload: Bytes,
) -> Publish {
    let mut p = Publish::new(topic, payload);
    p.qos = QoS::from_u8(args.qos).expect("checked by clap");
    p.retain = args.retain;
    p.properties = v5_only(session.protocol(), &r.props.publish);
    p
}

/// Prints mosquitto_pub's warning for each message the broker refused
/// (MQTT 5 reason code ≥ 0x80).
fn warn_refused(session: &mut Session, r: &Resolved) {
    for outcome in session.take_completed() {
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
    let p = message(session, args, r, topic, payload);
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
