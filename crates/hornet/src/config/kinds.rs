//! The kinds of setting values: how one kind reads from a TOML file and a
//! `mosquitto.conf` line, is written back as TOML, and reads in words.
//!
//! A kind is a unit type implementing [`Kind`] for the model type it
//! stores; the declaration table (`schema.rs`) names a kind per setting and
//! derives the loaders, the effective-TOML printer and the check-config
//! rows from it. Zero values mean what they mean in Mosquitto
//! ("unlimited", "off") in both formats; the model stores the resolved
//! value (e.g. `usize::MAX`) so the broker never knows where it came from.

use std::fmt::Display;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use toml::Value;

use super::AllowAnonymous;

/// How one kind of value is read, written and shown.
pub(crate) trait Kind<T> {
    /// What the TOML file holds; serde's type check says what was expected.
    type Raw: DeserializeOwned;
    /// The model value of a TOML value that has the right type.
    fn from_raw(raw: Self::Raw) -> Result<T, String>;
    /// The TOML value that reads back as `value`; `None` leaves the key out.
    fn to_toml(value: &T) -> Option<Value>;
    /// The model value of `key`'s text in `mosquitto.conf`; `accepts`
    /// says what a number may be, for the error.
    fn from_conf(key: &str, text: &str, accepts: &str) -> Result<T, String>;
    /// The value in words (`unlimited`, `10s`, ...).
    fn show(value: &T) -> String;
}

fn int<N: TryInto<i64>>(n: N) -> Value {
    Value::Integer(n.try_into().unwrap_or(i64::MAX))
}

/// A number in `mosquitto.conf`, or `KEY must be ACCEPTS, not "TEXT"`.
pub(crate) fn number<N: FromStr>(key: &str, text: &str, accepts: &str) -> Result<N, String> {
    text.parse()
        .map_err(|_| format!("{key} must be {accepts}, not {text:?}"))
}

/// `true` or `false` in `mosquitto.conf`.
pub(crate) fn boolean(key: &str, text: &str) -> Result<bool, String> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("{key} must be true or false, not {text:?}")),
    }
}

/// A number stored as given.
pub(crate) struct Plain;

impl<N> Kind<N> for Plain
where
    N: DeserializeOwned + FromStr + Display + Copy + TryInto<i64>,
{
    type Raw = N;
    fn from_raw(raw: N) -> Result<N, String> {
        Ok(raw)
    }
    fn to_toml(value: &N) -> Option<Value> {
        Some(int(*value))
    }
    fn from_conf(key: &str, text: &str, accepts: &str) -> Result<N, String> {
        number(key, text, accepts)
    }
    fn show(value: &N) -> String {
        value.to_string()
    }
}

/// `true` or `false`.
pub(crate) struct Bool;

impl Kind<bool> for Bool {
    type Raw = bool;
    fn from_raw(raw: bool) -> Result<bool, String> {
        Ok(raw)
    }
    fn to_toml(value: &bool) -> Option<Value> {
        Some(Value::Boolean(*value))
    }
    fn from_conf(key: &str, text: &str, _: &str) -> Result<bool, String> {
        boolean(key, text)
    }
    fn show(value: &bool) -> String {
        value.to_string()
    }
}

/// Seconds, shown as `10s`.
pub(crate) struct Secs;

impl Kind<u64> for Secs {
    type Raw = u64;
    fn from_raw(raw: u64) -> Result<u64, String> {
        Ok(raw)
    }
    fn to_toml(value: &u64) -> Option<Value> {
        Some(int(*value))
    }
    fn from_conf(key: &str, text: &str, accepts: &str) -> Result<u64, String> {
        number(key, text, accepts)
    }
    fn show(value: &u64) -> String {
        format!("{value}s")
    }
}

/// Seconds where 0 turns the feature off (`sys_interval`).
pub(crate) struct SecsOrOff;

impl Kind<u64> for SecsOrOff {
    type Raw = u64;
    fn from_raw(raw: u64) -> Result<u64, String> {
        Ok(raw)
    }
    fn to_toml(value: &u64) -> Option<Value> {
        Some(int(*value))
    }
    fn from_conf(key: &str, text: &str, accepts: &str) -> Result<u64, String> {
        number(key, text, accepts)
    }
    fn show(value: &u64) -> String {
        if *value == 0 {
            "off".into()
        } else {
            format!("{value}s")
        }
    }
}

