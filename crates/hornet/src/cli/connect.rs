//! Connecting for `hornet pub`/`hornet sub`, and the end of a run as
//! Mosquitto's tools end it: the same messages and exit codes.
//!
//! | what happened | message (stderr) | exit code |
//! | --- | --- | --- |
//! | bad or missing arguments | `Error: ...` | 1 |
//! | TCP connect failed | `Error: Connection refused` (the OS's words) | 1 |
//! | host name did not resolve | `Unable to connect (Lookup error.).` | 1 |
//! | TLS handshake failed | `Unable to connect (A TLS error occurred.).` and the reason | 1 |
//! | WebSocket upgrade failed | `Error: WebSocket error: ...` | 1 |
//! | CONNACK refused, MQTT 3.x | `Connection error: Connection Refused: not authorised.` | the return code (1 to 5) |
//! | CONNACK refused, MQTT 5 | `Connection error: Not authorized` | the reason code (e.g. 135) |
//! | connection lost (`hornet pub` except `-l`) | `Error: The connection was lost.` | 1 |
//! | a reconnection refused by CONNACK | as for the first CONNECT | as for the first CONNECT |
//! | `hornet sub -W` timed out | `Timed out` | 27 |
//!
//! `--quiet` silences the messages, not the exit codes.
//!
//! `hornet sub` and `hornet pub -l` reconnect instead of exiting when an
//! established connection is lost (closed, keep-alive unanswered, or a
//! DISCONNECT from the broker), as libmosquitto's `loop_forever` does for
//! `mosquitto_sub` and `mosquitto_pub -l`: [`reconnect`] waits
//! [`RECONNECT_DELAY`] and tries again, silently, until it is back.

use std::process::ExitCode;
use std::time::Duration;

use hornet_codec::{ConnAck, Protocol, ReasonCode};

use super::client_args::Resolved;
use crate::client::session::{ClientError, Session};
use crate::client::transport::{self, ConnectError};

/// `mosquitto_sub -W`'s exit code when the time is up.
pub(crate) const EXIT_TIMEOUT: u8 = 27;

/// How long to wait before each reconnection attempt: libmosquitto's
/// default reconnect delay (1 s, no backoff), which `mosquitto_sub` keeps.
pub(crate) const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Prints an error unless `--quiet`.
pub(crate) fn error(quiet: bool, message: &str) {
    if !quiet {
        eprintln!("{message}");
    }
}

/// Connects and completes CONNECT/CONNACK; on failure prints what
/// Mosquitto's tool would and returns the exit code. `is_pub` adds
/// `mosquitto_pub`'s second line on a refusal.
pub(crate) async fn open(r: &Resolved, is_pub: bool) -> Result<Session, ExitCode> {
    let stream = match transport::connect(&r.target).await {
        Ok(s) => s,
        Err(ConnectError::Lookup) => {
            error(r.quiet, "Unable to connect (Lookup error.).");
            return Err(ExitCode::from(1));
        }
        Err(ConnectError::Tcp(e)) => {
            error(r.quiet, &format!("Error: {}", os_words(&e)));
            return Err(ExitCode::from(1));
        }
        Err(ConnectError::Tls(why)) => {
            // Mosquitto's words first (scripts match them), then why.
            // (Mosquitto's tools say this when the handshake fails in
            // their connect call; when it fails in their network loop,
            // they say `Error: A TLS error occurred.` and exit 8.)
            error(
                r.quiet,
                &format!("Unable to connect (A TLS error occurred.).\nTLS: {why}"),
            );
            return Err(ExitCode::from(1));
        }
        Err(e) => {
            error(r.quiet, &format!("Error: {e}"));
            return Err(ExitCode::from(1));
        }
    };
    let protocol = r.connect.protocol;
    match Session::connect(stream, r.connect.clone(), r.debug).await {
        Ok((session, _connack)) => Ok(session),
        Err(ClientError::Refused(code)) => Err(refused(r, protocol, code, is_pub)),
        Err(e) => Err(failed(r.quiet, &e)),
    }
}

