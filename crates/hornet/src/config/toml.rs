//! The native TOML configuration format.
//!
//! Owns the file's schema (serde structs with `deny_unknown_fields`, so a
//! misspelt key is an error, not a silently ignored line) and its mapping
//! onto [`Config`]. The keys of `[limits]`, `[mqtt]` and `[log]` and the
//! top-level settings are the declared ones (`schema.rs`): a section is
//! read as [`Rows`] of the table, type-checked where they stand, and set
//! through their rows; listeners, files, persistence and `[admin]` are
//! serde structs here. Every key is optional; a missing key keeps the default.
//! Zero values mean what they mean in `mosquitto.conf` ("unlimited").
//! Errors carry the line, computed from the byte offset TOML reports.
//!
//! ```toml
//! allow_anonymous = "loopback"   # or true / false
//! password_file = "/etc/hornet/passwd"
//! sys_interval = 10
//! [[listener]]
//! port = 1883
//! bind_address = "0.0.0.0"
//! [[listener]]
//! kind = "wss"             # tcp (default), tls, ws, wss
//! port = 8084
//! certfile = "/etc/hornet/server.crt"
//! keyfile = "/etc/hornet/server.key"
//! [limits]
//! max_connections = 10000
//! [log]
//! verbose = false
//! [admin]
//! port = 18083
//! ```

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::schema::{self, Section, Spec};
use super::{
    bind_address_from, check_log_type, check_tls, log_type_is_verbose, max_connections_from,
    ws_path_from, AllowAnonymous, CertIdentity, Config, ConfigError, Listener, ListenerKind,
    Loaded, Tls, TlsVersion,
};
use ::toml::{Spanned, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    allow_anonymous: Option<Spanned<Value>>,
    password_file: Option<PathBuf>,
    acl_file: Option<PathBuf>,
    sys_interval: Option<Spanned<Value>>,
    pid_file: Option<Spanned<Value>>,
    user: Option<Spanned<Value>>,
    listener: Option<Spanned<Vec<ListenerFile>>>,
    limits: Option<Rows<LimitsHand>>,
    mqtt: Option<Rows<MqttHand>>,
    log: Option<Rows<LogHand>>,
    cluster: Option<Spanned<Rows<ClusterHand>>>,
    persistence: Option<bool>,
    data_dir: Option<PathBuf>,
    persistence_location: Option<PathBuf>,
    fsync: Option<Spanned<String>>,
    fsync_interval_ms: Option<u64>,
    admin: Option<AdminFile>,
    bridge: Option<Vec<std::collections::BTreeMap<String, Spanned<Value>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminFile {
    enabled: Option<bool>,
    bind: Option<Spanned<String>>,
    port: Option<u16>,
    token: Option<String>,
    users: Option<Vec<String>>,
    read_token: Option<String>,
    read_users: Option<Vec<String>>,
    metrics_token: Option<String>,
    hosts: Option<Vec<String>>,
    allow_unauthenticated: Option<bool>,
    certfile: Option<PathBuf>,
    keyfile: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListenerFile {
    port: u16,
    bind_address: Option<Spanned<String>>,
    kind: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    certfile: Option<PathBuf>,
    keyfile: Option<PathBuf>,
    cafile: Option<PathBuf>,
    capath: Option<PathBuf>,
    require_certificate: Option<bool>,
    use_identity_as_username: Option<bool>,
    use_subject_as_username: Option<bool>,
    tls_version: Option<Spanned<String>>,
    ciphers: Option<String>,
    ciphers_tls13: Option<String>,
    crlfile: Option<PathBuf>,
    max_connections: Option<i64>,
    max_connection_rate: Option<u32>,
    allow_anonymous: Option<AllowAnonymous>,
    mount_point: Option<Spanned<String>>,
    psk_hint: Option<String>,
    psk_file: Option<PathBuf>,
}

/// A table of declared settings (`[limits]`, `[mqtt]`, `[log]`): each
/// key's row of the declaration table and its value, in file order, and
/// the keys the section reads by hand. An undeclared key is an error at its
/// line, worded as serde words it for a struct.
struct Rows<H> {
    rows: Vec<(&'static Spec, Spanned<Value>)>,
    hand: H,
}

/// The keys of a section that `Rows` does not read itself.
trait Hand: Default {
    /// The section.
    const SECTION: Section;
    /// What serde would expect instead of a non-table (`struct LimitsFile`).
    const EXPECTING: &'static str;
    /// Reads the value of the hand-read key `key`.
    fn read<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
}

/// `[limits]`: every key from the table.
#[derive(Default)]
struct LimitsHand;

impl Hand for LimitsHand {
    const SECTION: Section = Section::Limits;
    const EXPECTING: &'static str = "struct LimitsFile";
    fn read<'de, A: MapAccess<'de>>(&mut self, key: &str, _: &mut A) -> Result<(), A::Error> {
        Err(de::Error::custom(format!(
            "{key} is declared read by hand (schema.rs) but toml.rs does not"
        )))
    }
}

/// `[mqtt]`: `shared_group_strategies`, each strategy with its own line.
#[derive(Default)]
struct MqttHand {
    shared_group_strategies: Option<std::collections::BTreeMap<String, Spanned<String>>>,
}

impl Hand for MqttHand {
    const SECTION: Section = Section::Mqtt;
    const EXPECTING: &'static str = "struct MqttFile";
    fn read<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "shared_group_strategies" => self.shared_group_strategies = Some(map.next_value()?),
            _ => {
                return Err(de::Error::custom(format!(
                    "{key} is declared read by hand (schema.rs) but toml.rs does not"
                )))
            }
        }
        Ok(())
    }
}

/// `[log]`: `types`, each checked with its own line.
#[derive(Default)]
struct LogHand {
    types: Option<Vec<Spanned<String>>>,
}

impl Hand for LogHand {
    const SECTION: Section = Section::Log;
    const EXPECTING: &'static str = "struct LogFile";
    fn read<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "types" => self.types = Some(map.next_value()?),
            _ => {
                return Err(de::Error::custom(format!(
                    "{key} is declared read by hand (schema.rs) but toml.rs does not"
                )))
            }
        }
        Ok(())
    }
}