/// A count where 0 turns the feature off (`flapping_max_connects`).
pub(crate) struct CountOrOff;

impl Kind<u32> for CountOrOff {
    type Raw = u32;
    fn from_raw(raw: u32) -> Result<u32, String> {
        Ok(raw)
    }
    fn to_toml(value: &u32) -> Option<Value> {
        Some(int(*value))
    }
    fn from_conf(key: &str, text: &str, accepts: &str) -> Result<u32, String> {
        number(key, text, accepts)
    }
    fn show(value: &u32) -> String {
        if *value == 0 {
            "off".into()
        } else {
            value.to_string()
        }
    }
}

/// A rate where 0 means unlimited, stored as 0.
pub(crate) struct Rate;

impl<N> Kind<N> for Rate
where
    N: DeserializeOwned + FromStr + Display + Copy + TryInto<i64> + Default + PartialEq,
{
    type Raw = N;
    fn from_raw(raw: N) -> Result<N, String> {
        Ok(raw)
    }
    fn to_toml(value: &N) -> Option<Value> {
        Some(int(*value))
    }
    fn from_conf(key: &str, text: &str, accepts: &str) -> Result<N, String> {
        number(key, text, accepts)
    }
    fn show(value: &N) -> String {
        if *value == N::default() {
            "unlimited".into()
        } else {
            value.to_string()
        }
    }
}

/// A count where 0 in a file means unlimited, stored as `usize::MAX`.
pub(crate) struct Unlimited;

impl Kind<usize> for Unlimited {
    type Raw = usize;
    fn from_raw(raw: usize) -> Result<usize, String> {
        Ok(super::unlimited_if_zero(raw))
    }
    fn to_toml(value: &usize) -> Option<Value> {
        Some(if *value == usize::MAX {
            int(0)
        } else {
            int(*value)
        })
    }
    fn from_conf(key: &str, text: &str, accepts: &str) -> Result<usize, String> {
        number(key, text, accepts).map(super::unlimited_if_zero)
    }
    fn show(value: &usize) -> String {
        if *value == usize::MAX {
            "unlimited".into()
        } else {
            value.to_string()
        }
    }
}

/// `max_inflight_messages`: 0 in a file means unlimited, stored as 65535.
pub(crate) struct Inflight;

impl Kind<u16> for Inflight {
    type Raw = u16;
    fn from_raw(raw: u16) -> Result<u16, String> {
        Ok(super::inflight_from(raw))
    }
    fn to_toml(value: &u16) -> Option<Value> {
        Some(int(*value))
    }
    fn from_conf(key: &str, text: &str, accepts: &str) -> Result<u16, String> {
        number(key, text, accepts).map(super::inflight_from)
    }
    fn show(value: &u16) -> String {
        value.to_string()
    }
}

/// A client id or topic length: 0 means the protocol's 65535 (TOML takes
/// at most 65535; mosquitto.conf caps larger numbers).
pub(crate) struct Length;

impl Kind<usize> for Length {
    type Raw = u16;
    fn from_raw(raw: u16) -> Result<usize, String> {
        Ok(super::length_from(raw.into()))
    }
    fn to_toml(value: &usize) -> Option<Value> {
        Some(int(*value))
    }
    fn from_conf(key: &str, text: &str, accepts: &str) -> Result<usize, String> {
        let n: usize = number(key, text, accepts)?;
        Ok(super::length_from(n.min(65535)))
    }
    fn show(value: &usize) -> String {
        value.to_string()
    }
}

/// `max_packet_size`: 0 means the protocol maximum; 20 bytes at least.
pub(crate) struct PacketSize;

impl Kind<u32> for PacketSize {
    type Raw = u64;
    fn from_raw(raw: u64) -> Result<u32, String> {
        super::packet_size_from(raw)
    }
    fn to_toml(value: &u32) -> Option<Value> {
        Some(int(*value))
    }
    fn from_conf(key: &str, text: &str, accepts: &str) -> Result<u32, String> {
        super::packet_size_from(number(key, text, accepts)?)
    }
    fn show(value: &u32) -> String {
        if *value == super::PROTOCOL_MAX_PACKET_SIZE {
            format!("{value} (protocol maximum)")
        } else {
            value.to_string()
        }
    }
}

