//! One `topic` line of a bridge, with Mosquitto's prefix rules:
//! `topic pattern [[[ out | in | both ] qos-level] local-prefix remote-prefix]`.
//!
//! - The direction defaults to `out`, the QoS to 0.
//! - `""` stands for "empty", for the pattern and for either prefix.
//! - A prefix is a topic name (no wildcards); prefix + pattern must be a
//!   valid topic filter.
//! - An empty pattern needs both prefixes: it bridges exactly the one topic
//!   `local-prefix` to `remote-prefix`.
//! - The bridge subscribes locally to `local-prefix + pattern` (out, both)
//!   and remotely to `remote-prefix + pattern` (in, both). A message that
//!   crosses has the one side's prefix removed from the front of its topic
//!   and the other side's put there.

use hornet_codec::topic;

/// Which way messages cross.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Local to remote.
    Out,
    /// Remote to local.
    In,
    /// Both.
    Both,
}

impl Direction {
    /// Local messages go to the remote.
    pub fn out(self) -> bool {
        matches!(self, Direction::Out | Direction::Both)
    }

    /// Remote messages come in.
    pub fn incoming(self) -> bool {
        matches!(self, Direction::In | Direction::Both)
    }

    /// The word in the file.
    pub fn word(self) -> &'static str {
        match self {
            Direction::Out => "out",
            Direction::In => "in",
            Direction::Both => "both",
        }
    }
}

/// One `topic` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeTopic {
    /// The pattern; empty for `""`.
    pub pattern: String,
    /// Which way.
    pub direction: Direction,
    /// The QoS of both subscriptions (0..=2).
    pub qos: u8,
    /// Removed from / put before local topics; `None` for none or `""`.
    pub local_prefix: Option<String>,
    /// Removed from / put before remote topics; `None` for none or `""`.
    pub remote_prefix: Option<String>,
}

fn marker(word: &str) -> Option<&str> {
    (word != "\"\"").then_some(word)
}

impl BridgeTopic {
    /// Parses the words after `topic`; the error says what is wrong.
    pub fn parse(words: &[&str]) -> Result<BridgeTopic, String> {
        let Some(&pattern) = words.first() else {
            return Err("topic needs a pattern: `topic PATTERN [[[out|in|both] QOS] LOCAL_PREFIX REMOTE_PREFIX]`".into());
        };
        if words.len() > 5 {
            return Err(format!(
                "topic takes at most 5 words (pattern, direction, qos, local prefix, remote prefix), not {}",
                words.len()
            ));
        }
        let direction = match words.get(1).map(|w| w.to_ascii_lowercase()) {
            None => Direction::Out,
            Some(w) if w == "out" => Direction::Out,
            Some(w) if w == "in" => Direction::In,
            Some(w) if w == "both" => Direction::Both,
            Some(w) => {
                return Err(format!(
                    "invalid bridge topic direction {w:?}: out, in or both"
                ))
            }
        };
        let qos = match words.get(2) {
            None => 0,
            Some(q) => match q.parse::<u8>() {
                Ok(q @ 0..=2) => q,
                _ => return Err(format!("invalid bridge QoS level {q:?}: 0, 1 or 2")),
            },
        };
        if words.len() == 4 {
            return Err(
                "a bridge topic with a local prefix needs a remote prefix too (\"\" for none)"
                    .into(),
            );
        }
        BridgeTopic::new(
            marker(pattern).unwrap_or(""),
            direction,
            qos,
            words.get(3).and_then(|w| marker(w)),
            words.get(4).and_then(|w| marker(w)),
        )
    }

    /// A topic mapping, checked as Mosquitto checks it.
    pub fn new(
        pattern: &str,
        direction: Direction,
        qos: u8,
        local_prefix: Option<&str>,
        remote_prefix: Option<&str>,
    ) -> Result<BridgeTopic, String> {
        for (side, prefix) in [("local", local_prefix), ("remote", remote_prefix)] {
            if let Some(p) = prefix {
                topic::validate_name(p)
                    .map_err(|e| format!("invalid bridge topic {side} prefix {p:?}: {e}"))?;
            }
        }
        if pattern.is_empty() && (local_prefix.is_none() || remote_prefix.is_none()) {
            return Err(
                "invalid bridge remapping: an empty (\"\") pattern needs both a local and a remote prefix"
                    .into(),
            );
        }
        let t = BridgeTopic {
            pattern: pattern.to_string(),
            direction,
            qos,
            local_prefix: local_prefix.map(str::to_string),
            remote_prefix: remote_prefix.map(str::to_string),
        };
        for (side, filter) in [("local", t.local_filter()), ("remote", t.remote_filter())] {
            topic::validate_filter(&filter).map_err(|e| {
                format!(
                    "invalid bridge topic {side} prefix and pattern combination {filter:?}: {e}"
                )
            })?;
        }
        Ok(t)
    }

    /// What the bridge subscribes to locally (for `out` and `both`).
    pub fn local_filter(&self) -> String {
        format!(
            "{}{}",
            self.local_prefix.as_deref().unwrap_or(""),
            self.pattern
        )
    }