/// `[cluster]`: every key from the table.
#[derive(Default)]
struct ClusterHand;

impl Hand for ClusterHand {
    const SECTION: Section = Section::Cluster;
    const EXPECTING: &'static str = "struct ClusterFile";
    fn read<'de, A: MapAccess<'de>>(&mut self, key: &str, _: &mut A) -> Result<(), A::Error> {
        Err(de::Error::custom(format!(
            "{key} is declared read by hand (schema.rs) but toml.rs does not"
        )))
    }
}

impl<'de, H: Hand> Deserialize<'de> for Rows<H> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RowsVisitor::<H>(std::marker::PhantomData))
    }
}

struct RowsVisitor<H>(std::marker::PhantomData<H>);

impl<'de, H: Hand> Visitor<'de> for RowsVisitor<H> {
    type Value = Rows<H>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(H::EXPECTING)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Rows<H>, A::Error> {
        let mut rows = Rows {
            rows: Vec::new(),
            hand: H::default(),
        };
        while let Some(spec) = map.next_key_seed(KeySeed(H::SECTION))? {
            if spec.toml_by_hand {
                rows.hand.read(spec.name, &mut map)?;
            } else {
                let value = map.next_value_seed(ValueSeed(spec))?;
                rows.rows.push((spec, value));
            }
        }
        Ok(rows)
    }
}

/// A key of a section: its declared row, or serde's unknown-field error.
struct KeySeed(Section);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = &'static Spec;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let key = String::deserialize(deserializer)?;
        schema::find(self.0, &key).ok_or_else(|| {
            let names: Vec<&str> = schema::all()
                .filter(|s| s.section == self.0)
                .map(|s| s.name)
                .collect();
            de::Error::custom(unknown_field(&key, &names))
        })
    }
}

/// serde's `unknown field` message (`Error::unknown_field` takes only a
/// static list).
fn unknown_field(key: &str, expected: &[&str]) -> String {
    let quoted: Vec<String> = expected.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => format!("unknown field `{key}`, there are no fields"),
        [one] => format!("unknown field `{key}`, expected {one}"),
        [a, b] => format!("unknown field `{key}`, expected {a} or {b}"),
        all => format!("unknown field `{key}`, expected one of {}", all.join(", ")),
    }
}

/// A declared setting's value, type-checked where it is (so the error has
/// its line and serde's words), kept for the model.
struct ValueSeed(&'static Spec);

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Spanned<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let value = Spanned::<Value>::deserialize(deserializer)?;
        self.0
            .check_toml(value.get_ref().clone())
            .map_err(de::Error::custom)?;
        Ok(value)
    }
}

