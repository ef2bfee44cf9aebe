//! `hornet check-config --format toml`: the effective configuration
//! written as Hornet's TOML, so a Mosquitto user can migrate by running
//! `hornet check-config mosquitto.conf --format toml > hornet.toml`.
//!
//! Owns only the mapping from [`Config`] to the TOML keys the native loader
//! (`config/toml.rs`) reads; a test loads the output back and compares.
//! Unlimited values are written as Mosquitto's 0; every key is written, so
//! the file shows the defaults too.

use toml::{Table, Value};

use crate::config::{AllowAnonymous, CertIdentity, Config, TlsVersion};

fn int<T: TryInto<i64>>(n: T) -> Value {
    Value::Integer(n.try_into().unwrap_or(i64::MAX))
}

/// `usize::MAX` (unlimited) as 0.
fn zero_if_unlimited(n: usize) -> Value {
    if n == usize::MAX {
        int(0)
    } else {
        int(n)
    }
}

fn path(p: &std::path::Path) -> Value {
    Value::String(p.to_string_lossy().into_owned())
}

fn anonymous(a: AllowAnonymous) -> Value {
    match a {
        AllowAnonymous::Loopback => Value::String("loopback".into()),
        AllowAnonymous::Always => Value::Boolean(true),
        AllowAnonymous::Never => Value::Boolean(false),
    }
}

