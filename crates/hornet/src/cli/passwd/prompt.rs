//! The password prompt of `hornet passwd`: `Password: ` and `Reenter
//! password: ` on the terminal without echo (rpassword), or one line each
//! from standard input when it is not a terminal (a pipe), as
//! `mosquitto_passwd` does.

use std::io::{BufRead, IsTerminal, Write};

use super::file::io_reason;
use super::{fail, Failure};

/// Asks for the password twice (see the module doc).
pub(super) fn ask_password() -> Result<String, Failure> {
    let first = prompt("Password: ")?;
    if first.is_empty() {
        return fail("Empty password.");
    }
    let second = prompt("Reenter password: ")?;
    if second.is_empty() {
        return fail("Empty password.");
    }
    if first != second {
        return Err(Failure {
            code: 2,
            message: "Passwords do not match.".into(),
        });
    }
    Ok(first)
}

/// One password: without echo from the terminal, or one line of standard
/// input when it is not a terminal (empty at its end).
fn prompt(text: &str) -> Result<String, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return rpassword::prompt_password(text)
            .or_else(|e| fail(format!("Cannot read the password: {}.", io_reason(&e))));
    }
    let mut out = std::io::stdout();
    let _ = write!(out, "{text}");
    let _ = out.flush();
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .or_else(|e| fail(format!("Cannot read the password: {}.", io_reason(&e))))?;
    let _ = writeln!(out);
    let line = line.strip_suffix('\n').unwrap_or(&line);
    Ok(line.strip_suffix('\r').unwrap_or(line).to_string())
}
