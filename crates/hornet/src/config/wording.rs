//! How the configuration files spell a change, for the core's first-time
//! hints and refusal lines: the shell's [`ConfigWording`].
//!
//! The core names the cause ([`Hint`], [`Fix`]) and words what happened
//! with the setting's canonical name and value; this module says how to
//! change it in hornet.toml and mosquitto.conf, with the spellings taken
//! from the declaration table (`schema.rs`), and which section of
//! `docs/configuration.md` explains it. [`core_settings`](super::core_settings)
//! hands it to the core in `Settings::wording`.

use hornet_core::{ConfigWording, Fix, Hint};

use super::schema;

/// The wording of hornet.toml and mosquitto.conf.
pub struct FileWording;

fn spec(name: &str) -> &'static schema::Spec {
    schema::named(name).unwrap_or_else(|| panic!("{name} is declared in schema.rs"))
}

/// `` `[section] name = value` `` (hornet.toml).
fn toml(name: &str, value: &str) -> String {
    spec(name).toml_spelling(value)
}

/// `` `name value` `` (mosquitto.conf).
fn conf(name: &str, value: &str) -> String {
    spec(name)
        .conf_spelling(value)
        .unwrap_or_else(|| panic!("{name} has a mosquitto.conf key"))
}

/// `` `name = value` `` (hornet.toml, after a first spelling that named
/// the section).
fn bare(name: &str, value: &str) -> String {
    format!("`{} = {value}`", spec(name).name)
}

/// Both spellings: `` `[s] name = v` in hornet.toml or `name v` in mosquitto.conf ``.
fn both(name: &str, value: &str) -> String {
    format!(
        "{} in hornet.toml or {} in mosquitto.conf",
        toml(name, value),
        conf(name, value)
    )
}

impl FileWording {
    /// How to change what `hint` is about, and the anchor of the section of
    /// `docs/configuration.md` that explains it.
    fn how(hint: Hint) -> (String, &'static str) {
        match hint {
            Hint::ClientIdTooLong => (
                format!(
                    "{} (0 = the protocol's 65535)",
                    both("max_client_id_length", "4096")
                ),
                "max_client_id_length-max_topic_length-max_topic_levels",
            ),
            Hint::KeepAliveTooLong => (both("max_keepalive", "65535"), "max_keepalive"),
            Hint::BadPassword => (
                "add or reset the user with `mosquitto_passwd -b FILE USER PASSWORD` (or \
                 `hornet passwd`), then send SIGHUP to reload it"
                    .to_string(),
                "password_file",
            ),
            Hint::Anonymous => (
                format!(
                    "{} (only on a network you trust), or give clients users in a password_file",
                    both("allow_anonymous", "true")
                ),
                "allow_anonymous",
            ),
            Hint::Flapping => (
                format!(
                    "give each device its own client id; or {} in hornet.toml / {} in \
                     mosquitto.conf turns the check off",
                    toml("flapping_max_connects", "0"),
                    conf("flapping_max_connects", "0")
                ),
                "flapping_max_connects-flapping_window-flapping_ban",
            ),
            Hint::PublishRate => (
                format!("{} (0 = unlimited)", both("max_publish_rate", "1000")),
                "max_publish_rate-max_publish_bytes_rate-publish_rate_action",
            ),
            Hint::PacketTooLarge => (
                format!(
                    "{} (0 = the protocol maximum, 256 MB)",
                    both("max_packet_size", "10485760")
                ),
                "max_packet_size",
            ),
            Hint::TopicLimits => (
                format!("{} (0 = unlimited)", both("max_topic_levels", "500")),
                "max_client_id_length-max_topic_length-max_topic_levels",
            ),
            Hint::Subscriptions => (
                format!(
                    "{} (0 = unlimited)",
                    both("max_subscriptions_per_client", "100000")
                ),
                "max_subscriptions_per_client",
            ),
            Hint::QueueFull => (
                format!(
                    "{} (0 = unlimited, at the cost of memory)",
                    both("max_queued_messages", "10000")
                ),
                "max_queued_messages",
            ),
            Hint::Qos0NotQueued => (
                format!(
                    "{}, or publish and subscribe with QoS 1",
                    both("queue_qos0_messages", "true")
                ),
                "queue_qos0_messages",
            ),
            Hint::AclDenied => (
                "add a `topic` or `pattern` rule for the user (or for anonymous clients, before \
                 any `user` line) and send SIGHUP to reload it; for a user made in the admin \
                 API, change its roles there (docs/admin.md#users-roles-and-topic-rules-at-runtime)"
                    .to_string(),
                "acl_file",
            ),
            Hint::MessageExpired => (
                format!(
                    "publish with a longer (or no) Message Expiry Interval; retained messages: \
                     {} in hornet.toml / {} in mosquitto.conf",
                    toml("retained_max_age", "0"),
                    conf("retained_max_age", "0")
                ),
                "retained_max_age",
            ),
            Hint::OverClientMaximum => (
                "raise the client's Maximum Packet Size (a client option, not a broker setting)"
                    .to_string(),
                "max_packet_size",
            ),
            Hint::ConnectTimeout => (
                format!(
                    "{}; a port scanner or a non-MQTT client also causes this",
                    both("connect_timeout", "30")
                ),
                "connect_timeout",
            ),
            Hint::WillRefused => (
                format!(
                    "{} / {} in hornet.toml, {} / {} in mosquitto.conf",
                    toml("max_qos", "2"),
                    bare("retain_available", "true"),
                    conf("max_qos", "2"),
                    conf("retain_available", "true")
                ),
                "max_qos",
            ),
            Hint::ServerReference => (
                "remove server_reference from the config file and restart".to_string(),
                "server_reference-and-server_moved",
            ),
        }
    }
}

