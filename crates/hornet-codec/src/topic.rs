//! Topic names and topic filters (MQTT 3.1.1 §4.7, MQTT 5.0 §4.7 and §4.8.2).
//!
//! Owns the syntax rules: what a valid topic name is (no wildcards, not
//! empty), what a valid filter is (`#` last and alone, `+` alone in its
//! level), how a shared subscription `$share/{group}/{filter}` splits, and
//! the reference matcher of a filter against a name, including the rule that
//! a leading wildcard never matches a `$` topic. The broker's subscription
//! index lives in the core; this matcher is the oracle its tests compare to.

use thiserror::Error;

/// Why a topic name or filter is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TopicError {
    /// Names and filters must have at least one character.
    #[error("[MQTT-4.7.3-1] topic must be at least one character long")]
    Empty,
    /// A topic name contains `+` or `#`.
    #[error("[MQTT-3.3.2-2] topic name contains a wildcard character")]
    WildcardInName,
    /// `#` is not alone in the last level of a filter.
    #[error(
        "[MQTT-4.7.1-2] multi-level wildcard '#' must be the last character and alone in its level"
    )]
    MultiLevelWildcard,
    /// `+` shares a level with other characters.
    #[error("[MQTT-4.7.1-3] single-level wildcard '+' must occupy an entire level")]
    SingleLevelWildcard,
    /// `$share/` without a share name, or a share name with `/`, `+` or `#`.
    #[error("[MQTT-4.8.2-1] shared subscription needs a share name without '/', '+' or '#'")]
    ShareName,
    /// `$share/{name}` not followed by `/` and a filter.
    #[error(
        "[MQTT-4.8.2-2] shared subscription needs '/' and a topic filter after the share name"
    )]
    SharedFilterMissing,
}

/// Prefix of a shared subscription (MQTT 5.0 §4.8.2).
pub const SHARE_PREFIX: &str = "$share/";

/// Checks a topic name as carried in PUBLISH or a will.
pub fn validate_name(name: &str) -> Result<(), TopicError> {
    if name.is_empty() {
        return Err(TopicError::Empty);
    }
    // Checked on every PUBLISH: memchr scans a word at a time.
    if memchr::memchr2(b'+', b'#', name.as_bytes()).is_some() {
        return Err(TopicError::WildcardInName);
    }
    Ok(())
}

/// Checks a topic filter as carried in SUBSCRIBE or UNSUBSCRIBE, shared
/// subscriptions included.
pub fn validate_filter(filter: &str) -> Result<(), TopicError> {
    match parse_shared(filter)? {
        Some(shared) => validate_plain_filter(shared.filter),
        None => validate_plain_filter(filter),
    }
}

fn validate_plain_filter(filter: &str) -> Result<(), TopicError> {
    if filter.is_empty() {
        return Err(TopicError::Empty);
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return Err(TopicError::MultiLevelWildcard);
        }
        if level.contains('+') && level != "+" {
            return Err(TopicError::SingleLevelWildcard);
        }
    }
    Ok(())
}

/// A shared subscription split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedFilter<'a> {
    /// The share name (the group).
    pub group: &'a str,
    /// The filter that selects the messages the group shares.
    pub filter: &'a str,
}

/// Splits `$share/{group}/{filter}`; `Ok(None)` for a filter that is not shared.
pub fn parse_shared(filter: &str) -> Result<Option<SharedFilter<'_>>, TopicError> {
    let Some(rest) = filter.strip_prefix(SHARE_PREFIX) else {
        return Ok(None);
    };
    let (group, inner) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash + 1..]),
        None if rest.is_empty() || rest.contains(['+', '#']) => return Err(TopicError::ShareName),
        None => return Err(TopicError::SharedFilterMissing),
    };
    if group.is_empty() || group.contains(['+', '#']) {
        return Err(TopicError::ShareName);
    }
    if inner.is_empty() {
        return Err(TopicError::SharedFilterMissing);
    }
    Ok(Some(SharedFilter {
        group,
        filter: inner,
    }))
}