/// The configuration as a hornet.toml text.
pub fn render(config: &Config) -> String {
    let mut top = Table::new();
    top.insert("allow_anonymous".into(), anonymous(config.allow_anonymous));
    if let Some(p) = &config.password_file {
        top.insert("password_file".into(), path(p));
    }
    if let Some(p) = &config.acl_file {
        top.insert("acl_file".into(), path(p));
    }
    top.insert("sys_interval".into(), int(config.sys_interval));
    let p = &config.persistence;
    top.insert(
        "persistence".into(),
        Value::Boolean(p.enabled.unwrap_or(true)),
    );
    top.insert("data_dir".into(), path(&p.dir()));
    top.insert("fsync".into(), Value::String(p.fsync.name().into()));
    top.insert("fsync_interval_ms".into(), int(p.fsync_interval_ms));

    let mut listeners = Vec::new();
    for l in &config.listeners {
        let mut t = Table::new();
        t.insert("port".into(), int(l.port));
        if let Some(a) = l.bind_address {
            t.insert("bind_address".into(), Value::String(a.to_string()));
        }
        t.insert("kind".into(), Value::String(l.kind.name().into()));
        if l.kind.is_websocket() {
            t.insert("path".into(), Value::String(l.path.clone()));
        }
        if let (Some(tls), true) = (&l.tls, l.kind.is_tls()) {
            t.insert("certfile".into(), path(&tls.certfile));
            t.insert("keyfile".into(), path(&tls.keyfile));
            if let Some(f) = &tls.cafile {
                t.insert("cafile".into(), path(f));
            }
            if let Some(d) = &tls.capath {
                t.insert("capath".into(), path(d));
            }
            t.insert(
                "require_certificate".into(),
                Value::Boolean(tls.require_certificate),
            );
            match tls.identity {
                CertIdentity::None => {}
                CertIdentity::CommonName => {
                    t.insert("use_identity_as_username".into(), Value::Boolean(true));
                }
                CertIdentity::Subject => {
                    t.insert("use_subject_as_username".into(), Value::Boolean(true));
                }
            }
            let version = match tls.min_version {
                TlsVersion::V1_2 => "tlsv1.2",
                TlsVersion::V1_3 => "tlsv1.3",
            };
            t.insert("tls_version".into(), Value::String(version.into()));
        }
        if let Some(n) = l.max_connections {
            t.insert("max_connections".into(), int(n));
        }
        if let Some(n) = l.max_connection_rate {
            t.insert("max_connection_rate".into(), int(n));
        }
        if let Some(a) = l.allow_anonymous {
            t.insert("allow_anonymous".into(), anonymous(a));
        }
        listeners.push(Value::Table(t));
    }
    top.insert("listener".into(), Value::Array(listeners));

    let l = &config.limits;
    let mut limits = Table::new();
    if let Some(n) = l.max_connections {
        limits.insert("max_connections".into(), int(n));
    }
    limits.insert("max_inflight_messages".into(), int(l.max_inflight_messages));
    limits.insert(
        "max_queued_messages".into(),
        zero_if_unlimited(l.max_queued_messages),
    );
    limits.insert(
        "max_queued_bytes".into(),
        zero_if_unlimited(l.max_queued_bytes),
    );
    limits.insert("max_packet_size".into(), int(l.max_packet_size));
    limits.insert("max_keepalive".into(), int(l.max_keepalive));
    limits.insert(
        "queue_qos0_messages".into(),
        Value::Boolean(l.queue_qos0_messages),
    );
    limits.insert("connect_timeout".into(), int(l.connect_timeout));
    limits.insert("max_client_id_length".into(), int(l.max_client_id_length));
    limits.insert("max_topic_length".into(), int(l.max_topic_length));
    limits.insert(
        "max_topic_levels".into(),
        zero_if_unlimited(l.max_topic_levels),
    );
    limits.insert(
        "max_subscriptions_per_client".into(),
        zero_if_unlimited(l.max_subscriptions_per_client),
    );
    limits.insert("max_publish_rate".into(), int(l.max_publish_rate));
    limits.insert(
        "max_publish_bytes_rate".into(),
        int(l.max_publish_bytes_rate),
    );
    let action = match l.publish_rate_action {
        hornet_core::RateAction::Throttle => "throttle",
        hornet_core::RateAction::Disconnect => "disconnect",
    };
    limits.insert("publish_rate_action".into(), Value::String(action.into()));
    limits.insert("flapping_max_connects".into(), int(l.flapping_max_connects));
    limits.insert("flapping_window".into(), int(l.flapping_window));
    limits.insert("flapping_ban".into(), int(l.flapping_ban));
    top.insert("limits".into(), Value::Table(limits));

    let m = &config.mqtt;
    let mut mqtt = Table::new();
    mqtt.insert("receive_maximum".into(), int(m.receive_maximum));
    if let Some(s) = m.max_session_expiry {
        mqtt.insert("max_session_expiry".into(), int(s));
    }
    mqtt.insert("max_qos".into(), int(m.max_qos));
    mqtt.insert(
        "retain_available".into(),
        Value::Boolean(m.retain_available),
    );
    mqtt.insert(
        "retained_max_age".into(),
        int(m.retained_max_age.unwrap_or(0)),
    );
    mqtt.insert(
        "wildcard_subscriptions".into(),
        Value::Boolean(m.wildcard_subscriptions),
    );
    mqtt.insert(
        "subscription_identifiers".into(),
        Value::Boolean(m.subscription_identifiers),
    );
    mqtt.insert("topic_alias_maximum".into(), int(m.topic_alias_maximum));
    if let Some(r) = &m.response_information {
        mqtt.insert("response_information".into(), Value::String(r.clone()));
    }
    if let Some(r) = &m.server_reference {
        mqtt.insert("server_reference".into(), Value::String(r.clone()));
    }
    mqtt.insert("server_moved".into(), Value::Boolean(m.server_moved));
    mqtt.insert(
        "shared_subscriptions".into(),
        Value::Boolean(m.shared_subscriptions),
    );
    mqtt.insert(
        "shared_subscription_strategy".into(),
        Value::String(m.shared_subscription_strategy.to_string()),
    );
    if !m.shared_group_strategies.is_empty() {
        let groups: Table = m
            .shared_group_strategies
            .iter()
            .map(|(name, s)| (name.clone(), Value::String(s.to_string())))
            .collect();
        mqtt.insert("shared_group_strategies".into(), Value::Table(groups));
    }
    top.insert("mqtt".into(), Value::Table(mqtt));

    let g = &config.log;
    let mut log = Table::new();
    log.insert("verbose".into(), Value::Boolean(g.verbose));
    log.insert(
        "connection_messages".into(),
        Value::Boolean(g.connection_messages),
    );
    if !g.types.is_empty() {
        let types = g.types.iter().map(|t| Value::String(t.clone())).collect();
        log.insert("types".into(), Value::Array(types));
    }
    top.insert("log".into(), Value::Table(log));

    // An undeclared admin listener stays undeclared (it runs locked beside
    // MQTT authentication, where a declared one without credentials would
    // refuse the start), so the output starts the same broker.
    let a = &config.admin;
    if a.declared || *a != crate::config::Admin::default() {
        top.insert("admin".into(), Value::Table(admin_table(a)));
    }

    let source = config
        .source
        .as_deref()
        .map_or("the defaults".to_string(), |p| p.display().to_string());
    format!(
        "# The effective configuration of {source}, written by `hornet check-config --format \
         toml`.\n# Limits written as 0 are unlimited. See docs/configuration.md.\n\n{}",
        toml::to_string(&top).unwrap_or_default()
    )
}