/// `max_connections`: 0 or negative (Mosquitto's -1) means unlimited,
/// stored as `None`.
pub(crate) struct Connections;

impl Kind<Option<usize>> for Connections {
    type Raw = i64;
    fn from_raw(raw: i64) -> Result<Option<usize>, String> {
        Ok(super::max_connections_from(raw))
    }
    fn to_toml(value: &Option<usize>) -> Option<Value> {
        value.map(int)
    }
    fn from_conf(key: &str, text: &str, accepts: &str) -> Result<Option<usize>, String> {
        number(key, text, accepts).map(super::max_connections_from)
    }
    fn show(value: &Option<usize>) -> String {
        value.map_or("unlimited".into(), |n| n.to_string())
    }
}

/// `receive_maximum`: 1 to 65535.
pub(crate) struct ReceiveMaximum;

impl Kind<u16> for ReceiveMaximum {
    type Raw = u64;
    fn from_raw(raw: u64) -> Result<u16, String> {
        super::receive_maximum_from(raw)
    }
    fn to_toml(value: &u16) -> Option<Value> {
        Some(int(*value))
    }
    fn from_conf(key: &str, text: &str, accepts: &str) -> Result<u16, String> {
        super::receive_maximum_from(number(key, text, accepts)?)
    }
    fn show(value: &u16) -> String {
        value.to_string()
    }
}

/// `max_qos`: 0, 1 or 2.
pub(crate) struct MaxQos;

impl Kind<u8> for MaxQos {
    type Raw = u64;
    fn from_raw(raw: u64) -> Result<u8, String> {
        super::max_qos_from(raw)
    }
    fn to_toml(value: &u8) -> Option<Value> {
        Some(int(*value))
    }
    fn from_conf(key: &str, text: &str, accepts: &str) -> Result<u8, String> {
        super::max_qos_from(number(key, text, accepts)?)
    }
    fn show(value: &u8) -> String {
        value.to_string()
    }
}

/// Seconds that may be absent: never (`max_session_expiry`).
pub(crate) struct Expiry;

impl Kind<Option<u32>> for Expiry {
    type Raw = u32;
    fn from_raw(raw: u32) -> Result<Option<u32>, String> {
        Ok(Some(raw))
    }
    fn to_toml(value: &Option<u32>) -> Option<Value> {
        value.map(int)
    }
    fn from_conf(key: &str, text: &str, accepts: &str) -> Result<Option<u32>, String> {
        number(key, text, accepts).map(Some)
    }
    fn show(value: &Option<u32>) -> String {
        value.map_or("never".into(), |s| format!("{s}s"))
    }
}

/// An age in seconds where 0 means none, stored as `None` (`retained_max_age`).
pub(crate) struct Age;

impl Kind<Option<u64>> for Age {
    type Raw = u64;
    fn from_raw(raw: u64) -> Result<Option<u64>, String> {
        Ok((raw > 0).then_some(raw))
    }
    fn to_toml(value: &Option<u64>) -> Option<Value> {
        Some(int(value.unwrap_or(0)))
    }
    fn from_conf(key: &str, text: &str, accepts: &str) -> Result<Option<u64>, String> {
        number(key, text, accepts).map(|n: u64| (n > 0).then_some(n))
    }
    fn show(value: &Option<u64>) -> String {
        value.map_or("never".into(), |s| format!("{s}s"))
    }
}

/// A text that may be absent; an empty TOML string means none.
pub(crate) struct Text;

impl Kind<Option<String>> for Text {
    type Raw = String;
    fn from_raw(raw: String) -> Result<Option<String>, String> {
        Ok((!raw.is_empty()).then_some(raw))
    }
    fn to_toml(value: &Option<String>) -> Option<Value> {
        value.clone().map(Value::String)
    }
    fn from_conf(_: &str, text: &str, _: &str) -> Result<Option<String>, String> {
        Ok(Some(text.to_string()))
    }
    fn show(value: &Option<String>) -> String {
        value.clone().unwrap_or_else(|| "none".into())
    }
}

/// `publish_rate_action`: `throttle` or `disconnect`.
pub(crate) struct RateAction;