impl ConfigWording for FileWording {
    fn advice(&self, hint: Hint) -> String {
        let (how, anchor) = FileWording::how(hint);
        format!("To change it: {how}; see docs/configuration.md#{anchor}.")
    }

    fn fix(&self, fix: Fix) -> String {
        match fix {
            Fix::AnonymousFromNetwork => format!(
                "{} (hornet.toml) or {} (mosquitto.conf)",
                toml("allow_anonymous", "true"),
                conf("allow_anonymous", "true")
            ),
            Fix::AnonymousFromSomewhere => {
                format!("{} or `true`", toml("allow_anonymous", "\"loopback\""))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hornet_core::Settings;

    /// A GitHub heading anchor: lower case, spaces to `-`, punctuation
    /// other than `-` and `_` dropped.
    fn slug(heading: &str) -> String {
        heading
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_hint_names_both_spellings_or_a_fix_and_an_existing_section() {
        let docs = include_str!("../../../../docs/configuration.md");
        let anchors: Vec<String> = docs
            .lines()
            .filter_map(|l| l.strip_prefix('#'))
            .map(|l| slug(l.trim_start_matches('#')))
            .collect();
        let settings = super::super::core_settings(&super::super::Config::default());
        for hint in Hint::ALL {
            let (_, anchor) = FileWording::how(hint);
            assert!(
                anchors.iter().any(|a| a == anchor),
                "{hint:?}: no section #{anchor} in docs/configuration.md"
            );
            let advice = FileWording.advice(hint);
            assert!(advice.starts_with("To change it: "), "{advice}");
            let text = format!("{}. {advice}", hint.what(&settings));
            if text.contains("in hornet.toml") {
                assert!(text.contains("in mosquitto.conf"), "{hint:?}: {text}");
            }
        }
    }

    #[test]
    fn hints_read_as_before() {
        let s = Settings {
            max_queued_messages: 1000,
            ..super::super::core_settings(&super::super::Config::default())
        };
        assert_eq!(
            FileWording.advice(Hint::QueueFull),
            "To change it: `[limits] max_queued_messages = 10000` in hornet.toml or \
             `max_queued_messages 10000` in mosquitto.conf (0 = unlimited, at the cost of \
             memory); see docs/configuration.md#max_queued_messages."
        );
        assert_eq!(
            FileWording.advice(Hint::WillRefused),
            "To change it: `[mqtt] max_qos = 2` / `retain_available = true` in hornet.toml, \
             `max_qos 2` / `retain_available true` in mosquitto.conf; see \
             docs/configuration.md#max_qos."
        );
        assert_eq!(
            FileWording.advice(Hint::Anonymous),
            "To change it: `allow_anonymous = true` in hornet.toml or `allow_anonymous true` in \
             mosquitto.conf (only on a network you trust), or give clients users in a \
             password_file; see docs/configuration.md#allow_anonymous."
        );
        assert_eq!(
            FileWording.fix(Fix::AnonymousFromNetwork),
            "`allow_anonymous = true` (hornet.toml) or `allow_anonymous true` (mosquitto.conf)"
        );
        assert_eq!(
            FileWording.fix(Fix::AnonymousFromSomewhere),
            "`allow_anonymous = \"loopback\"` or `true`"
        );
        assert!(format!("{:?}", s.wording).contains("shell"));
    }
}