/// True if the valid `filter` matches the valid topic `name`.
///
/// A filter starting with a wildcard does not match a name starting with
/// `$` ([MQTT-4.7.2-1]). `sport/#` also matches `sport` (§4.7.1.2).
pub fn matches(filter: &str, name: &str) -> bool {
    if name.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut names = name.split('/');
    let mut filters = filter.split('/');
    loop {
        match (filters.next(), names.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(f), Some(n)) if f == n => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [MQTT-4.7.3-1] topic names and filters are at least one character.
    #[test]
    fn mqtt_4_7_3_1_empty_topics_are_invalid() {
        assert_eq!(validate_name(""), Err(TopicError::Empty));
        assert_eq!(validate_filter(""), Err(TopicError::Empty));
    }

    /// [MQTT-3.3.2-2] the topic name in PUBLISH must not contain wildcards.
    #[test]
    fn mqtt_3_3_2_2_wildcards_in_topic_name() {
        assert_eq!(validate_name("a/+/b"), Err(TopicError::WildcardInName));
        assert_eq!(validate_name("a/#"), Err(TopicError::WildcardInName));
        assert_eq!(validate_name("a/b c/ü/$x"), Ok(()));
        assert_eq!(validate_name("/"), Ok(()));
    }

    /// [MQTT-4.7.1-2] `#` must be last and alone in its level.
    #[test]
    fn mqtt_4_7_1_2_multi_level_wildcard_placement() {
        for bad in ["a/#/b", "a#", "a/b#", "#/", "##", "a/#b"] {
            assert_eq!(
                validate_filter(bad),
                Err(TopicError::MultiLevelWildcard),
                "{bad}"
            );
        }
        for good in ["#", "a/#", "/#", "+/#"] {
            assert_eq!(validate_filter(good), Ok(()), "{good}");
        }
    }

    /// [MQTT-4.7.1-3] `+` must occupy an entire level.
    #[test]
    fn mqtt_4_7_1_3_single_level_wildcard_placement() {
        for bad in ["a+", "a/+b", "+a/b", "a/b/c+", "++"] {
            assert_eq!(
                validate_filter(bad),
                Err(TopicError::SingleLevelWildcard),
                "{bad}"
            );
        }
        for good in ["+", "+/+", "/+", "a/+/b", "+/"] {
            assert_eq!(validate_filter(good), Ok(()), "{good}");
        }
    }

    /// [MQTT-4.8.2-1] and [MQTT-4.8.2-2]: the share name and the filter after it.
    #[test]
    fn mqtt_4_8_2_1_shared_subscription_syntax() {
        assert_eq!(
            parse_shared("$share/g/a/+"),
            Ok(Some(SharedFilter {
                group: "g",
                filter: "a/+"
            }))
        );
        assert_eq!(parse_shared("a/b"), Ok(None));
        assert_eq!(validate_filter("$share//a"), Err(TopicError::ShareName));
        assert_eq!(validate_filter("$share/g+/a"), Err(TopicError::ShareName));
        assert_eq!(validate_filter("$share/#"), Err(TopicError::ShareName));
        assert_eq!(validate_filter("$share/"), Err(TopicError::ShareName));
        assert_eq!(
            validate_filter("$share/g"),
            Err(TopicError::SharedFilterMissing)
        );
        assert_eq!(
            validate_filter("$share/g/"),
            Err(TopicError::SharedFilterMissing)
        );
        assert_eq!(
            validate_filter("$share/g/a#"),
            Err(TopicError::MultiLevelWildcard)
        );
        assert_eq!(validate_filter("$share/g/#"), Ok(()));
        // `$queue/` is an ordinary filter to the codec; the broker gives it meaning.
        assert_eq!(validate_filter("$queue/a"), Ok(()));
    }

    /// The examples of §4.7.1.2 and §4.7.1.3.
    #[test]
    fn matching_follows_the_spec_examples() {
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1"));
        assert!(matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/ranking"
        ));
        assert!(matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/score/wimbledon"
        ));
        assert!(matches("sport/#", "sport"));
        assert!(matches("#", "a/b/c"));
        assert!(matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("sport/+", "sport/"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        assert!(!matches("a/b", "a/b/c"));
        assert!(!matches("a/b/c", "a/b"));
    }

    /// [MQTT-4.7.2-1] a leading wildcard does not match a `$` topic.
    #[test]
    fn mqtt_4_7_2_1_leading_wildcards_skip_dollar_topics() {
        assert!(!matches("#", "$SYS/broker/uptime"));
        assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/#", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
    }
}