impl Kind<hornet_core::RateAction> for RateAction {
    type Raw = String;
    fn from_raw(raw: String) -> Result<hornet_core::RateAction, String> {
        super::rate_action_from(&raw)
    }
    fn to_toml(value: &hornet_core::RateAction) -> Option<Value> {
        Some(Value::String(Self::show(value)))
    }
    fn from_conf(_: &str, text: &str, _: &str) -> Result<hornet_core::RateAction, String> {
        super::rate_action_from(text)
    }
    fn show(value: &hornet_core::RateAction) -> String {
        match value {
            hornet_core::RateAction::Throttle => "throttle",
            hornet_core::RateAction::Disconnect => "disconnect",
        }
        .into()
    }
}

/// A shared subscription strategy by name.
pub(crate) struct Strategy;

impl Kind<hornet_core::SharedStrategy> for Strategy {
    type Raw = String;
    fn from_raw(raw: String) -> Result<hornet_core::SharedStrategy, String> {
        raw.parse()
    }
    fn to_toml(value: &hornet_core::SharedStrategy) -> Option<Value> {
        Some(Value::String(value.to_string()))
    }
    fn from_conf(_: &str, text: &str, _: &str) -> Result<hornet_core::SharedStrategy, String> {
        text.parse()
    }
    fn show(value: &hornet_core::SharedStrategy) -> String {
        value.to_string()
    }
}

/// What a cluster node does with a dead node's persistent sessions.
pub(crate) struct Orphans;

impl Kind<hornet_core::OrphanSessions> for Orphans {
    type Raw = String;
    fn from_raw(raw: String) -> Result<hornet_core::OrphanSessions, String> {
        raw.parse()
    }
    fn to_toml(value: &hornet_core::OrphanSessions) -> Option<Value> {
        Some(Value::String(value.to_string()))
    }
    fn from_conf(_: &str, text: &str, _: &str) -> Result<hornet_core::OrphanSessions, String> {
        text.parse()
    }
    fn show(value: &hornet_core::OrphanSessions) -> String {
        value.to_string()
    }
}

/// Strategies of particular shared groups: a TOML table of group names
/// (read by hand in `toml.rs`, for each value's line), one
/// `shared_group_strategy GROUP STRATEGY` line each in mosquitto.conf
/// (by hand in `mosquitto.rs`: two words).
pub(crate) struct GroupStrategies;

impl Kind<Vec<(String, hornet_core::SharedStrategy)>> for GroupStrategies {
    type Raw = std::collections::BTreeMap<String, String>;
    fn from_raw(
        raw: std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<(String, hornet_core::SharedStrategy)>, String> {
        raw.into_iter()
            .map(|(group, s)| Ok((group, s.parse()?)))
            .collect()
    }
    fn to_toml(value: &Vec<(String, hornet_core::SharedStrategy)>) -> Option<Value> {
        (!value.is_empty()).then(|| {
            Value::Table(
                value
                    .iter()
                    .map(|(name, s)| (name.clone(), Value::String(s.to_string())))
                    .collect(),
            )
        })
    }
    fn from_conf(
        key: &str,
        text: &str,
        _: &str,
    ) -> Result<Vec<(String, hornet_core::SharedStrategy)>, String> {
        match text.split_whitespace().collect::<Vec<_>>()[..] {
            [group, strategy] => Ok(vec![(group.to_string(), strategy.parse()?)]),
            _ => Err(format!(
                "{key} takes a group name and a strategy, e.g. `{key} workers sticky`"
            )),
        }
    }
    fn show(value: &Vec<(String, hornet_core::SharedStrategy)>) -> String {
        let groups: Vec<String> = value.iter().map(|(g, s)| format!("{g} {s}")).collect();
        groups.join(", ")
    }
}

/// A queue policy (`drop_newest`, `drop_oldest`, `latest`).
pub(crate) struct QueuePolicyKind;

impl Kind<hornet_core::QueuePolicy> for QueuePolicyKind {
    type Raw = String;
    fn from_raw(raw: String) -> Result<hornet_core::QueuePolicy, String> {
        raw.parse()
    }
    fn to_toml(value: &hornet_core::QueuePolicy) -> Option<Value> {
        Some(Value::String(value.to_string()))
    }
    fn from_conf(_: &str, text: &str, _: &str) -> Result<hornet_core::QueuePolicy, String> {
        text.parse()
    }
    fn show(value: &hornet_core::QueuePolicy) -> String {
        value.to_string()
    }
}

/// One rule of `queue_policies` as written in TOML.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueueRule {
    filter: String,
    policy: String,
}

