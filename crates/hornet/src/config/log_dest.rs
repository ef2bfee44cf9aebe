//! Where log lines go: Mosquitto's `log_dest` values (`stdout`, `stderr`,
//! `file PATH`, `syslog`, `topic`, `none`), read from one mosquitto.conf
//! line or one string of hornet.toml's `[log] dests`, written back the
//! same way.

use std::fmt;
use std::path::PathBuf;

/// One `log_dest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogDest {
    /// Standard output.
    Stdout,
    /// Standard error (the default when none is given).
    Stderr,
    /// A file, appended to, reopened on SIGHUP (for logrotate).
    File(PathBuf),
    /// The local syslog daemon (`/dev/log`), with `log_facility`.
    Syslog,
    /// `$SYS/broker/log/<level>` topics, as Mosquitto publishes them.
    Topic,
    /// Nowhere (turns every other destination off, as in Mosquitto).
    None,
}

impl LogDest {
    /// Reads `stdout`, `stderr`, `file PATH`, `syslog`, `topic` or `none`
    /// (the words after `log_dest`; a path may contain spaces).
    pub fn parse(text: &str) -> Result<LogDest, String> {
        let text = text.trim();
        let (word, rest) = text
            .split_once(char::is_whitespace)
            .map_or((text, ""), |(w, r)| (w, r.trim()));
        let simple = |d: LogDest| {
            if rest.is_empty() {
                Ok(d)
            } else {
                Err(format!("log_dest {word} takes no argument, not {rest:?}"))
            }
        };
        match word {
            "stdout" => simple(LogDest::Stdout),
            "stderr" => simple(LogDest::Stderr),
            "syslog" => simple(LogDest::Syslog),
            "topic" => simple(LogDest::Topic),
            "none" => simple(LogDest::None),
            "file" if rest.is_empty() => {
                Err("log_dest file needs a path, e.g. `log_dest file /var/log/hornet.log`".into())
            }
            "file" => Ok(LogDest::File(PathBuf::from(rest))),
            other => Err(format!(
                "log_dest must be stdout, stderr, file PATH, syslog, topic or none, not {other:?}"
            )),
        }
    }
}

impl fmt::Display for LogDest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogDest::Stdout => f.write_str("stdout"),
            LogDest::Stderr => f.write_str("stderr"),
            LogDest::File(p) => write!(f, "file {}", p.display()),
            LogDest::Syslog => f.write_str("syslog"),
            LogDest::Topic => f.write_str("topic"),
            LogDest::None => f.write_str("none"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_reads_and_prints_back() {
        for text in [
            "stdout",
            "stderr",
            "syslog",
            "topic",
            "none",
            "file /var/log/a b.log",
        ] {
            assert_eq!(LogDest::parse(text).unwrap().to_string(), text);
        }
        assert!(LogDest::parse("file").unwrap_err().contains("needs a path"));
        assert!(LogDest::parse("stdout x")
            .unwrap_err()
            .contains("no argument"));
        assert!(LogDest::parse("dlt").unwrap_err().contains("not \"dlt\""));
    }
}