/// The `[admin]` table.
fn admin_table(a: &crate::config::Admin) -> Table {
    let strings = |v: &[String]| Value::Array(v.iter().map(|u| Value::String(u.clone())).collect());
    let mut admin = Table::new();
    admin.insert("enabled".into(), Value::Boolean(a.enabled));
    admin.insert("bind".into(), Value::String(a.bind.to_string()));
    admin.insert("port".into(), int(a.port));
    for (key, token) in [
        ("token", &a.token),
        ("read_token", &a.read_token),
        ("metrics_token", &a.metrics_token),
    ] {
        if let Some(t) = token {
            admin.insert(key.into(), Value::String(t.clone()));
        }
    }
    for (key, list) in [
        ("users", &a.users),
        ("read_users", &a.read_users),
        ("hosts", &a.hosts),
    ] {
        if !list.is_empty() {
            admin.insert(key.into(), strings(list));
        }
    }
    if a.allow_unauthenticated {
        admin.insert("allow_unauthenticated".into(), Value::Boolean(true));
    }
    for (key, path) in [("certfile", &a.certfile), ("keyfile", &a.keyfile)] {
        if let Some(p) = path {
            admin.insert(key.into(), Value::String(p.display().to_string()));
        }
    }
    admin
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Loading the output gives the same configuration back.
    fn round_trip(mut config: Config) {
        config.apply_binary_defaults();
        let text = render(&config);
        let origin = Path::new("effective.toml");
        let loaded =
            crate::config::parse_toml(&text, origin).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let mut expected = config;
        expected.source = Some(origin.to_path_buf());
        if expected.persistence.location.is_none() {
            expected.persistence.location = Some(expected.persistence.dir());
        }
        assert_eq!(loaded.config, expected, "{text}");
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }

    #[test]
    fn defaults_round_trip() {
        round_trip(Config::default());
    }

    /// The README's walkthrough file: its undeclared admin listener stays
    /// undeclared (locked, not refused), an opt-out survives.
    #[test]
    fn undeclared_admin_and_the_opt_out_round_trip() {
        let mut config = Config {
            password_file: Some("passwords".into()),
            allow_anonymous: crate::config::AllowAnonymous::Never,
            ..Config::default()
        };
        round_trip(config.clone());
        config.admin.allow_unauthenticated = true;
        config.admin.declared = true;
        round_trip(config);
    }

    #[test]
    fn a_mosquitto_conf_round_trips_through_toml() {
        let conf = "\
allow_anonymous false
password_file /etc/mosquitto/passwd
acl_file /etc/mosquitto/acl
persistence_location /var/lib/mosquitto
max_queued_messages 0
max_inflight_messages 5
max_packet_size 0
max_connections 500
persistent_client_expiration 2d
retained_max_age 3600
max_topic_levels 0
admin_token secret
admin_user root
admin_read_token reader
admin_read_user carol
admin_metrics_token prom
admin_host broker.example
admin_certfile /etc/certs/admin.crt
admin_keyfile /etc/certs/admin.key
listener 1883 127.0.0.1
listener 8883
certfile /etc/certs/server.crt
keyfile /etc/certs/server.key
cafile /etc/certs/ca.crt
require_certificate true
use_identity_as_username true
tls_version tlsv1.3
max_connections 10
listener 8083
protocol websockets
websockets_path /ws
max_connection_rate 50
log_type subscribe
";
        let loaded =
            crate::config::parse_mosquitto(conf, Path::new("/etc/mosquitto/mosquitto.conf"))
                .unwrap();
        round_trip(loaded.config);
    }
}