/// Prints a CONNACK refusal as Mosquitto's tools do; its exit code.
fn refused(r: &Resolved, protocol: Protocol, code: ReasonCode, is_pub: bool) -> ExitCode {
    let (text, exit) = refusal(protocol, code);
    error(r.quiet, &format!("Connection error: {text}"));
    if is_pub {
        error(r.quiet, "Error: The connection was refused.");
    }
    ExitCode::from(exit)
}

/// Whether `e` ends only the connection, not the run: `hornet sub` and
/// `hornet pub -l` then reconnect. Protocol errors end the run, as
/// they end libmosquitto's loop.
pub(crate) fn is_lost(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Io(_) | ClientError::KeepAlive(_) | ClientError::Disconnected(..)
    )
}

/// Connects `session` again after a lost connection: waits
/// [`RECONNECT_DELAY`], tries, and repeats until the broker answers
/// CONNACK. A refusal ends the run (its message and exit code as for the
/// first CONNECT).
pub(crate) async fn reconnect(
    session: &mut Session,
    r: &Resolved,
    is_pub: bool,
) -> Result<ConnAck, ExitCode> {
    loop {
        tokio::time::sleep(RECONNECT_DELAY).await;
        let Ok(stream) = transport::connect(&r.target).await else {
            continue;
        };
        match session.reconnect(stream, r.connect.clone()).await {
            Ok(connack) => return Ok(connack),
            Err(ClientError::Refused(code)) => {
                return Err(refused(r, r.connect.protocol, code, is_pub))
            }
            Err(_) => continue,
        }
    }
}

/// Reports an error after the connection was up; exit code 1.
pub(crate) fn failed(quiet: bool, e: &ClientError) -> ExitCode {
    let text = match e {
        ClientError::Io(_) => "Error: The connection was lost.".to_string(),
        ClientError::Disconnected(code, reason) => match reason {
            Some(reason) => format!(
                "Error: The broker disconnected us: {} ({reason}).",
                code.name()
            ),
            None => format!("Error: The broker disconnected us: {}.", code.name()),
        },
        other => format!("Error: {other}"),
    };
    error(quiet, &text);
    ExitCode::from(1)
}

/// The OS's words for a failed connect, as strerror says them.
fn os_words(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "Connection refused".into(),
        _ => {
            let s = e.to_string();
            // "Connection refused (os error 111)" → "Connection refused".
            match s.find(" (os error") {
                Some(at) => s[..at].to_string(),
                None => s,
            }
        }
    }
}

/// The words and exit code for a refused CONNECT: libmosquitto's
/// `mosquitto_connack_string` for 3.x, the reason code's name for 5.
pub(crate) fn refusal(protocol: Protocol, code: ReasonCode) -> (String, u8) {
    if protocol.is_v5() {
        return (code.name().to_string(), code.as_u8());
    }
    let v3 = code.to_v3_connack();
    let text = match v3 {
        1 => "Connection Refused: unacceptable protocol version.",
        2 => "Connection Refused: identifier rejected.",
        3 => "Connection Refused: broker unavailable.",
        4 => "Connection Refused: bad user name or password.",
        5 => "Connection Refused: not authorised.",
        _ => "Connection Refused: unknown reason.",
    };
    (text.to_string(), v3)
}

/// A current-thread runtime for one client command.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("Error: cannot start the runtime: {e}");
            ExitCode::from(1)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words and codes mosquitto_pub/sub 2.0 print for a refusal.
    #[test]
    fn refusals_are_worded_like_mosquitto() {
        assert_eq!(
            refusal(Protocol::V3_1_1, ReasonCode::NotAuthorized),
            ("Connection Refused: not authorised.".into(), 5)
        );
        assert_eq!(
            refusal(Protocol::V3_1, ReasonCode::BadUserNameOrPassword),
            ("Connection Refused: bad user name or password.".into(), 4)
        );
        assert_eq!(
            refusal(Protocol::V5, ReasonCode::NotAuthorized),
            ("Not authorized".into(), 135)
        );
    }
}