    /// What the bridge subscribes to on the remote (for `in` and `both`).
    pub fn remote_filter(&self) -> String {
        format!(
            "{}{}",
            self.remote_prefix.as_deref().unwrap_or(""),
            self.pattern
        )
    }

    /// The remote topic of a local message, if this line sends it.
    pub fn map_out(&self, local: &str) -> Option<String> {
        if !self.direction.out() || !topic::matches(&self.local_filter(), local) {
            return None;
        }
        Some(swap(local, &self.local_prefix, &self.remote_prefix))
    }

    /// The local topic of a remote message, if this line lets it in.
    pub fn map_in(&self, remote: &str) -> Option<String> {
        if !self.direction.incoming() || !topic::matches(&self.remote_filter(), remote) {
            return None;
        }
        Some(swap(remote, &self.remote_prefix, &self.local_prefix))
    }

    /// The line as mosquitto.conf writes it.
    pub fn to_conf(&self) -> String {
        let word = |s: &str| {
            if s.is_empty() {
                "\"\"".to_string()
            } else {
                s.to_string()
            }
        };
        let mut line = format!(
            "{} {} {}",
            word(&self.pattern),
            self.direction.word(),
            self.qos
        );
        if self.local_prefix.is_some() || self.remote_prefix.is_some() {
            line.push_str(&format!(
                " {} {}",
                word(self.local_prefix.as_deref().unwrap_or("")),
                word(self.remote_prefix.as_deref().unwrap_or(""))
            ));
        }
        line
    }
}

/// `from`'s prefix off the front, `to`'s on.
fn swap(topic: &str, from: &Option<String>, to: &Option<String>) -> String {
    let rest = match from {
        Some(p) => topic.strip_prefix(p.as_str()).unwrap_or(topic),
        None => topic,
    };
    format!("{}{rest}", to.as_deref().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(line: &str) -> Result<BridgeTopic, String> {
        BridgeTopic::parse(&line.split_whitespace().collect::<Vec<_>>())
    }

    #[test]
    fn defaults_out_qos0_no_prefixes() {
        let topic = t("sensors/#").unwrap();
        assert_eq!(topic.direction, Direction::Out);
        assert_eq!(topic.qos, 0);
        assert_eq!(topic.local_filter(), "sensors/#");
        assert_eq!(topic.map_out("sensors/a").as_deref(), Some("sensors/a"));
        assert_eq!(topic.map_in("sensors/a"), None, "out only");
        assert_eq!(topic.map_out("other"), None);
    }

    /// The table of Mosquitto's man page (mosquitto.conf, Bridges: topic).
    #[test]
    fn mosquitto_prefix_table() {
        let cases = [
            ("pattern both 0 L/ R/", "L/pattern", "R/pattern"),
            ("pattern both 0 L/ \"\"", "L/pattern", "pattern"),
            ("pattern both 0 \"\" R/", "pattern", "R/pattern"),
            ("pattern both 0 \"\" \"\"", "pattern", "pattern"),
            (
                "\"\" both 0 local/topic remote/topic",
                "local/topic",
                "remote/topic",
            ),
        ];
        for (line, local, remote) in cases {
            let topic = t(line).unwrap();
            assert_eq!(topic.local_filter(), local, "{line}");
            assert_eq!(topic.remote_filter(), remote, "{line}");
            assert_eq!(topic.map_out(local).as_deref(), Some(remote), "{line}");
            assert_eq!(topic.map_in(remote).as_deref(), Some(local), "{line}");
        }
        for line in [
            "\"\" both 0 local/topic \"\"",
            "\"\" both 0 \"\" remote/topic",
            "\"\" both 0 \"\" \"\"",
            "\"\"",
        ] {
            assert!(
                t(line).unwrap_err().contains("invalid bridge remapping"),
                "{line}"
            );
        }
    }

    #[test]
    fn a_whole_tree_remapped() {
        let topic = t("# both 2 local/topic/ remote/topic/").unwrap();
        assert_eq!(topic.local_filter(), "local/topic/#");
        assert_eq!(topic.remote_filter(), "remote/topic/#");
        assert_eq!(
            topic.map_out("local/topic/a/b").as_deref(),
            Some("remote/topic/a/b")
        );
        assert_eq!(
            topic.map_in("remote/topic/x").as_deref(),
            Some("local/topic/x")
        );
        assert_eq!(topic.map_in("elsewhere/x"), None);
    }

    #[test]
    fn bad_lines_say_why() {
        assert!(t("").unwrap_err().contains("needs a pattern"));
        assert!(t("a sideways").unwrap_err().contains("direction"));
        assert!(t("a in 3").unwrap_err().contains("QoS"));
        assert!(t("a in 1 L/").unwrap_err().contains("remote prefix"));
        assert!(t("a in 1 L/+ R/").unwrap_err().contains("local prefix"));
        assert!(t("a in 1 L/ R/#").unwrap_err().contains("remote prefix"));
        assert!(t("# in 1 L/# R/").is_err());
        assert!(t("a/#/b").unwrap_err().contains("combination"));
    }

    #[test]
    fn round_trip_as_conf() {
        for line in ["a/# both 1 L/ R/", "\"\" in 2 x y", "b out 0"] {
            assert_eq!(t(line).unwrap().to_conf(), line);
        }
    }
}