/// Queue policies by topic filter, in order (the first match decides): a
/// TOML array of `{ filter = "...", policy = "..." }` (hornet.toml only).
pub(crate) struct QueuePolicyRules;

impl Kind<Vec<(String, hornet_core::QueuePolicy)>> for QueuePolicyRules {
    type Raw = Vec<QueueRule>;
    fn from_raw(raw: Vec<QueueRule>) -> Result<Vec<(String, hornet_core::QueuePolicy)>, String> {
        raw.into_iter()
            .map(|r| {
                hornet_codec::topic::validate_filter(&r.filter)
                    .map_err(|e| format!("queue policy filter {:?}: {e}", r.filter))?;
                Ok((r.filter, r.policy.parse()?))
            })
            .collect()
    }
    fn to_toml(value: &Vec<(String, hornet_core::QueuePolicy)>) -> Option<Value> {
        (!value.is_empty()).then(|| {
            Value::Array(
                value
                    .iter()
                    .map(|(filter, p)| {
                        let mut rule = toml::Table::new();
                        rule.insert("filter".into(), Value::String(filter.clone()));
                        rule.insert("policy".into(), Value::String(p.to_string()));
                        Value::Table(rule)
                    })
                    .collect(),
            )
        })
    }
    fn from_conf(
        key: &str,
        _: &str,
        _: &str,
    ) -> Result<Vec<(String, hornet_core::QueuePolicy)>, String> {
        Err(format!("{key} is set in hornet.toml only"))
    }
    fn show(value: &Vec<(String, hornet_core::QueuePolicy)>) -> String {
        let rules: Vec<String> = value.iter().map(|(f, p)| format!("{f} {p}")).collect();
        rules.join(", ")
    }
}

/// One `auto_subscribe` template as written in TOML.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AutoRule {
    topic: String,
    #[serde(default)]
    qos: u8,
}

/// Auto-subscribe templates: a TOML array of `{ topic = "...", qos = N }`
/// (hornet.toml only).
pub(crate) struct AutoSubscribe;

impl Kind<Vec<hornet_core::AutoSubscription>> for AutoSubscribe {
    type Raw = Vec<AutoRule>;
    fn from_raw(raw: Vec<AutoRule>) -> Result<Vec<hornet_core::AutoSubscription>, String> {
        raw.into_iter()
            .map(|r| {
                let sample = r
                    .topic
                    .replace("%c", "c")
                    .replace("%u", "u")
                    .replace("${clientid}", "c")
                    .replace("${username}", "u");
                hornet_codec::topic::validate_filter(&sample)
                    .map_err(|e| format!("auto_subscribe topic {:?}: {e}", r.topic))?;
                let qos = hornet_codec::QoS::from_u8(r.qos).ok_or_else(|| {
                    format!("auto_subscribe qos must be 0, 1 or 2, not {}", r.qos)
                })?;
                Ok(hornet_core::AutoSubscription {
                    topic: r.topic,
                    qos,
                })
            })
            .collect()
    }
    fn to_toml(value: &Vec<hornet_core::AutoSubscription>) -> Option<Value> {
        (!value.is_empty()).then(|| {
            Value::Array(
                value
                    .iter()
                    .map(|a| {
                        let mut rule = toml::Table::new();
                        rule.insert("topic".into(), Value::String(a.topic.clone()));
                        rule.insert("qos".into(), int(a.qos as u8));
                        Value::Table(rule)
                    })
                    .collect(),
            )
        })
    }
    fn from_conf(
        key: &str,
        _: &str,
        _: &str,
    ) -> Result<Vec<hornet_core::AutoSubscription>, String> {
        Err(format!("{key} is set in hornet.toml only"))
    }
    fn show(value: &Vec<hornet_core::AutoSubscription>) -> String {
        let all: Vec<String> = value
            .iter()
            .map(|a| format!("{} (QoS {})", a.topic, a.qos as u8))
            .collect();
        all.join(", ")
    }
}

/// One `rewrite` rule as written in TOML (EMQX's field names).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RewriteToml {
    #[serde(default = "all")]
    action: String,
    source_topic: String,
    re: String,
    dest_topic: String,
}

