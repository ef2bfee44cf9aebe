//! `hornet check-config --format toml`: the effective configuration
//! written as Hornet's TOML, so a Mosquitto user can migrate by running
//! `hornet check-config mosquitto.conf --format toml > hornet.toml`.
//!
//! Owns only the mapping from [`Config`] to the TOML keys the native loader
//! (`config/toml.rs`) reads: the declared settings come from the table
//! (`config/schema.rs`), listeners, files, persistence and `[admin]` are
//! written here; a test loads the output back and compares.
//! Unlimited values are written as Mosquitto's 0; every key is written, so
//! the file shows the defaults too.

use toml::{Table, Value};

use crate::config::schema::{self, Section};
use crate::config::{AllowAnonymous, CertIdentity, Config, TlsVersion};

fn int<T: TryInto<i64>>(n: T) -> Value {
    Value::Integer(n.try_into().unwrap_or(i64::MAX))
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
    // The declared settings, each in its section (schema.rs).
    let mut top = Table::new();
    let (mut limits, mut mqtt, mut log) = (Table::new(), Table::new(), Table::new());
    let mut cluster = Table::new();
    for spec in schema::all() {
        let Some(value) = spec.to_toml(config) else {
            continue;
        };
        let table = match spec.section {
            Section::Top => &mut top,
            Section::Limits => &mut limits,
            Section::Mqtt => &mut mqtt,
            Section::Log => &mut log,
            Section::Cluster => &mut cluster,
        };
        table.insert(spec.name.into(), value);
    }
    if let Some(p) = &config.password_file {
        top.insert("password_file".into(), path(p));
    }
    if let Some(p) = &config.acl_file {
        top.insert("acl_file".into(), path(p));
    }
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
        let kind = if l.psk.is_some() {
            "tls"
        } else {
            l.kind.name()
        };
        t.insert("kind".into(), Value::String(kind.into()));
        if let Some(psk) = &l.psk {
            t.insert("psk_hint".into(), Value::String(psk.hint.clone()));
            t.insert("psk_file".into(), path(&psk.file));
            if psk.identity_as_username {
                t.insert("use_identity_as_username".into(), Value::Boolean(true));
            }
            if let Some(c) = &psk.ciphers {
                t.insert("ciphers".into(), Value::String(c.clone()));
            }
        }
        if let (true, Some(p)) = (l.kind.is_websocket(), &l.path) {
            t.insert("path".into(), Value::String(p.clone()));
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
            if let Some(c) = &tls.ciphers {
                t.insert("ciphers".into(), Value::String(c.clone()));
            }
            if let Some(c) = &tls.ciphers_tls13 {
                t.insert("ciphers_tls13".into(), Value::String(c.clone()));
            }
            if let Some(p) = &tls.crlfile {
                t.insert("crlfile".into(), path(p));
            }
        }
        if let Some(n) = l.max_connections {
            t.insert("max_connections".into(), int(n));
        }
        if let Some(n) = l.max_connection_rate {
            t.insert("max_connection_rate".into(), int(n));
        }
        if let Some(m) = &l.mount_point {
            t.insert("mount_point".into(), Value::String(m.clone()));
        }
        if let Some(a) = l.allow_anonymous {
            t.insert("allow_anonymous".into(), anonymous(a));
        }
        listeners.push(Value::Table(t));
    }
    top.insert("listener".into(), Value::Array(listeners));

    if !config.bridges.is_empty() {
        top.insert(
            "bridge".into(),
            Value::Array(config.bridges.iter().map(bridge_table).collect()),
        );
    }

    top.insert("limits".into(), Value::Table(limits));
    top.insert("mqtt".into(), Value::Table(mqtt));
    top.insert("log".into(), Value::Table(log));
    // A single broker's output has no `[cluster]` (it would make no node).
    if config.cluster.node.is_some() {
        top.insert("cluster".into(), Value::Table(cluster));
    }

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

/// A `[[bridge]]` table: its keys as read (`Bridge::lines`), `topic`
/// lines and addresses as arrays, numbers and switches typed.
fn bridge_table(b: &crate::config::Bridge) -> Value {
    const NUMBERS: &[&str] = &[
        "keepalive_interval",
        "idle_timeout",
        "threshold",
        "bridge_max_packet_size",
        "bridge_max_queued_messages",
        "bridge_max_queued_bytes",
    ];
    let mut t = Table::new();
    t.insert("connection".into(), Value::String(b.name.clone()));
    let (mut topics, mut addresses) = (Vec::new(), Vec::new());
    for (key, words) in &b.lines {
        let text = words.join(" ");
        match *key {
            "topic" => topics.push(Value::String(text)),
            "address" | "addresses" => {
                addresses.extend(words.iter().map(|w| Value::String(w.clone())))
            }
            k => {
                let value = match text.as_str() {
                    "true" => Value::Boolean(true),
                    "false" => Value::Boolean(false),
                    n if NUMBERS.contains(&k) => n
                        .parse()
                        .map_or(Value::String(text.clone()), Value::Integer),
                    _ => Value::String(text.clone()),
                };
                t.insert(k.into(), value);
            }
        }
    }
    t.insert("address".into(), Value::Array(addresses));
    t.insert("topic".into(), Value::Array(topics));
    Value::Table(t)
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

    /// Bridges are written back as `[[bridge]]` tables that read the same.
    #[test]
    fn bridges_round_trip() {
        let conf = "connection b1\naddress 127.0.0.1:1884 h2\ntopic sensors/# out 1 \"\" edge/\n\
                    topic \"\" in 2 local/x remote/y\ncleansession true\nkeepalive_interval 30\n\
                    restart_timeout 2 20\nremote_password 0123\nidle_timeout 9\n\
                    bridge_max_queued_messages 500\n\
                    connection b2\naddress h3\ntopic # both\n";
        let loaded = crate::config::parse_mosquitto(conf, Path::new("m.conf")).unwrap();
        let text = render(&loaded.config);
        let again = crate::config::parse_toml(&text, Path::new("e.toml"))
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        let settings = |c: &Config| c.bridges.iter().map(|b| b.settings()).collect::<Vec<_>>();
        let (mut before, mut after) = (settings(&loaded.config), settings(&again.config));
        // TOML groups a bridge's addresses and topics; the order of other
        // keys is TOML's.
        for b in before.iter_mut().chain(after.iter_mut()) {
            b.lines.sort();
            b.unhonoured.sort_by_key(|u| u.0);
        }
        for (b, a) in before.iter_mut().zip(after.iter_mut()) {
            let merge = |lines: &mut Vec<(&'static str, Vec<String>)>| {
                let words: Vec<String> = lines
                    .iter()
                    .filter(|(k, _)| k.starts_with("address"))
                    .flat_map(|(_, w)| w.clone())
                    .collect();
                lines.retain(|(k, _)| !k.starts_with("address"));
                lines.push(("address", words));
            };
            merge(&mut b.lines);
            merge(&mut a.lines);
        }
        assert_eq!(before, after, "{text}");
        assert!(again.warnings.is_empty(), "{:?}", again.warnings);
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
mount_point org1/
psk_file /etc/hornet/psk
listener 8885
psk_hint hornet
use_identity_as_username true
ciphers PSK-AES128-GCM-SHA256
log_type subscribe
";
        let loaded =
            crate::config::parse_mosquitto(conf, Path::new("/etc/mosquitto/mosquitto.conf"))
                .unwrap();
        round_trip(loaded.config);
    }
}