/// `allow_anonymous` takes `true`, `false` or one of the names.
impl<'de> Deserialize<'de> for AllowAnonymous {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AnonVisitor;
        impl Visitor<'_> for AnonVisitor {
            type Value = AllowAnonymous;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"true, false or "loopback""#)
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<AllowAnonymous, E> {
                Ok(if v {
                    AllowAnonymous::Always
                } else {
                    AllowAnonymous::Never
                })
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<AllowAnonymous, E> {
                match v {
                    "loopback" => Ok(AllowAnonymous::Loopback),
                    "true" | "always" => Ok(AllowAnonymous::Always),
                    "false" | "never" => Ok(AllowAnonymous::Never),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        deserializer.deserialize_any(AnonVisitor)
    }
}

pub(crate) fn parse(text: &str, origin: &Path) -> Result<Loaded, ConfigError> {
    let line_of = |span: Range<usize>| line_at(text, span.start);
    let file: File = ::toml::from_str(text)
        .map_err(|e| ConfigError::new(origin, e.span().map(line_of), e.message().trim_end()))?;
    let fail =
        |span: Range<usize>, reason: String| ConfigError::new(origin, Some(line_of(span)), reason);

    let mut config = Config {
        source: Some(origin.to_path_buf()),
        ..Config::default()
    };
    let mut rows: Vec<(&'static Spec, Spanned<Value>)> = Vec::new();
    for (name, value) in [
        ("allow_anonymous", file.allow_anonymous),
        ("sys_interval", file.sys_interval),
        ("pid_file", file.pid_file),
        ("user", file.user),
    ] {
        let spec = schema::find(Section::Top, name).expect("declared in schema.rs");
        rows.extend(value.map(|v| (spec, v)));
    }
    config.password_file = file.password_file;
    config.acl_file = file.acl_file;
    config.persistence.enabled = file.persistence;
    config.persistence.location = file.data_dir.or(file.persistence_location);
    if let Some(mode) = file.fsync {
        let span = mode.span();
        config.persistence.fsync =
            super::FsyncMode::parse(mode.get_ref()).map_err(|r| fail(span, r))?;
    }
    if let Some(ms) = file.fsync_interval_ms {
        config.persistence.fsync_interval_ms = ms;
    }
    if let Some(listeners) = file.listener {
        let span = listeners.span();
        let listeners = listeners.into_inner();
        if listeners.is_empty() {
            return Err(fail(span, "at least one [[listener]] is needed".into()));
        }
        // Each [[listener]] table's line, for errors about the table as a whole.
        let tables: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim_start().starts_with("[[listener]]"))
            .map(|(i, _)| i + 1)
            .collect();
        let mut out: Vec<Listener> = Vec::new();
        for (index, l) in listeners.into_iter().enumerate() {
            let line = tables
                .get(index)
                .copied()
                .unwrap_or_else(|| line_of(span.clone()));
            let listener = listener_from(l, &fail, |reason| {
                ConfigError::new(origin, Some(line), reason)
            })?;
            if out.iter().any(|o| o.same_socket(&listener)) {
                return Err(ConfigError::new(
                    origin,
                    Some(line),
                    format!(
                        "a second listener on port {} (already declared)",
                        listener.port
                    ),
                ));
            }
            out.push(listener);
        }
        config.listeners = out;
    }
    let (mut mqtt, mut log) = (MqttHand::default(), LogHand::default());
    if let Some(l) = file.limits {
        rows.extend(l.rows);
    }
    if let Some(m) = file.mqtt {
        rows.extend(m.rows);
        mqtt = m.hand;
    }
    if let Some(l) = file.log {
        rows.extend(l.rows);
        log = l.hand;
    }
    let cluster_span = file.cluster.as_ref().map(Spanned::span);
    if let Some(c) = file.cluster {
        rows.extend(c.into_inner().rows);
    }
    for (spec, value) in rows {
        let span = value.span();
        spec.read_toml(&mut config, value.into_inner())
            .map_err(|r| fail(span, r))?;
    }
    if let Some(span) = cluster_span {
        super::check_cluster(&config.cluster).map_err(|r| fail(span, r))?;
    }
    for (group, s) in mqtt.shared_group_strategies.unwrap_or_default() {
        let strategy = s.get_ref().parse().map_err(|e: String| fail(s.span(), e))?;
        config.mqtt.shared_group_strategies.push((group, strategy));
    }
    for t in log.types.unwrap_or_default() {
        check_log_type(t.get_ref()).map_err(|r| fail(t.span(), r))?;
        if log_type_is_verbose(t.get_ref()) {
            config.log.verbose = true;
        }
        config.log.types.push(t.into_inner());
    }
    if let Some(a) = file.admin {
        let admin = &mut config.admin;
        if let Some(b) = a.enabled {
            admin.enabled = b;
        }
        if let Some(bind) = a.bind {
            admin.bind =
                bind_address_from("bind", bind.get_ref()).map_err(|r| fail(bind.span(), r))?;
        }
        if let Some(port) = a.port {
            admin.port = port;
        }
        admin.token = a.token;
        admin.users = a.users.unwrap_or_default();
        admin.read_token = a.read_token;
        admin.read_users = a.read_users.unwrap_or_default();
        admin.metrics_token = a.metrics_token;
        admin.hosts = a.hosts.unwrap_or_default();
        admin.allow_unauthenticated = a.allow_unauthenticated.unwrap_or(false);
        admin.certfile = a.certfile;
        admin.keyfile = a.keyfile;
        admin.declared = true;
    }
    let mut warnings = Vec::new();
    for table in file.bridge.unwrap_or_default() {
        let bridge = bridge_from(table, origin, &line_of, &mut warnings)?;
        if config.bridges.iter().any(|b| b.name == bridge.name) {
            return Err(ConfigError::new(
                origin,
                Some(bridge.line),
                format!("a second bridge named {:?}", bridge.name),
            ));
        }
        config.bridges.push(bridge);
    }
    config
        .admin
        .check_in(&config)
        .map_err(|r| ConfigError::new(origin, None, r))?;
    Ok(Loaded { config, warnings })
}

/// One `[[bridge]]` table: `connection = "NAME"` and the bridge keys of
/// mosquitto.conf (`bridge.rs`), each value turned into the words of a
/// mosquitto.conf line (a string is one word, except `topic` lines and
/// `restart_timeout`, whose words are split; an array is repeated keys for
/// `topic`, words otherwise) and read by the same [`Bridge::set`].
fn bridge_from(
    table: std::collections::BTreeMap<String, Spanned<Value>>,
    origin: &Path,
    line_of: &impl Fn(Range<usize>) -> usize,
    warnings: &mut Vec<String>,
) -> Result<super::Bridge, ConfigError> {
    let at = |v: &Spanned<Value>| line_of(v.span());
    let first_line = table.values().map(at).min().unwrap_or(1);
    let Some(name) = table.get("connection") else {
        return Err(ConfigError::new(
            origin,
            Some(first_line),
            "a [[bridge]] needs connection = \"NAME\"",
        ));
    };
    let Value::String(name_text) = name.get_ref() else {
        return Err(ConfigError::new(
            origin,
            Some(at(name)),
            "connection must be a string",
        ));
    };
    let mut bridge = super::Bridge::new(name_text, origin.to_path_buf(), at(name));
    for (key, value) in &table {
        if key == "connection" {
            continue;
        }
        let line = at(value);
        let fail = |r: String| ConfigError::new(origin, Some(line), r);
        if super::bridge::key(key).is_none() {
            return Err(fail(format!(
                "unknown bridge key {key:?} (see docs/bridges.md)"
            )));
        }
        let word = |v: &Value| -> Result<String, String> {
            match v {
                Value::String(s) => Ok(s.clone()),
                Value::Integer(i) => Ok(i.to_string()),
                Value::Boolean(b) => Ok(b.to_string()),
                other => Err(format!(
                    "{key}: {} is not a string, number or boolean",
                    other.type_str()
                )),
            }
        };
        let lines: Vec<Vec<String>> = match (key.as_str(), value.get_ref()) {
            ("topic", Value::Array(items)) => items
                .iter()
                .map(|i| word(i).map(|w| w.split_whitespace().map(str::to_string).collect()))
                .collect::<Result<_, _>>()
                .map_err(fail)?,
            ("topic" | "restart_timeout", v) => {
                vec![word(v)
                    .map_err(fail)?
                    .split_whitespace()
                    .map(str::to_string)
                    .collect()]
            }
            (_, Value::Array(items)) => {
                vec![items
                    .iter()
                    .map(word)
                    .collect::<Result<_, _>>()
                    .map_err(fail)?]
            }
            (_, v) => vec![vec![word(v).map_err(fail)?]],
        };
        for words in lines {
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let before = bridge.unhonoured.len();
            bridge.set(key, &words, line).map_err(fail)?;
            for (k, _, status) in bridge.unhonoured[before..].iter().copied() {
                let why = match status {
                    super::bridge::Status::NotYet(why) => why.to_string(),
                    super::bridge::Status::Blocks(why) => {
                        format!("{why}; this bridge will not be started")
                    }
                    super::bridge::Status::Honoured => continue,
                };
                warnings.push(format!(
                    "{}:{line}: bridge {:?}: {k:?} is read but not honoured yet: {why}",
                    origin.display(),
                    bridge.name
                ));
            }
        }
    }
    bridge
        .check()
        .map_err(|r| ConfigError::new(origin, Some(bridge.line), r))?;
    Ok(bridge)
}

/// One `[[listener]]` table onto a [`Listener`]; `fail` reports a value at
/// its span, `whole` a problem of the table (at its header line).
fn listener_from(
    l: ListenerFile,
    fail: &impl Fn(Range<usize>, String) -> ConfigError,
    whole: impl Fn(String) -> ConfigError,
) -> Result<Listener, ConfigError> {
    let bind_address = l
        .bind_address
        .map(|a| bind_address_from("bind_address", a.get_ref()).map_err(|r| fail(a.span(), r)))
        .transpose()?;
    let kind = match l.kind {
        Some(k) => k
            .get_ref()
            .parse::<ListenerKind>()
            .map_err(|r| fail(k.span(), r))?,
        None => ListenerKind::Tcp,
    };
    let mut listener = Listener {
        port: l.port,
        bind_address,
        kind,
        max_connections: l.max_connections.and_then(max_connections_from),
        max_connection_rate: l.max_connection_rate.filter(|&n| n > 0),
        allow_anonymous: l.allow_anonymous,
        ..Listener::default()
    };
    if let Some(m) = l.mount_point {
        hornet_core::check_mount_point(m.get_ref()).map_err(|r| fail(m.span(), r))?;
        listener.mount_point = Some(m.into_inner());
    }
    if let Some(path) = l.path {
        if !kind.is_websocket() {
            return Err(fail(
                path.span(),
                "path is only for ws and wss listeners".into(),
            ));
        }
        listener.path = Some(ws_path_from(path.get_ref()).map_err(|r| fail(path.span(), r))?);
    }
    if l.psk_hint.is_some() || l.psk_file.is_some() {
        let certificates = l.certfile.is_some()
            || l.keyfile.is_some()
            || l.cafile.is_some()
            || l.capath.is_some()
            || l.require_certificate.is_some()
            || l.use_subject_as_username.is_some()
            || l.crlfile.is_some()
            || l.ciphers_tls13.is_some()
            || l.tls_version.is_some();
        let psk = PskFile {
            port: l.port,
            hint: l.psk_hint,
            file: l.psk_file,
            identity_as_username: l.use_identity_as_username.unwrap_or(false),
            ciphers: l.ciphers,
            certificates,
        };
        return psk_listener(psk, listener, whole);
    }
    let min_version = l
        .tls_version
        .map(|v| {
            v.get_ref()
                .parse::<TlsVersion>()
                .map_err(|r| fail(v.span(), r))
        })
        .transpose()?;
    let tls_keys = l.certfile.is_some()
        || l.keyfile.is_some()
        || l.cafile.is_some()
        || l.capath.is_some()
        || l.require_certificate.is_some()
        || l.use_identity_as_username.is_some()
        || l.use_subject_as_username.is_some()
        || l.ciphers.is_some()
        || l.crlfile.is_some()
        || l.ciphers_tls13.is_some()
        || min_version.is_some();
    if !kind.is_tls() {
        if tls_keys {
            return Err(whole(format!(
                "certfile, keyfile, cafile and the other TLS keys need kind = \"tls\" or \"wss\" \
                 (this listener on port {} is {})",
                l.port,
                kind.name()
            )));
        }
        return Ok(listener);
    }
    let (Some(certfile), Some(keyfile)) = (l.certfile, l.keyfile) else {
        return Err(whole(format!(
            "a {} listener needs certfile and keyfile (PEM files of the server certificate \
             chain and its private key)",
            kind.name()
        )));
    };
    let identity = match (
        l.use_identity_as_username.unwrap_or(false),
        l.use_subject_as_username.unwrap_or(false),
    ) {
        (true, true) => {
            return Err(whole(
                "use_identity_as_username and use_subject_as_username exclude each other".into(),
            ))
        }
        (true, false) => CertIdentity::CommonName,
        (false, true) => CertIdentity::Subject,
        (false, false) => CertIdentity::None,
    };
    let tls = Tls {
        cafile: l.cafile,
        capath: l.capath,
        require_certificate: l.require_certificate.unwrap_or(false),
        identity,
        min_version: min_version.unwrap_or(TlsVersion::V1_2),
        ciphers: l.ciphers,
        ciphers_tls13: l.ciphers_tls13,
        crlfile: l.crlfile,
        ..Tls::new(certfile, keyfile)
    };
    check_tls(&tls).map_err(whole)?;
    listener.tls = Some(tls);
    Ok(listener)
}

/// A TLS-PSK `[[listener]]` (`kind = "tls"` with `psk_hint` and
/// `psk_file` instead of certificates), as Mosquitto's `psk_hint` /
/// `psk_file`.
fn psk_listener(
    l: PskFile,
    listener: Listener,
    whole: impl Fn(String) -> ConfigError,
) -> Result<Listener, ConfigError> {
    let port = l.port;
    if listener.kind != ListenerKind::Tls {
        return Err(whole(format!(
            "psk_hint and psk_file make a TLS-PSK listener: give it kind = \"tls\" (this \
             listener on port {port} is {})",
            listener.kind.name()
        )));
    }
    let (Some(hint), Some(file)) = (l.hint, l.file) else {
        return Err(whole(format!(
            "the TLS-PSK listener on port {port} needs both psk_hint (the identity hint) and \
             psk_file (a file of identity:hexkey lines)"
        )));
    };
    if l.certificates {
        return Err(whole(format!(
            "the listener on port {port} is TLS-PSK (psk_hint): certificates and their keys \
             (certfile, keyfile, cafile, capath, require_certificate, use_subject_as_username, \
             crlfile, ciphers_tls13, tls_version) do not apply; use_identity_as_username and \
             ciphers do"
        )));
    }
    Ok(Listener {
        kind: ListenerKind::Tcp,
        psk: Some(super::Psk {
            hint,
            file,
            identity_as_username: l.identity_as_username,
            ciphers: l.ciphers,
        }),
        ..listener
    })
}

/// The TLS-PSK keys of a `[[listener]]` table.
struct PskFile {
    port: u16,
    hint: Option<String>,
    file: Option<PathBuf>,
    identity_as_username: bool,
    ciphers: Option<String>,
    /// Whether any certificate key was given too.
    certificates: bool,
}

/// The 1-based line holding byte `offset` of `text`.
fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::super::{parse_toml, Admin, Limits, Log};
    use super::*;
    use std::path::PathBuf;

    fn parse(text: &str) -> Config {
        let loaded = parse_toml(text, Path::new("hornet.toml")).unwrap();
        assert!(loaded.warnings.is_empty());
        loaded.config
    }

    fn error(text: &str) -> ConfigError {
        parse_toml(text, Path::new("hornet.toml")).unwrap_err()
    }

    #[test]
    fn empty_file_is_the_defaults() {
        let expected = Config {
            source: Some(PathBuf::from("hornet.toml")),
            ..Config::default()
        };
        assert_eq!(parse(""), expected);
        assert_eq!(parse("# just a comment\n"), expected);
    }

    #[test]
    // Not exhaustive on purpose: a new declared setting does not touch this
    // test (schema.rs's table test reads every one through both loaders).
    #[allow(clippy::needless_update)]
    fn every_key() {
        let c = parse(
            r#"
allow_anonymous = true
sys_interval = 30
password_file = "/etc/hornet/passwd"
acl_file = "/etc/hornet/acl"
persistence = true
data_dir = "/var/lib/hornet"
fsync = "interval"
fsync_interval_ms = 50

[[listener]]
port = 1884
bind_address = "127.0.0.1"

[[listener]]
port = 8000

[limits]
max_connections = 10000
max_inflight_messages = 10
max_queued_messages = 100
max_queued_bytes = 65536
max_packet_size = 4096
max_keepalive = 300
queue_qos0_messages = true
connect_timeout = 5
max_client_id_length = 64
max_topic_length = 256
max_topic_levels = 8
max_subscriptions_per_client = 50
max_publish_rate = 100
max_publish_bytes_rate = 10000
publish_rate_action = "disconnect"
flapping_max_connects = 5
flapping_window = 30
flapping_ban = 300

[log]
verbose = true
connection_messages = false
types = ["error", "warning"]

[admin]
enabled = true
bind = "0.0.0.0"
port = 18084
token = "t0ken"
users = ["alice"]
"#,
        );
        assert_eq!(
            c,
            Config {
                listeners: vec![
                    Listener::tcp(1884, Some("127.0.0.1".parse().unwrap())),
                    Listener::tcp(8000, None),
                ],
                allow_anonymous: AllowAnonymous::Always,
                password_file: Some(PathBuf::from("/etc/hornet/passwd")),
                acl_file: Some(PathBuf::from("/etc/hornet/acl")),
                limits: Limits {
                    max_connections: Some(10000),
                    max_inflight_messages: 10,
                    max_queued_messages: 100,
                    max_queued_bytes: 65536,
                    max_packet_size: 4096,
                    max_keepalive: 300,
                    queue_qos0_messages: true,
                    connect_timeout: 5,
                    max_client_id_length: 64,
                    max_topic_length: 256,
                    max_topic_levels: 8,
                    max_subscriptions_per_client: 50,
                    max_publish_rate: 100,
                    max_publish_bytes_rate: 10000,
                    publish_rate_action: hornet_core::RateAction::Disconnect,
                    flapping_max_connects: 5,
                    flapping_window: 30,
                    flapping_ban: 300,
                    ..Limits::default()
                },
                mqtt: Default::default(),
                sys_interval: 30,
                log: Log {
                    verbose: true,
                    connection_messages: false,
                    types: vec!["error".into(), "warning".into()],
                    ..Log::default()
                },
                admin: Admin {
                    enabled: true,
                    bind: "0.0.0.0".parse().unwrap(),
                    port: 18084,
                    token: Some("t0ken".into()),
                    users: vec!["alice".into()],
                    declared: true,
                    ..Admin::default()
                },
                persistence: crate::config::Persistence {
                    enabled: Some(true),
                    location: Some(PathBuf::from("/var/lib/hornet")),
                    fsync: crate::config::FsyncMode::Interval,
                    fsync_interval_ms: 50,
                },
                source: Some(PathBuf::from("hornet.toml")),
                ..Config::default()
            }
        );
    }

    #[test]
    fn listener_kinds_and_tls() {
        let c = parse(
            r#"
[[listener]]
port = 1883

[[listener]]
kind = "tls"
port = 8883
certfile = "/s.crt"
keyfile = "/s.key"
cafile = "/ca.crt"
require_certificate = true
use_subject_as_username = true
tls_version = "tlsv1.2"
max_connections = 50
max_connection_rate = 20
allow_anonymous = false

[[listener]]
kind = "ws"
port = 8083
path = "/ws"

[[listener]]
kind = "wss"
port = 8084
certfile = "/s.crt"
keyfile = "/s.key"
"#,
        );
        let l = &c.listeners;
        assert_eq!(l[0], Listener::tcp(1883, None));
        assert_eq!(l[1].kind, ListenerKind::Tls);
        assert_eq!(
            l[1].tls,
            Some(Tls {
                cafile: Some("/ca.crt".into()),
                require_certificate: true,
                identity: CertIdentity::Subject,
                ..Tls::new("/s.crt", "/s.key")
            })
        );
        assert_eq!(l[1].max_connections, Some(50));
        assert_eq!(l[1].max_connection_rate, Some(20));
        assert_eq!(l[1].allow_anonymous, Some(AllowAnonymous::Never));
        assert_eq!(
            (l[2].kind, l[2].path.as_deref()),
            (ListenerKind::Ws, Some("/ws"))
        );
        assert_eq!((l[3].kind, l[3].path.as_deref()), (ListenerKind::Wss, None));
    }

    #[test]
    fn tls_psk_listeners() {
        let c = parse_toml(
            "[[listener]]\nport = 8885\nkind = \"tls\"\npsk_hint = \"hornet\"\n\
             psk_file = \"/etc/hornet/psk\"\nuse_identity_as_username = true\n",
            Path::new("hornet.toml"),
        )
        .unwrap()
        .config;
        let l = &c.listeners[0];
        assert_eq!(l.kind, ListenerKind::Tcp);
        let psk = l.psk.as_ref().unwrap();
        assert_eq!(psk.hint, "hornet");
        assert_eq!(psk.file, Path::new("/etc/hornet/psk"));
        assert!(psk.identity_as_username);
        let err = |text: &str| {
            parse_toml(
                &format!("[[listener]]\nport = 8885\n{text}"),
                Path::new("h.toml"),
            )
            .unwrap_err()
            .to_string()
        };
        assert!(err("psk_hint = \"h\"\npsk_file = \"/p\"\n").contains("kind = \"tls\""));
        assert!(err("kind = \"tls\"\npsk_hint = \"h\"\n").contains("needs both"));
        assert!(
            err("kind = \"tls\"\npsk_hint = \"h\"\npsk_file = \"/p\"\ncertfile = \"/c\"\n")
                .contains("do not apply")
        );
    }

    #[test]
    fn listener_errors_name_the_table_line() {
        let cases = [
            (
                "[[listener]]\nport = 1\n\n[[listener]]\nkind = \"tls\"\nport = 8883\n",
                4,
                "a tls listener needs certfile and keyfile",
            ),
            (
                "[[listener]]\nport = 1\ncertfile = \"/s.crt\"\n",
                1,
                "need kind = \"tls\" or \"wss\"",
            ),
            (
                "[[listener]]\nport = 1\nkind = \"quic\"\n",
                3,
                "listener kind must be",
            ),
            (
                "[[listener]]\nport = 1\npath = \"/x\"\n",
                3,
                "only for ws and wss",
            ),
            (
                "[[listener]]\nport = 1\n[[listener]]\nport = 1\n",
                3,
                "a second listener on port 1",
            ),
            (
                "[[listener]]\nkind = \"wss\"\nport = 1\ncertfile = \"a\"\nkeyfile = \"b\"\n\
                 tls_version = \"tlsv1.0\"\n",
                6,
                "tls_version must be",
            ),
        ];
        for (text, line, reason) in cases {
            let err = error(text);
            assert_eq!(err.line, Some(line), "{text}: {err}");
            assert!(err.reason.contains(reason), "{text}: {err}");
        }
    }

    #[test]
    // Not exhaustive on purpose: a new declared setting does not touch this
    // test (schema.rs's table test reads every one through both loaders).
    #[allow(clippy::needless_update)]
    fn mqtt_table() {
        let c = parse(
            r#"
[mqtt]
receive_maximum = 100
max_session_expiry = 86400
max_qos = 1
retain_available = false
retained_max_age = 3600
wildcard_subscriptions = false
subscription_identifiers = false
topic_alias_maximum = 10
response_information = "responses/"
server_reference = "other:1883"
server_moved = true
shared_subscriptions = false
shared_subscription_strategy = "random"
shared_group_strategies = { workers = "hash_clientid" }
"#,
        );
        assert_eq!(
            c.mqtt,
            super::super::Mqtt {
                receive_maximum: 100,
                max_session_expiry: Some(86400),
                max_qos: 1,
                retain_available: false,
                retained_max_age: Some(3600),
                wildcard_subscriptions: false,
                subscription_identifiers: false,
                topic_alias_maximum: 10,
                response_information: Some("responses/".into()),
                server_reference: Some("other:1883".into()),
                server_moved: true,
                shared_subscriptions: false,
                shared_subscription_strategy: hornet_core::SharedStrategy::Random,
                shared_group_strategies: vec![(
                    "workers".into(),
                    hornet_core::SharedStrategy::HashClientId
                )],
                ..super::super::Mqtt::default()
            }
        );
        assert_eq!(
            parse("[mqtt]\nretained_max_age = 0\n")
                .mqtt
                .retained_max_age,
            None
        );
        let err = error("[mqtt]\nmax_qos = 3\n");
        assert_eq!(err.line, Some(2));
        assert!(err.reason.contains("max_qos must be 0, 1 or 2"), "{err}");
        let err = error("[mqtt]\nreceive_maximum = 0\n");
        assert!(
            err.reason.contains("receive_maximum must be 1 to 65535"),
            "{err}"
        );
    }

    #[test]
    fn admin_table_and_its_safe_default() {
        let c = parse("[admin]\nenabled = false\nport = 9000\n");
        assert!(!c.admin.enabled);
        assert_eq!(c.admin.port, 9000);
        assert_eq!(c.admin.bind, std::net::IpAddr::from([127, 0, 0, 1]));
        let err = error("[admin]\nbind = \"0.0.0.0\"\n");
        assert!(err.reason.contains("needs credentials"), "{err}");
        let err = error("[admin]\nbind = \"0.0.0.0\"\ntoken = \"\"\n");
        assert!(err.reason.contains("must not be empty"), "{err}");
        // Off, an open address is fine: nothing listens.
        assert!(
            !parse("[admin]\nenabled = false\nbind = \"::\"\n")
                .admin
                .enabled
        );
        let err = error("[admin]\nbind = \"example.com\"\n");
        assert!(err.reason.contains("bind must be an IP address"), "{err}");
        let c = parse(
            "[admin]\nread_token = \"r\"\nread_users = [\"carol\"]\nmetrics_token = \"m\"\n\
             hosts = [\"broker.example\"]\ncertfile = \"a.crt\"\nkeyfile = \"a.key\"\n",
        );
        assert_eq!(c.admin.read_token.as_deref(), Some("r"));
        assert_eq!(c.admin.read_users, ["carol"]);
        assert_eq!(c.admin.metrics_token.as_deref(), Some("m"));
        assert_eq!(c.admin.hosts, ["broker.example"]);
        assert!(c.admin.declared && c.admin.tls());
        let err = error("[admin]\nread_token = \"\"\n");
        assert!(err.reason.contains("read_token must not be empty"), "{err}");
    }

    /// The README's two-line file starts (its admin listener runs locked);
    /// with an `[admin]` table and no credentials the start is refused with
    /// the keys to set.
    #[test]
    fn admin_credentials_beside_mqtt_authentication() {
        let walkthrough = "allow_anonymous = false\npassword_file = \"passwords\"\n";
        let c = parse(walkthrough);
        assert!(!c.admin.declared);
        let locked = c.admin.unguarded(&c).expect("locked");
        assert!(locked.contains("[admin] token"), "{locked}");
        let err = error(&format!("{walkthrough}[admin]\nport = 18083\n"));
        for key in [
            "[admin] token",
            "[admin] users",
            "enabled = false",
            "allow_unauthenticated",
        ] {
            assert!(err.reason.contains(key), "{err}");
        }
        let open = parse(&format!(
            "{walkthrough}[admin]\nallow_unauthenticated = true\n"
        ));
        assert!(open.admin.unguarded(&open).is_none());
        assert!(parse("[admin]\nport = 9000\n")
            .admin
            .unguarded(&Config::default())
            .is_none());
    }

    #[test]
    fn allow_anonymous_spellings() {
        for (value, expected) in [
            ("true", AllowAnonymous::Always),
            ("false", AllowAnonymous::Never),
            (r#""loopback""#, AllowAnonymous::Loopback),
            (r#""always""#, AllowAnonymous::Always),
            (r#""never""#, AllowAnonymous::Never),
        ] {
            let c = parse(&format!("allow_anonymous = {value}\n"));
            assert_eq!(c.allow_anonymous, expected, "{value}");
        }
        let err = error("\nallow_anonymous = \"maybe\"\n");
        assert_eq!(err.line, Some(2));
        assert!(err.reason.contains(r#"true, false or "loopback""#), "{err}");
    }

    #[test]
    fn zeros_mean_unlimited() {
        let c = parse(
            "sys_interval = 0\n[limits]\nmax_connections = 0\nmax_inflight_messages = 0\n\
             max_queued_messages = 0\nmax_queued_bytes = 0\nmax_packet_size = 0\nmax_keepalive = 0\n",
        );
        assert_eq!(c.sys_interval, 0);
        assert_eq!(c.limits.max_connections, None);
        assert_eq!(c.limits.max_inflight_messages, 65535);
        assert_eq!(c.limits.max_queued_messages, usize::MAX);
        assert_eq!(c.limits.max_queued_bytes, usize::MAX);
        assert_eq!(c.limits.max_packet_size, 268_435_455);
        assert_eq!(c.limits.max_keepalive, 0);
        assert_eq!(
            parse("[limits]\nmax_connections = -1\n")
                .limits
                .max_connections,
            None
        );
    }

    #[test]
    fn verbose_log_types() {
        assert!(parse("[log]\ntypes = [\"debug\"]\n").log.verbose);
        let err = error("[log]\n\ntypes = [\"error\", \"loud\"]\n");
        assert_eq!(err.line, Some(3));
        assert!(err.reason.starts_with("log_type must be one of"), "{err}");
    }

    #[test]
    fn unknown_key_is_an_error_with_its_line() {
        let err = error("sys_interval = 10\n\n[limits]\nmax_conections = 5\n");
        assert_eq!(err.file, Path::new("hornet.toml"));
        assert_eq!(err.line, Some(4));
        assert!(
            err.reason.contains("unknown field `max_conections`"),
            "{err}"
        );
        assert!(
            err.to_string().starts_with("hornet.toml:4: unknown field"),
            "{err}"
        );

        let err = error("prot = 1\n");
        assert_eq!(err.line, Some(1));
    }

    #[test]
    fn cluster_table() {
        let c = parse(
            "[cluster]\nnode = \"n1\"\netcd = [\"http://10.0.0.1:2379\"]\n\
             listen = \"0.0.0.0:7000\"\nlease_ttl = 4\n",
        )
        .cluster;
        assert_eq!(c.node.as_deref(), Some("n1"));
        assert_eq!(c.etcd, vec!["http://10.0.0.1:2379".to_string()]);
        assert_eq!((c.listen.as_str(), c.lease_ttl), ("0.0.0.0:7000", 4));
        assert_eq!(parse("").cluster, super::super::Cluster::default());
        for (text, line, reason) in [
            (
                "[cluster]\netcd = [\"http://e:2379\"]\n",
                1,
                "[cluster] needs `node`",
            ),
            ("[cluster]\nnode = \"a/b\"\n", 1, "may hold only letters"),
            (
                "[cluster]\nnode = \"n\"\nlisten = \"nowhere\"\n",
                1,
                "listen must be",
            ),
            ("[cluster]\nnode = \"n\"\netcd = []\n", 3, "one or more"),
            ("[cluster]\nnode = \"n\"\nlease_ttl = 1\n", 1, "at least 2"),
            (
                "[cluster]\nnode = \"n\"\nnodes = 3\n",
                3,
                "unknown field `nodes`",
            ),
        ] {
            let err = error(text);
            assert_eq!(err.line, Some(line), "{text}: {err}");
            assert!(err.reason.contains(reason), "{text}: {err}");
        }
    }

    #[test]
    fn bad_values_are_errors_with_their_line() {
        let cases = [
            ("[[listener]]\nport = 70000\n", 2, "invalid value"),
            ("[[listener]]\nport = \"x\"\n", 2, "invalid type"),
            (
                "[[listener]]\nbind_address = \"::1\"\n",
                1,
                "missing field `port`",
            ),
            (
                "[[listener]]\nport = 1\nbind_address = \"nowhere\"\n",
                3,
                "bind_address must be an IP address",
            ),
            ("listener = []\n", 1, "at least one [[listener]]"),
            (
                "[limits]\nmax_packet_size = 5\n",
                2,
                "max_packet_size must be 0",
            ),
            ("[limits]\nmax_inflight_messages = -1\n", 2, "invalid value"),
            ("sys_interval = true\n", 1, "invalid type"),
            ("sys_interval = \n", 1, ""),
        ];
        for (text, line, reason) in cases {
            let err = error(text);
            assert_eq!(err.line, Some(line), "{text}: {err}");
            assert!(err.reason.contains(reason), "{text}: {err}");
        }
    }

    #[test]
    fn bridge_tables() {
        let text = "[[bridge]]\n\
                    connection = \"b1\"\n\
                    address = [\"127.0.0.1:1884\", \"h2\"]\n\
                    topic = [\"sensors/# out 1 \\\"\\\" remote/\", \"cmd/# in 2\"]\n\
                    cleansession = true\n\
                    keepalive_interval = 30\n\
                    restart_timeout = \"1 4\"\n\
                    threshold = 5\n\
                    bridge_identity = \"id\"\n\
                    bridge_psk = \"00ff\"\n";
        let loaded = super::parse(text, Path::new("hornet.toml")).unwrap();
        let b = &loaded.config.bridges[0];
        assert_eq!(b.name, "b1");
        assert_eq!(b.line, 2);
        assert_eq!(b.addresses.len(), 2);
        assert_eq!(b.topics[0].remote_filter(), "remote/sensors/#");
        assert_eq!(b.topics[1].qos, 2);
        assert!(b.clean_session);
        assert_eq!(
            (b.keepalive, b.restart_base, b.restart_cap),
            (30, 1, Some(4))
        );
        assert_eq!(b.threshold, 5);
        assert!(b.psk() && b.psk.as_deref() == Some("00ff"));
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        for (text, line, reason) in [
            (
                "[[bridge]]\naddress = \"h\"\n",
                2,
                "a [[bridge]] needs connection",
            ),
            (
                "[[bridge]]\nconnection = \"b\"\naddress = \"h\"\ntopic = \"a\"\nfrobnicate = 1\n",
                5,
                "unknown bridge key",
            ),
            (
                "[[bridge]]\nconnection = \"b\"\naddress = \"h\"\ntopic = \"a in 7\"\n",
                4,
                "invalid bridge QoS",
            ),
            (
                "[[bridge]]\nconnection = \"b\"\ntopic = \"a\"\n",
                2,
                "bridge \"b\" has no address",
            ),
        ] {
            let err = error(text);
            assert_eq!(err.line, Some(line), "{text}: {err}");
            assert!(err.reason.starts_with(reason), "{text}: {err}");
        }
    }

    #[test]
    fn line_numbers() {
        assert_eq!(line_at("a\nb\nc", 0), 1);
        assert_eq!(line_at("a\nb\nc", 2), 2);
        assert_eq!(line_at("a\nb\nc", 4), 3);
        assert_eq!(line_at("a\nb\nc", 99), 3);
    }
}