fn all() -> String {
    "all".to_string()
}

/// Topic rewrite rules: a TOML array of `{ action, source_topic, re,
/// dest_topic }` (hornet.toml only); the expression must compile.
pub(crate) struct Rewrite;

impl Kind<Vec<hornet_core::RewriteRule>> for Rewrite {
    type Raw = Vec<RewriteToml>;
    fn from_raw(raw: Vec<RewriteToml>) -> Result<Vec<hornet_core::RewriteRule>, String> {
        use hornet_core::RewriteAction;
        raw.into_iter()
            .map(|r| {
                let action = match r.action.as_str() {
                    "all" => RewriteAction::All,
                    "publish" => RewriteAction::Publish,
                    "subscribe" => RewriteAction::Subscribe,
                    other => {
                        return Err(format!(
                            "rewrite action must be all, publish or subscribe, not {other:?}"
                        ))
                    }
                };
                hornet_codec::topic::validate_filter(&r.source_topic)
                    .map_err(|e| format!("rewrite source_topic {:?}: {e}", r.source_topic))?;
                regex::Regex::new(&r.re).map_err(|e| format!("rewrite re {:?}: {e}", r.re))?;
                Ok(hornet_core::RewriteRule {
                    action,
                    source_topic: r.source_topic,
                    re: r.re,
                    dest_topic: r.dest_topic,
                })
            })
            .collect()
    }
    fn to_toml(value: &Vec<hornet_core::RewriteRule>) -> Option<Value> {
        use hornet_core::RewriteAction;
        (!value.is_empty()).then(|| {
            Value::Array(
                value
                    .iter()
                    .map(|r| {
                        let action = match r.action {
                            RewriteAction::All => "all",
                            RewriteAction::Publish => "publish",
                            RewriteAction::Subscribe => "subscribe",
                        };
                        let mut rule = toml::Table::new();
                        rule.insert("action".into(), Value::String(action.into()));
                        rule.insert("source_topic".into(), Value::String(r.source_topic.clone()));
                        rule.insert("re".into(), Value::String(r.re.clone()));
                        rule.insert("dest_topic".into(), Value::String(r.dest_topic.clone()));
                        Value::Table(rule)
                    })
                    .collect(),
            )
        })
    }
    fn from_conf(key: &str, _: &str, _: &str) -> Result<Vec<hornet_core::RewriteRule>, String> {
        Err(format!("{key} is set in hornet.toml only"))
    }
    fn show(value: &Vec<hornet_core::RewriteRule>) -> String {
        let all: Vec<String> = value
            .iter()
            .map(|r| format!("{} {} -> {}", r.source_topic, r.re, r.dest_topic))
            .collect();
        all.join(", ")
    }
}

/// `log_type` values (read by hand in both formats: each is checked, and
/// `debug` or `all` turns on `verbose`).
pub(crate) struct LogTypes;

impl Kind<Vec<String>> for LogTypes {
    type Raw = Vec<String>;
    fn from_raw(raw: Vec<String>) -> Result<Vec<String>, String> {
        for t in &raw {
            super::check_log_type(t)?;
        }
        Ok(raw)
    }
    fn to_toml(value: &Vec<String>) -> Option<Value> {
        (!value.is_empty())
            .then(|| Value::Array(value.iter().cloned().map(Value::String).collect()))
    }
    fn from_conf(_: &str, text: &str, _: &str) -> Result<Vec<String>, String> {
        super::check_log_type(text)?;
        Ok(vec![text.to_string()])
    }
    fn show(value: &Vec<String>) -> String {
        value.join(", ")
    }
}

/// `allow_anonymous`: `true`, `false` or `"loopback"` in TOML; `true` or
/// `false` in mosquitto.conf (per listener with `per_listener_settings`,
/// so `mosquitto.rs` reads it by hand).
pub(crate) struct Anonymous;

impl Kind<AllowAnonymous> for Anonymous {
    type Raw = AllowAnonymous;
    fn from_raw(raw: AllowAnonymous) -> Result<AllowAnonymous, String> {
        Ok(raw)
    }
    fn to_toml(value: &AllowAnonymous) -> Option<Value> {
        Some(match value {
            AllowAnonymous::Loopback => Value::String("loopback".into()),
            AllowAnonymous::Always => Value::Boolean(true),
            AllowAnonymous::Never => Value::Boolean(false),
        })
    }
    fn from_conf(key: &str, text: &str, _: &str) -> Result<AllowAnonymous, String> {
        Ok(if boolean(key, text)? {
            AllowAnonymous::Always
        } else {
            AllowAnonymous::Never
        })
    }
    fn show(value: &AllowAnonymous) -> String {
        match value {
            AllowAnonymous::Loopback => "loopback",
            AllowAnonymous::Always => "true",
            AllowAnonymous::Never => "false",
        }
        .into()
    }
}

/// `log_dest` values: a TOML list of strings in mosquitto.conf's words
/// (`["stderr", "file /var/log/hornet.log"]`); one `log_dest` line each in
/// mosquitto.conf (repeatable, so `mosquitto.rs` reads it by hand).
pub(crate) struct LogDests;

impl Kind<Vec<super::LogDest>> for LogDests {
    type Raw = Vec<String>;
    fn from_raw(raw: Vec<String>) -> Result<Vec<super::LogDest>, String> {
        raw.iter().map(|t| super::LogDest::parse(t)).collect()
    }
    fn to_toml(value: &Vec<super::LogDest>) -> Option<Value> {
        (!value.is_empty())
            .then(|| Value::Array(value.iter().map(|d| Value::String(d.to_string())).collect()))
    }
    fn from_conf(_: &str, text: &str, _: &str) -> Result<Vec<super::LogDest>, String> {
        Ok(vec![super::LogDest::parse(text)?])
    }
    fn show(value: &Vec<super::LogDest>) -> String {
        if value.is_empty() {
            return "stderr".into();
        }
        value
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `log_facility`: 0 to 7 for `LOG_LOCAL0` to `LOG_LOCAL7`; absent means
/// `LOG_DAEMON`.
pub(crate) struct Facility;

impl Kind<Option<u8>> for Facility {
    type Raw = u8;
    fn from_raw(raw: u8) -> Result<Option<u8>, String> {
        if raw <= 7 {
            Ok(Some(raw))
        } else {
            Err(format!(
                "log_facility must be 0 to 7 (LOG_LOCAL0 to LOG_LOCAL7), not {raw}"
            ))
        }
    }
    fn to_toml(value: &Option<u8>) -> Option<Value> {
        value.map(int)
    }
    fn from_conf(key: &str, text: &str, accepts: &str) -> Result<Option<u8>, String> {
        Self::from_raw(number(key, text, accepts)?)
    }
    fn show(value: &Option<u8>) -> String {
        value.map_or_else(|| "daemon".into(), |n| format!("local{n}"))
    }
}

/// A word that is always there (`auto_id_prefix`); an empty TOML string
/// or mosquitto.conf value is refused.
pub(crate) struct Word;

impl Kind<String> for Word {
    type Raw = String;
    fn from_raw(raw: String) -> Result<String, String> {
        if raw.is_empty() {
            Err("must not be empty".into())
        } else {
            Ok(raw)
        }
    }
    fn to_toml(value: &String) -> Option<Value> {
        Some(Value::String(value.clone()))
    }
    fn from_conf(key: &str, text: &str, _: &str) -> Result<String, String> {
        Self::from_raw(text.to_string()).map_err(|e| format!("{key} {e}"))
    }
    fn show(value: &String) -> String {
        value.clone()
    }
}

/// A list of words (`[cluster] etcd`); an empty list or word is refused.
pub(crate) struct Words;

impl Kind<Vec<String>> for Words {
    type Raw = Vec<String>;
    fn from_raw(raw: Vec<String>) -> Result<Vec<String>, String> {
        if raw.is_empty() || raw.iter().any(String::is_empty) {
            Err("must be a list of one or more non-empty strings".into())
        } else {
            Ok(raw)
        }
    }
    fn to_toml(value: &Vec<String>) -> Option<Value> {
        Some(Value::Array(
            value.iter().cloned().map(Value::String).collect(),
        ))
    }
    fn from_conf(key: &str, text: &str, _: &str) -> Result<Vec<String>, String> {
        Self::from_raw(text.split_whitespace().map(str::to_string).collect())
            .map_err(|e| format!("{key} {e}"))
    }
    fn show(value: &Vec<String>) -> String {
        value.join(", ")
    }
}
