//! The `mosquitto.conf` reader.
//!
//! Mosquitto's syntax: one `key value...` per line, `#` starts a comment
//! line, blank lines are ignored, and `include_dir DIR` reads every `*.conf`
//! file in DIR in sorted order as if it were pasted in place. A token
//! starting with `#` after the value is also taken as a comment.
//!
//! Supported keys set the model: those that are one value on one line come
//! from the declaration table (`schema.rs`), the others are read here;
//! keys Mosquitto knows but Hornet does not
//! implement yet, and unknown keys, become warnings naming file, line and
//! key (Mosquitto refuses unknown keys; Hornet is lenient so a real-world
//! file still starts). Bad values of supported keys are errors naming file,
//! line, key and what is accepted.
//!
//! Listeners follow Mosquitto: `port` and `bind_address` configure the
//! default listener, each `listener PORT [ADDRESS]` adds one and opens its
//! section. A section's keys make its listener TLS (`certfile`, `keyfile`,
//! `cafile`, `capath`, `require_certificate`, `use_identity_as_username`,
//! `use_subject_as_username`, `tls_version`) and/or WebSocket
//! (`protocol websockets`): `tls`, `ws` or `wss`; a TLS listener without
//! `certfile` and `keyfile` is an error naming its `listener` line.
//! `max_connections` in a section limits that listener, before any the
//! whole broker; `allow_anonymous` is per listener with
//! `per_listener_settings true`, as in Mosquitto. A TLS-PSK listener
//! (`psk_hint`) is skipped with a warning. With no `port` or `listener` at
//! all, the default listener (1883, all interfaces) stays.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::bridge::{self, Bridge};
use super::schema;
use super::{
    bind_address_from, check_log_type, check_tls, log_type_is_verbose, max_connections_from,
    ws_path_from, AllowAnonymous, CertIdentity, Config, ConfigError, Listener, ListenerKind,
    Loaded, Tls, TlsVersion, DEFAULT_PORT,
};

/// How deep `include_dir` may nest before it is taken for a loop.
const MAX_INCLUDE_DEPTH: usize = 8;

/// Keys Mosquitto knows that Hornet reads but ignores (with a warning).
const IGNORED_KEYS: &[&str] = &[
    // general
    "auth_plugin",
    "auth_plugin_deny_special_chars",
    "global_plugin",
    "max_inflight_bytes",
    "memory_limit",
    "plugin",
    "websockets_headers_size",
    "websockets_log_level",
    "accept_protocol_versions",
    "enable_control_api",
    // per listener
    "bind_interface",
    "http_dir",
    "max_topic_alias_broker",
    "socket_domain",
    "use_username_as_clientid",
    // TLS
    "tls_engine",
    "tls_engine_kpass_sha1",
    "tls_keyform",
    // bridges
    "connection_messages_bridge",
];

/// Mosquitto keys Hornet has no use for, each with the reason: accepted,
/// and `check-config` says why rather than "not supported".
const NOT_NEEDED: &[(&str, &str)] = &[
    (
        "autosave_interval",
        "every change is written to the store before it is acknowledged, so there is \
         nothing to save periodically",
    ),
    (
        "autosave_on_changes",
        "every change is written to the store before it is acknowledged, so there is \
         nothing to save periodically",
    ),
    (
        "persistence_file",
        "the store is a directory of log files (persistence_location / data_dir), not one file",
    ),
    (
        "store_clean_interval",
        "a message is freed as soon as its last copy is acknowledged; there is nothing to \
         clean periodically",
    ),
    (
        "retry_interval",
        "unacknowledged messages are resent when the client reconnects, as MQTT 3.1.1 and 5 \
         require (Mosquitto 2.0 dropped the key too)",
    ),
    (
        "allow_duplicate_messages",
        "a subscriber gets one copy of a message however many of its subscriptions match \
         (Mosquitto 2.0 dropped the key too)",
    ),
    (
        "set_tcp_nodelay",
        "TCP_NODELAY is always on: Hornet coalesces its own writes",
    ),
    (
        "dhparamfile",
        "TLS uses elliptic-curve key exchange (ECDHE) only, which needs no DH parameters",
    ),
];

/// Prefixes of families of Mosquitto keys (bridge, plugin options).
const IGNORED_PREFIXES: &[&str] = &["bridge_", "auth_opt_", "plugin_opt_"];

/// A listener being read, with where it was declared and why it cannot be
/// served if it cannot.
struct Pending {
    listener: Listener,
    file: PathBuf,
    line: usize,
    /// `psk_hint`: the listener is TLS-PSK.
    psk_hint: Option<String>,
    websockets: bool,
    tls: TlsKeys,
    allow_anonymous: Option<AllowAnonymous>,
}

impl Pending {
    fn new(listener: Listener, at: &At<'_>) -> Pending {
        Pending {
            listener,
            file: at.file.to_path_buf(),
            line: at.line,
            psk_hint: None,
            websockets: false,
            tls: TlsKeys::default(),
            allow_anonymous: None,
        }
    }

    /// The listener its section describes, or why it is wrong.
    fn resolve(mut self) -> Result<Listener, String> {
        let t = self.tls;
        let kind = match (self.websockets, t.any) {
            (false, false) => ListenerKind::Tcp,
            (false, true) => ListenerKind::Tls,
            (true, false) => ListenerKind::Ws,
            (true, true) => ListenerKind::Wss,
        };
        self.listener.kind = kind;
        if !t.any {
            return Ok(self.listener);
        }
        let (Some(certfile), Some(keyfile)) = (t.certfile, t.keyfile) else {
            return Err(format!(
                "the listener on port {} has TLS settings but no {}: a TLS listener needs \
                 certfile and keyfile (PEM files of the server certificate chain and its key)",
                self.listener.port,
                match (t.has_cert, t.has_key) {
                    (false, false) => "certfile and keyfile",
                    (false, true) => "certfile",
                    _ => "keyfile",
                }
            ));
        };
        let identity = match (t.use_identity, t.use_subject) {
            (true, true) => {
                return Err(
                    "use_identity_as_username and use_subject_as_username exclude each other"
                        .into(),
                )
            }
            (true, false) => CertIdentity::CommonName,
            (false, true) => CertIdentity::Subject,
            (false, false) => CertIdentity::None,
        };
        let tls = Tls {
            cafile: t.cafile,
            capath: t.capath,
            require_certificate: t.require_certificate,
            identity,
            min_version: t.version.unwrap_or(TlsVersion::V1_2),
            ciphers: t.ciphers,
            ciphers_tls13: t.ciphers_tls13,
            crlfile: t.crlfile,
            ..Tls::new(certfile, keyfile)
        };
        check_tls(&tls)?;
        self.listener.tls = Some(tls);
        Ok(self.listener)
    }
}

/// A listener section's TLS keys, checked together at the end.
#[derive(Default)]
struct TlsKeys {
    any: bool,
    has_cert: bool,
    has_key: bool,
    certfile: Option<PathBuf>,
    keyfile: Option<PathBuf>,
    cafile: Option<PathBuf>,
    capath: Option<PathBuf>,
    require_certificate: bool,
    use_identity: bool,
    use_subject: bool,
    version: Option<TlsVersion>,
    ciphers: Option<String>,
    ciphers_tls13: Option<String>,
    crlfile: Option<PathBuf>,
}

/// Which listener the lines being read configure.
#[derive(Clone, Copy)]
enum Section {
    Default,
    Listener(usize),
}

struct Reader {
    config: Config,
    warnings: Vec<String>,
    allow_anonymous: Option<AllowAnonymous>,
    per_listener_settings: bool,
    default_listener: Option<Pending>,
    listeners: Vec<Pending>,
    section: Section,
    depth: usize,
    /// Whether `max_inflight_messages` and `receive_maximum` were given:
    /// the first also sets the second when it is not, as in Mosquitto.
    inflight_given: bool,
    receive_maximum_given: bool,
    /// `psk_file`, for the TLS-PSK listeners.
    psk_file: Option<PathBuf>,
    /// The bridge section open since the last `connection` line.
    bridge: Option<usize>,
}

/// One line being read: where it is, for messages.
struct At<'a> {
    file: &'a Path,
    line: usize,
}

impl At<'_> {
    fn error(&self, reason: impl Into<String>) -> ConfigError {
        ConfigError::new(self.file, Some(self.line), reason)
    }

    fn warning(&self, text: impl std::fmt::Display) -> String {
        format!("{}:{}: {}", self.file.display(), self.line, text)
    }
}

pub(crate) fn parse(text: &str, origin: &Path) -> Result<Loaded, ConfigError> {
    let mut reader = Reader {
        config: Config::default(),
        warnings: Vec::new(),
        allow_anonymous: None,
        per_listener_settings: false,
        default_listener: None,
        listeners: Vec::new(),
        section: Section::Default,
        depth: 0,
        inflight_given: false,
        receive_maximum_given: false,
        psk_file: None,
        bridge: None,
    };
    reader.read_text(text, origin)?;
    reader.finish(origin)
}

impl Reader {
    fn read_text(&mut self, text: &str, file: &Path) -> Result<(), ConfigError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (index, raw) in text.lines().enumerate() {
            let at = At {
                file,
                line: index + 1,
            };
            let mut tokens = raw.split_whitespace();
            let Some(key) = tokens.next() else { continue };
            if key.starts_with('#') {
                continue;
            }
            // A bridge `topic`'s pattern may be `#` itself (as in
            // Mosquitto); after it, `#` starts a comment as elsewhere.
            let first = if key == "topic" { tokens.next() } else { None };
            let args: Vec<&str> = first
                .into_iter()
                .chain(tokens.take_while(|t| !t.starts_with('#')))
                .collect();
            self.read_line(&at, key, &args)?;
        }
        Ok(())
    }

    fn read_line(&mut self, at: &At<'_>, key: &str, args: &[&str]) -> Result<(), ConfigError> {
        if key.starts_with("admin_") {
            // The file declares the admin listener: without credentials
            // beside MQTT authentication it refuses the start (Admin::check_in).
            self.config.admin.declared = true;
        }
        // Mosquitto's other spelling of max_qos.
        let key = if key == "maximum_qos" { "max_qos" } else { key };
        self.inflight_given |= key == "max_inflight_messages";
        self.receive_maximum_given |= key == "receive_maximum";
        if key == "connection" || bridge::key(key).is_some() {
            return self.bridge_line(at, key, args);
        }
        // A declared setting that is one value on one line (schema.rs).
        if let Some(spec) = schema::by_conf_key(key) {
            let value = self.one(at, key, args)?;
            return spec
                .read_conf(&mut self.config, key, value)
                .map_err(|r| at.error(r));
        }
        match key {
            "listener" => {
                let (port, address) = match args {
                    [port] => (*port, None),
                    [port, address, ..] => (*port, Some(*address)),
                    [] => {
                        return Err(at.error(
                            "listener needs a port: `listener PORT [BIND_ADDRESS]`, e.g. `listener 1883`",
                        ))
                    }
                };
                if args.len() > 2 {
                    self.extra(at, key, &args[2..]);
                }
                let port = parse_port(at, key, port)?;
                let bind_address = address.map(|a| parse_address(at, key, a)).transpose()?;
                self.listeners
                    .push(Pending::new(Listener::tcp(port, bind_address), at));
                self.section = Section::Listener(self.listeners.len() - 1);
            }
            "port" => {
                let port = parse_port(at, key, self.one(at, key, args)?)?;
                self.default_listener(at).listener.port = port;
            }
            "bind_address" => {
                let address = parse_address(at, key, self.one(at, key, args)?)?;
                self.default_listener(at).listener.bind_address = Some(address);
            }
            "admin_listener" => {
                let (port, address) = match args {
                    [port] => (*port, None),
                    [port, address, ..] => (*port, Some(*address)),
                    [] => {
                        return Err(at.error(
                            "admin_listener needs a port: `admin_listener PORT [BIND_ADDRESS]`, e.g. `admin_listener 18083 127.0.0.1`",
                        ))
                    }
                };
                self.config.admin.port = parse_port(at, key, port)?;
                if let Some(a) = address {
                    self.config.admin.bind = parse_address(at, key, a)?;
                }
            }
            "admin_enabled" => {
                self.config.admin.enabled = parse_bool(at, key, self.one(at, key, args)?)?;
            }
            "admin_token" => {
                self.config.admin.token = Some(self.one(at, key, args)?.to_string());
            }
            "admin_user" => {
                let name = self.one(at, key, args)?.to_string();
                self.config.admin.users.push(name);
            }
            "admin_read_token" => {
                self.config.admin.read_token = Some(self.one(at, key, args)?.to_string());
            }
            "admin_read_user" => {
                let name = self.one(at, key, args)?.to_string();
                self.config.admin.read_users.push(name);
            }
            "admin_metrics_token" => {
                self.config.admin.metrics_token = Some(self.one(at, key, args)?.to_string());
            }
            "admin_host" => {
                let name = self.one(at, key, args)?.to_string();
                self.config.admin.hosts.push(name);
            }
            "admin_allow_unauthenticated" => {
                self.config.admin.allow_unauthenticated =
                    parse_bool(at, key, self.one(at, key, args)?)?;
            }
            "admin_certfile" => {
                self.config.admin.certfile = Some(PathBuf::from(self.one(at, key, args)?));
            }
            "admin_keyfile" => {
                self.config.admin.keyfile = Some(PathBuf::from(self.one(at, key, args)?));
            }
            "password_file" => {
                let path = self.one(at, key, args)?;
                self.config.password_file = Some(PathBuf::from(path));
            }
            "acl_file" => {
                let path = self.one(at, key, args)?;
                self.config.acl_file = Some(PathBuf::from(path));
            }
            "allow_anonymous" => {
                let allow = parse_bool(at, key, self.one(at, key, args)?)?;
                let allow = if allow {
                    AllowAnonymous::Always
                } else {
                    AllowAnonymous::Never
                };
                // As in Mosquitto: per listener only with per_listener_settings.
                match (self.per_listener_settings, self.section) {
                    (true, Section::Listener(i)) => self.listeners[i].allow_anonymous = Some(allow),
                    _ => self.allow_anonymous = Some(allow),
                }
            }
            "per_listener_settings" => {
                let value = self.one(at, key, args)?;
                self.per_listener_settings = parse_bool(at, key, value)?;
            }
            "max_connections" => {
                let value = self.one(at, key, args)?;
                let n: i64 = parse_number(at, key, value, "-1 (unlimited) or a positive number")?;
                // In a listener section it limits that listener (as in
                // Mosquitto); before any, all connections together.
                match self.section {
                    Section::Listener(i) => {
                        self.listeners[i].listener.max_connections = max_connections_from(n)
                    }
                    Section::Default => {
                        self.config.limits.max_connections = max_connections_from(n)
                    }
                }
            }
            "max_connection_rate" => {
                let value = self.one(at, key, args)?;
                let n: u32 = parse_number(
                    at,
                    key,
                    value,
                    "0 (unlimited) or a number of new connections per second",
                )?;
                self.listener_section(at).listener.max_connection_rate = (n > 0).then_some(n);
            }
            "protocol" => {
                let value = self.one(at, key, args)?;
                let websockets = match value {
                    "mqtt" => false,
                    "websockets" => true,
                    _ => {
                        return Err(at.error(format!(
                            "protocol must be mqtt or websockets, not {value:?}"
                        )))
                    }
                };
                self.listener_section(at).websockets = websockets;
            }
            "mount_point" => {
                let value = self.one(at, key, args)?;
                hornet_core::check_mount_point(value).map_err(|r| at.error(r))?;
                self.listener_section(at).listener.mount_point = Some(value.to_string());
            }
            "websockets_path" => {
                let value = self.one(at, key, args)?;
                let path = ws_path_from(value).map_err(|r| at.error(r))?;
                self.listener_section(at).listener.path = Some(path);
            }
            "certfile" | "keyfile" | "cafile" | "capath" => {
                let path = PathBuf::from(self.one(at, key, args)?);
                let tls = &mut self.listener_section(at).tls;
                tls.any = true;
                match key {
                    "certfile" => (tls.has_cert, tls.certfile) = (true, Some(path)),
                    "keyfile" => (tls.has_key, tls.keyfile) = (true, Some(path)),
                    "cafile" => tls.cafile = Some(path),
                    _ => tls.capath = Some(path),
                }
            }
            "require_certificate" | "use_identity_as_username" | "use_subject_as_username" => {
                let value = parse_bool(at, key, self.one(at, key, args)?)?;
                let tls = &mut self.listener_section(at).tls;
                tls.any |= value;
                match key {
                    "require_certificate" => tls.require_certificate = value,
                    "use_identity_as_username" => tls.use_identity = value,
                    _ => tls.use_subject = value,
                }
            }
            "psk_hint" => {
                if args.is_empty() {
                    return Err(at.error("psk_hint needs a value (the identity hint)"));
                }
                self.listener_section(at).psk_hint = Some(args.join(" "));
            }
            "psk_file" => {
                let value = self.one(at, key, args)?;
                self.psk_file = Some(PathBuf::from(value));
            }
            "crlfile" => {
                let value = self.one(at, key, args)?;
                let tls = &mut self.listener_section(at).tls;
                tls.any = true;
                tls.crlfile = Some(PathBuf::from(value));
            }
            "ciphers" | "ciphers_tls1.3" => {
                let value = self.one(at, key, args)?.to_string();
                let tls = &mut self.listener_section(at).tls;
                tls.any = true;
                if key == "ciphers" {
                    tls.ciphers = Some(value);
                } else {
                    tls.ciphers_tls13 = Some(value);
                }
            }
            "tls_version" => {
                let value = self.one(at, key, args)?;
                let version = value.parse().map_err(|r: String| at.error(r))?;
                let tls = &mut self.listener_section(at).tls;
                tls.any = true;
                tls.version = Some(version);
            }
            "persistence" => {
                let value = self.one(at, key, args)?;
                self.config.persistence.enabled = Some(parse_bool(at, key, value)?);
            }
            "persistence_location" | "data_dir" => {
                let value = self.one(at, key, args)?;
                self.config.persistence.location = Some(PathBuf::from(value));
            }
            "fsync" => {
                let value = self.one(at, key, args)?;
                self.config.persistence.fsync =
                    super::FsyncMode::parse(value).map_err(|r| at.error(r))?;
            }
            "fsync_interval_ms" => {
                let value = self.one(at, key, args)?;
                self.config.persistence.fsync_interval_ms =
                    parse_number(at, key, value, "a number of milliseconds")?;
            }
            "log_type" => {
                let value = self.one(at, key, args)?;
                check_log_type(value).map_err(|r| at.error(r))?;
                if log_type_is_verbose(value) {
                    self.config.log.verbose = true;
                }
                self.config.log.types.push(value.to_string());
            }
            // Repeatable; `file PATH` takes the rest of the line.
            "log_dest" => {
                if args.is_empty() {
                    return Err(at.error("log_dest needs a value"));
                }
                let dest = super::LogDest::parse(&args.join(" ")).map_err(|r| at.error(r))?;
                self.config.log.dests.push(dest);
            }
            // strftime codes may contain spaces: the rest of the line.
            "log_timestamp_format" => {
                if args.is_empty() {
                    return Err(at.error("log_timestamp_format needs a value"));
                }
                self.config.log.timestamp_format = Some(args.join(" "));
            }
            // Mosquitto's spelling of max_session_expiry, with units.
            "persistent_client_expiration" => {
                let value = self.one(at, key, args)?;
                self.config.mqtt.max_session_expiry = Some(parse_expiration(at, key, value)?);
            }
            // Hornet-only, two words (`[mqtt] shared_group_strategies`).
            "shared_group_strategy" => {
                let [group, strategy] = args else {
                    return Err(at.error(format!(
                        "{key} takes a group name and a strategy, e.g. `{key} workers sticky`"
                    )));
                };
                let strategy = strategy.parse().map_err(|e: String| at.error(e))?;
                self.config
                    .mqtt
                    .shared_group_strategies
                    .push((group.to_string(), strategy));
            }
            "include_dir" => {
                let dir = self.one(at, key, args)?;
                self.include_dir(at, dir)?;
            }
            _ => self.other(at, key, args),
        }
        Ok(())
    }

    /// `connection NAME` opens a bridge section; a bridge key sets the
    /// open one (see `bridge.rs`), and one Hornet does not honour yet is
    /// named with the reason.
    fn bridge_line(&mut self, at: &At<'_>, key: &str, args: &[&str]) -> Result<(), ConfigError> {
        if key == "connection" {
            let name = self.one(at, key, args)?;
            if self.config.bridges.iter().any(|b| b.name == name) {
                return Err(at.error(format!("a second bridge named {name:?}")));
            }
            self.config
                .bridges
                .push(Bridge::new(name, at.file.to_path_buf(), at.line));
            self.bridge = Some(self.config.bridges.len() - 1);
            return Ok(());
        }
        let Some(index) = self.bridge else {
            return Err(at.error(format!(
                "{key} is a bridge key: it belongs after a `connection NAME` line"
            )));
        };
        let bridge = &mut self.config.bridges[index];
        let before = bridge.unhonoured.len();
        bridge.set(key, args, at.line).map_err(|r| at.error(r))?;
        let name = bridge.name.clone();
        let new: Vec<_> = bridge.unhonoured[before..].to_vec();
        for (k, _, status) in new {
            let text = match status {
                bridge::Status::NotYet(why) => {
                    format!("bridge {name:?}: {k:?} is read but not honoured yet: {why}")
                }
                bridge::Status::Blocks(why) => format!(
                    "bridge {name:?}: {k:?} is read but not honoured yet: {why}; this bridge will not be started"
                ),
                bridge::Status::Honoured => continue,
            };
            self.warnings.push(at.warning(text));
        }
        Ok(())
    }

    /// A key Hornet does not act on: note its effect on the open listener
    /// section, then warn.
    fn other(&mut self, at: &At<'_>, key: &str, _args: &[&str]) {
        if let Some((_, why)) = NOT_NEEDED.iter().find(|(k, _)| *k == key) {
            self.warnings
                .push(at.warning(format_args!("{key:?} is not needed: {why}")));
            return;
        }
        let known =
            IGNORED_KEYS.contains(&key) || IGNORED_PREFIXES.iter().any(|p| key.starts_with(p));
        let text = if known {
            format!("ignoring {key:?} (not supported yet)")
        } else {
            format!("ignoring {key:?} (unknown option)")
        };
        self.warnings.push(at.warning(text));
    }

    fn default_listener(&mut self, at: &At<'_>) -> &mut Pending {
        self.default_listener
            .get_or_insert_with(|| Pending::new(Listener::default(), at))
    }

    /// The listener a per-listener key configures: the open `listener`
    /// section, or the default listener before any.
    fn listener_section(&mut self, at: &At<'_>) -> &mut Pending {
        match self.section {
            Section::Listener(i) => &mut self.listeners[i],
            Section::Default => self.default_listener(at),
        }
    }

    /// The single value of `key`; extra words are ignored with a warning.
    fn one<'a>(
        &mut self,
        at: &At<'_>,
        key: &str,
        args: &[&'a str],
    ) -> Result<&'a str, ConfigError> {
        match args {
            [] => Err(at.error(format!("{key} needs a value"))),
            [value] => Ok(value),
            [value, rest @ ..] => {
                self.extra(at, key, rest);
                Ok(value)
            }
        }
    }

    fn extra(&mut self, at: &At<'_>, key: &str, rest: &[&str]) {
        self.warnings.push(at.warning(format_args!(
            "ignoring {:?} after the value of {key:?}",
            rest.join(" ")
        )));
    }

    fn include_dir(&mut self, at: &At<'_>, dir: &str) -> Result<(), ConfigError> {
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(at.error(format!(
                "include_dir nested more than {MAX_INCLUDE_DEPTH} deep (does a directory include itself?)"
            )));
        }
        let base = at.file.parent().unwrap_or(Path::new(""));
        let dir = base.join(dir);
        let entries = std::fs::read_dir(&dir).map_err(|e| {
            at.error(format!(
                "include_dir cannot read directory {}: {e}",
                dir.display()
            ))
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|ext| ext == "conf") && p.is_file())
            .collect();
        files.sort();
        for file in files {
            let text = super::read(&file)?;
            self.depth += 1;
            let result = self.read_text(&text, &file);
            self.depth -= 1;
            result?;
        }
        Ok(())
    }

    /// A TLS-PSK listener (`psk_hint` in its section): MQTT over TLS with
    /// the keys of `psk_file`, served with OpenSSL. Certificates in the
    /// section are not used (a warning says so).
    fn psk_listener(
        &mut self,
        at: &At<'_>,
        p: Pending,
        hint: String,
    ) -> Result<Listener, ConfigError> {
        let port = p.listener.port;
        let Some(file) = self.psk_file.clone() else {
            return Err(at.error(format!(
                "the TLS-PSK listener on port {port} (psk_hint) needs psk_file, a file of \
                 identity:hexkey lines"
            )));
        };
        if p.websockets {
            return Err(at.error(format!(
                "the listener on port {port} has psk_hint and protocol websockets: TLS-PSK is \
                 served for MQTT over TCP only"
            )));
        }
        if p.tls.has_cert || p.tls.has_key {
            self.warnings.push(at.warning(format_args!(
                "the listener on port {port} is TLS-PSK (psk_hint): its certfile and keyfile \
                 are not used"
            )));
        }
        Ok(Listener {
            kind: ListenerKind::Tcp,
            psk: Some(super::Psk {
                hint,
                file,
                identity_as_username: p.tls.use_identity,
                ciphers: p.tls.ciphers.clone(),
            }),
            ..p.listener
        })
    }

    fn finish(mut self, origin: &Path) -> Result<Loaded, ConfigError> {
        let mut pending: Vec<Pending> = self.default_listener.take().into_iter().collect();
        pending.append(&mut self.listeners);
        let declared = !pending.is_empty();
        let mut listeners: Vec<Listener> = Vec::new();
        for p in pending {
            let file = p.file.clone();
            let at = At {
                file: &file,
                line: p.line,
            };
            let allow_anonymous = p.allow_anonymous;
            let mut listener = match p.psk_hint.clone() {
                Some(hint) => self.psk_listener(&at, p, hint)?,
                None => p.resolve().map_err(|r| at.error(r))?,
            };
            listener.allow_anonymous = allow_anonymous;
            if listeners.iter().any(|l| l.same_socket(&listener)) {
                self.warnings.push(at.warning(format_args!(
                    "skipping a second listener on port {} (already declared)",
                    listener.port
                )));
            } else {
                listeners.push(listener);
            }
        }
        if listeners.is_empty() {
            if declared {
                return Err(ConfigError::new(
                    origin,
                    None,
                    "no listener Hornet can serve; add e.g. `listener 1883`",
                ));
            }
            listeners.push(Listener::tcp(DEFAULT_PORT, None));
        }
        self.config.listeners = listeners;
        for b in &self.config.bridges {
            b.check()
                .map_err(|r| ConfigError::new(&b.file, Some(b.line), r))?;
        }
        // Mosquitto's max_inflight_messages is also the Receive Maximum
        // announced to MQTT 5 clients.
        if self.inflight_given && !self.receive_maximum_given {
            self.config.mqtt.receive_maximum = self.config.limits.max_inflight_messages.max(1);
        }
        // Mosquitto 2.0: listeners declared and allow_anonymous never set
        // means no anonymous clients; no listener at all keeps the
        // loopback-only default (Mosquitto's local only mode).
        self.config.allow_anonymous = match self.allow_anonymous {
            Some(a) => a,
            None if declared => {
                self.config.anonymous_by_mosquitto_rule = true;
                AllowAnonymous::Never
            }
            None => AllowAnonymous::Loopback,
        };
        self.config.source = Some(origin.to_path_buf());
        self.config
            .admin
            .check_in(&self.config)
            .map_err(|r| ConfigError::new(origin, None, r))?;
        Ok(Loaded {
            config: self.config,
            warnings: self.warnings,
        })
    }
}

fn parse_port(at: &At<'_>, key: &str, text: &str) -> Result<u16, ConfigError> {
    match text.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => {
            let what = if key == "port" {
                "port"
            } else {
                "listener port"
            };
            Err(at.error(format!("{what} must be 1 to 65535, not {text:?}")))
        }
    }
}

fn parse_address(at: &At<'_>, key: &str, text: &str) -> Result<IpAddr, ConfigError> {
    bind_address_from(key, text).map_err(|r| at.error(r))
}

fn parse_bool(at: &At<'_>, key: &str, text: &str) -> Result<bool, ConfigError> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(at.error(format!("{key} must be true or false, not {text:?}"))),
    }
}

/// Mosquitto's `persistent_client_expiration`: a number followed by `h`,
/// `d`, `w`, `m` (30 days) or `y` (365 days), in seconds.
fn parse_expiration(at: &At<'_>, key: &str, text: &str) -> Result<u32, ConfigError> {
    let bad = || {
        at.error(format!(
            "{key} must be a number followed by h, d, w, m or y (e.g. 14d), not {text:?}"
        ))
    };
    let unit = match text.chars().last() {
        Some('h') => 3600,
        Some('d') => 86_400,
        Some('w') => 7 * 86_400,
        Some('m') => 30 * 86_400,
        Some('y') => 365 * 86_400,
        _ => return Err(bad()),
    };
    let n: u64 = text[..text.len() - 1].parse().map_err(|_| bad())?;
    Ok(u32::try_from(n.saturating_mul(unit)).unwrap_or(u32::MAX - 1))
}

fn parse_number<T: std::str::FromStr>(
    at: &At<'_>,
    key: &str,
    text: &str,
    accepted: &str,
) -> Result<T, ConfigError> {
    text.parse()
        .map_err(|_| at.error(format!("{key} must be {accepted}, not {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::super::{parse_mosquitto, Limits, Log};
    use super::*;

    fn parse(text: &str) -> Loaded {
        parse_mosquitto(text, Path::new("mosquitto.conf")).unwrap()
    }

    fn error(text: &str) -> ConfigError {
        parse_mosquitto(text, Path::new("mosquitto.conf")).unwrap_err()
    }

    fn listener(port: u16, address: Option<&str>) -> Listener {
        Listener::tcp(port, address.map(|a| a.parse().unwrap()))
    }

    #[test]
    fn empty_file_is_the_defaults() {
        let loaded = parse("# nothing\n\n   \n");
        let expected = Config {
            source: Some(PathBuf::from("mosquitto.conf")),
            ..Config::default()
        };
        assert_eq!(loaded.config, expected);
        assert!(loaded.warnings.is_empty());
    }

    /// MQTT authentication without admin credentials: a declared admin
    /// listener refuses the start, naming the keys; the opt-out and
    /// `admin_enabled false` are accepted; the undeclared one is not refused
    /// here (it runs locked).
    #[test]
    fn admin_needs_credentials_when_mqtt_has_them() {
        for mqtt in [
            "password_file /etc/mosquitto/passwd\n",
            "allow_anonymous false\n",
        ] {
            let err = error(&format!("{mqtt}admin_listener 18083\n"));
            for key in ["admin_token", "admin_user", "admin_enabled false"] {
                assert!(err.reason.contains(key), "{err}");
            }
            assert!(
                err.reason.contains("admin_allow_unauthenticated true"),
                "{err}"
            );
            let open = parse(&format!("{mqtt}admin_allow_unauthenticated true\n")).config;
            assert!(open.admin.allow_unauthenticated);
            parse(&format!("{mqtt}admin_enabled false\n"));
            parse(&format!("{mqtt}admin_token t\n"));
            let default = parse(mqtt).config;
            assert!(default.admin.unguarded(&default).is_some());
        }
        let err = error("admin_token t\nadmin_allow_unauthenticated true\n");
        assert!(err.reason.contains("allow_unauthenticated"), "{err}");
        let err = error("admin_certfile a.crt\n");
        assert!(err.reason.contains("keyfile"), "{err}");
    }

    #[test]
    fn admin_keys() {
        let c = parse(
            "admin_listener 9090 0.0.0.0\nadmin_token s3cret\nadmin_user alice\nadmin_user bob\n",
        )
        .config;
        assert!(c.admin.enabled);
        assert_eq!(c.admin.port, 9090);
        assert_eq!(c.admin.bind, std::net::IpAddr::from([0, 0, 0, 0]));
        assert_eq!(c.admin.token.as_deref(), Some("s3cret"));
        assert_eq!(c.admin.users, ["alice", "bob"]);
        assert!(!parse("admin_enabled false\n").config.admin.enabled);
        let err = error("admin_listener 9090 0.0.0.0\n");
        assert!(err.reason.contains("needs credentials"), "{err}");
        let err = error("admin_listener\n");
        assert!(err.reason.contains("admin_listener needs a port"), "{err}");
        let c = parse(
            "admin_read_token r\nadmin_read_user carol\nadmin_metrics_token m\n\
             admin_host broker.example\nadmin_certfile a.crt\nadmin_keyfile a.key\n",
        )
        .config;
        assert_eq!(c.admin.read_token.as_deref(), Some("r"));
        assert_eq!(c.admin.read_users, ["carol"]);
        assert_eq!(c.admin.metrics_token.as_deref(), Some("m"));
        assert_eq!(c.admin.hosts, ["broker.example"]);
        assert_eq!(c.admin.certfile, Some(PathBuf::from("a.crt")));
        assert!(c.admin.declared && c.admin.tls());
        assert!(!parse("port 1883\n").config.admin.declared);
        assert_eq!(err.line, Some(1));
    }

    #[test]
    fn port_sets_the_default_listener() {
        let c = parse("port 1884\n").config;
        assert_eq!(c.listeners, vec![listener(1884, None)]);
    }

    #[test]
    fn bind_address_sets_the_default_listener() {
        let c = parse("bind_address 127.0.0.1\n").config;
        assert_eq!(c.listeners, vec![listener(1883, Some("127.0.0.1"))]);
        let c = parse("bind_address ::1\nport 1999\n").config;
        assert_eq!(c.listeners, vec![listener(1999, Some("::1"))]);
    }

    #[test]
    fn listener_lines() {
        let c = parse("listener 1883\nlistener 1884 127.0.0.1\nlistener 1885 ::\n").config;
        assert_eq!(
            c.listeners,
            vec![
                listener(1883, None),
                listener(1884, Some("127.0.0.1")),
                listener(1885, Some("::")),
            ]
        );
        let c = parse("listener 1883 localhost\n").config;
        assert_eq!(c.listeners, vec![listener(1883, Some("127.0.0.1"))]);
    }

    #[test]
    fn port_and_listener_together() {
        let c = parse("listener 8000\nport 1884\n").config;
        assert_eq!(
            c.listeners,
            vec![listener(1884, None), listener(8000, None)]
        );
    }

    #[test]
    fn duplicate_listener_is_skipped_with_a_warning() {
        let loaded = parse("port 1883\nlistener 1883\n");
        assert_eq!(loaded.config.listeners, vec![listener(1883, None)]);
        assert_eq!(
            loaded.warnings,
            vec!["mosquitto.conf:2: skipping a second listener on port 1883 (already declared)"]
        );
    }

    #[test]
    fn tls_and_websocket_listeners() {
        let loaded = parse(
            "listener 1883
\
             listener 8883\ncafile /ca.crt\ncertfile /s.crt\nkeyfile /s.key\n\
             require_certificate true\nuse_identity_as_username true\ntls_version tlsv1.3\n\
             listener 8083 127.0.0.1\nprotocol websockets\nmax_connections 10\n\
             max_connection_rate 5\n\
             listener 8084\nprotocol websockets\ncertfile /s.crt\nkeyfile /s.key\n\
             websockets_path /ws\nuse_subject_as_username false\n",
        );
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let l = &loaded.config.listeners;
        assert_eq!(l.len(), 4);
        assert_eq!(l[0], listener(1883, None));
        assert_eq!(l[1].kind, ListenerKind::Tls);
        assert_eq!(
            l[1].tls,
            Some(Tls {
                cafile: Some("/ca.crt".into()),
                require_certificate: true,
                identity: CertIdentity::CommonName,
                min_version: TlsVersion::V1_3,
                ..Tls::new("/s.crt", "/s.key")
            })
        );
        assert_eq!(l[2].kind, ListenerKind::Ws);
        assert_eq!(l[2].path, None);
        assert_eq!(l[2].bind_address, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(l[2].max_connections, Some(10));
        assert_eq!(l[2].max_connection_rate, Some(5));
        assert_eq!(l[2].tls, None);
        assert_eq!(l[3].kind, ListenerKind::Wss);
        assert_eq!(l[3].path.as_deref(), Some("/ws"));
        assert_eq!(l[3].tls, Some(Tls::new("/s.crt", "/s.key")));
        // max_connections before any listener stays global
        assert_eq!(loaded.config.limits.max_connections, None);
    }

    #[test]
    fn tls_listener_errors_name_the_listener_line() {
        for (text, line, reason) in [
            (
                "listener 1883\nlistener 8883\ncafile /ca.crt\n",
                2,
                "no certfile and keyfile",
            ),
            ("listener 8883\ncertfile /s.crt\n", 1, "no keyfile"),
            ("listener 8883\nkeyfile /s.key\n", 1, "no certfile"),
            (
                "listener 8883\ncertfile /s.crt\nkeyfile /s.key\nrequire_certificate true\n",
                1,
                "require_certificate needs cafile",
            ),
            (
                "listener 8883\ncertfile /s.crt\nkeyfile /s.key\nuse_identity_as_username true\n",
                1,
                "need cafile or capath",
            ),
        ] {
            let err = error(text);
            assert_eq!(err.line, Some(line), "{text}: {err}");
            assert!(err.reason.contains(reason), "{text}: {err}");
        }
        for (text, reason) in [
            ("listener 1\ntls_version tlsv1.1\n", "not supported"),
            ("listener 1\ntls_version ssl3\n", "tls_version must be"),
            (
                "listener 1\nprotocol http\n",
                "protocol must be mqtt or websockets",
            ),
            (
                "listener 1\nwebsockets_path mqtt\n",
                "path must start with /",
            ),
        ] {
            let err = error(text);
            assert_eq!(err.line, Some(2), "{text}: {err}");
            assert!(err.reason.contains(reason), "{text}: {err}");
        }
        // A TLS-PSK listener needs psk_file.
        let err = error("listener 1883\nlistener 8885\npsk_hint hint\n");
        assert_eq!(err.line, Some(2), "{err}");
        assert!(err.reason.contains("needs psk_file"), "{err}");
        let loaded = parse(
            "psk_file /etc/psk\nlistener 8885\npsk_hint the hint\nuse_identity_as_username true\n",
        );
        assert_eq!(
            loaded.config.listeners[0].psk,
            Some(super::super::Psk {
                hint: "the hint".into(),
                file: "/etc/psk".into(),
                identity_as_username: true,
                ciphers: None,
            })
        );
        assert_eq!(loaded.config.listeners[0].kind, ListenerKind::Tcp);
    }

    #[test]
    fn max_inflight_messages_is_also_the_receive_maximum() {
        let c = parse("max_inflight_messages 10\n").config;
        assert_eq!(c.mqtt.receive_maximum, 10);
        let c = parse("max_inflight_messages 10\nreceive_maximum 30\n").config;
        assert_eq!(c.mqtt.receive_maximum, 30);
        let c = parse("max_inflight_messages 0\n").config;
        assert_eq!(c.mqtt.receive_maximum, 65535);
    }

    #[test]
    fn listeners_without_allow_anonymous_refuse_anonymous_clients() {
        for text in [
            "listener 1883
",
            "port 1883
",
            "listener 1883
listener 1884
",
        ] {
            let c = parse(text).config;
            assert_eq!(c.allow_anonymous, AllowAnonymous::Never, "{text}");
            assert!(c.anonymous_by_mosquitto_rule, "{text}");
        }
        let c = parse(
            "listener 1883
allow_anonymous false
",
        )
        .config;
        assert!(!c.anonymous_by_mosquitto_rule);
        // No listener: Mosquitto's local only mode, Hornet's loopback default.
        let c = parse(
            "max_queued_messages 5
",
        )
        .config;
        assert_eq!(c.allow_anonymous, AllowAnonymous::Loopback);
        assert!(!c.anonymous_by_mosquitto_rule);
    }

    #[test]
    fn per_listener_anonymous_and_connections() {
        // Without per_listener_settings allow_anonymous is global (Mosquitto).
        let c = parse("listener 1883\nallow_anonymous true\nlistener 1884\n").config;
        assert_eq!(c.allow_anonymous, AllowAnonymous::Always);
        assert!(c.listeners.iter().all(|l| l.allow_anonymous.is_none()));
        let c = parse(
            "per_listener_settings true\nmax_connections 100\nlistener 1883\n\
             allow_anonymous true\nmax_connections 5\nlistener 1884\nallow_anonymous false\n",
        )
        .config;
        // Listeners declared and no global allow_anonymous: Mosquitto 2.0
        // refuses anonymous clients wherever a listener does not say.
        assert_eq!(c.allow_anonymous, AllowAnonymous::Never);
        assert!(c.anonymous_by_mosquitto_rule);
        assert_eq!(c.limits.max_connections, Some(100));
        assert_eq!(c.listeners[0].allow_anonymous, Some(AllowAnonymous::Always));
        assert_eq!(c.listeners[0].max_connections, Some(5));
        assert_eq!(c.listeners[1].allow_anonymous, Some(AllowAnonymous::Never));
        assert_eq!(c.listeners[1].max_connections, None);
    }

    #[test]
    // Not exhaustive on purpose: a new declared setting does not touch this
    // test (schema.rs's table test reads every one through both loaders).
    #[allow(clippy::needless_update)]
    fn mqtt_features() {
        let m = parse(
            "max_qos 1\nretain_available false\nmax_topic_alias 5\n\
             persistent_client_expiration 2d\nreceive_maximum 10\nretained_max_age 60\n\
             wildcard_subscriptions false\nsubscription_identifiers false\n\
             response_information responses/\nserver_reference other:1883\nserver_moved true\n\
             shared_subscriptions false\nshared_subscription_strategy hash_topic\n\
             shared_group_strategy workers sticky\n",
        )
        .config
        .mqtt;
        assert_eq!(
            m,
            super::super::Mqtt {
                receive_maximum: 10,
                max_session_expiry: Some(2 * 86_400),
                max_qos: 1,
                retain_available: false,
                retained_max_age: Some(60),
                wildcard_subscriptions: false,
                subscription_identifiers: false,
                topic_alias_maximum: 5,
                response_information: Some("responses/".into()),
                server_reference: Some("other:1883".into()),
                server_moved: true,
                shared_subscriptions: false,
                shared_subscription_strategy: hornet_core::SharedStrategy::HashTopic,
                shared_group_strategies: vec![(
                    "workers".into(),
                    hornet_core::SharedStrategy::Sticky
                )],
                ..super::super::Mqtt::default()
            }
        );
        assert_eq!(
            parse("max_session_expiry 90")
                .config
                .mqtt
                .max_session_expiry,
            Some(90)
        );
        for (text, reason) in [
            ("max_qos 3", "max_qos must be 0, 1 or 2"),
            (
                "persistent_client_expiration 10",
                "followed by h, d, w, m or y",
            ),
            (
                "persistent_client_expiration xd",
                "followed by h, d, w, m or y",
            ),
            ("receive_maximum 0", "receive_maximum must be 1 to 65535"),
        ] {
            let err = error(text);
            assert!(err.reason.contains(reason), "{text}: {err}");
        }
    }

    #[test]
    fn password_file_is_read() {
        assert_eq!(parse("").config.password_file, None);
        assert_eq!(
            parse("password_file /etc/mosquitto/passwd")
                .config
                .password_file,
            Some(PathBuf::from("/etc/mosquitto/passwd"))
        );
        let err = error("password_file\n");
        assert_eq!(
            err.to_string(),
            "mosquitto.conf:1: password_file needs a value"
        );
    }

    #[test]
    fn allow_anonymous() {
        assert_eq!(parse("").config.allow_anonymous, AllowAnonymous::Loopback);
        assert_eq!(
            parse("allow_anonymous true").config.allow_anonymous,
            AllowAnonymous::Always
        );
        assert_eq!(
            parse("allow_anonymous false").config.allow_anonymous,
            AllowAnonymous::Never
        );
        let err = error("\nallow_anonymous maybe\n");
        assert_eq!(err.line, Some(2));
        assert_eq!(
            err.to_string(),
            "mosquitto.conf:2: allow_anonymous must be true or false, not \"maybe\""
        );
    }

    #[test]
    // Not exhaustive on purpose: a new declared setting does not touch this
    // test (schema.rs's table test reads every one through both loaders).
    #[allow(clippy::needless_update)]
    fn every_limit() {
        let c = parse(
            "max_connections 500\n\
             max_inflight_messages 10\n\
             max_queued_messages 100\n\
             max_queued_bytes 65536\n\
             max_packet_size 2048\n\
             max_keepalive 120\n\
             queue_qos0_messages true\n\
             sys_interval 30\n\
             connect_timeout 5\n\
             max_client_id_length 64\n\
             max_topic_length 256\n\
             max_topic_levels 8\n\
             max_subscriptions_per_client 50\n\
             max_publish_rate 100\n\
             max_publish_bytes_rate 10000\n\
             publish_rate_action disconnect\n\
             flapping_max_connects 5\n\
             flapping_window 30\n\
             flapping_ban 300\n\
             acl_file /etc/mosquitto/acl\n",
        )
        .config;
        assert_eq!(
            c.limits,
            Limits {
                max_connections: Some(500),
                max_inflight_messages: 10,
                max_queued_messages: 100,
                max_queued_bytes: 65536,
                max_packet_size: 2048,
                max_keepalive: 120,
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
            }
        );
        assert_eq!(c.acl_file, Some(PathBuf::from("/etc/mosquitto/acl")));
        assert!(error("publish_rate_action sometimes\n")
            .to_string()
            .contains("must be \"throttle\" or \"disconnect\""));
        let zero =
            parse("max_topic_levels 0\nmax_client_id_length 0\nmax_subscriptions_per_client 0\n")
                .config;
        assert_eq!(zero.limits.max_topic_levels, usize::MAX);
        assert_eq!(zero.limits.max_client_id_length, 65535);
        assert_eq!(zero.limits.max_subscriptions_per_client, usize::MAX);
        assert_eq!(c.sys_interval, 30);
    }

    #[test]
    fn zero_and_minus_one_mean_unlimited() {
        let c = parse(
            "max_connections -1\n\
             max_inflight_messages 0\n\
             max_queued_messages 0\n\
             max_queued_bytes 0\n\
             max_packet_size 0\n\
             max_keepalive 0\n\
             sys_interval 0\n",
        )
        .config;
        assert_eq!(c.limits.max_connections, None);
        assert_eq!(c.limits.max_inflight_messages, 65535);
        assert_eq!(c.limits.max_queued_messages, usize::MAX);
        assert_eq!(c.limits.max_queued_bytes, usize::MAX);
        assert_eq!(c.limits.max_packet_size, 268_435_455);
        assert_eq!(c.limits.max_keepalive, 0);
        assert_eq!(c.sys_interval, 0);
        assert_eq!(
            parse("max_connections 0").config.limits.max_connections,
            None
        );
    }

    #[test]
    fn log_keys() {
        let c = parse("log_type error\nlog_type warning\nconnection_messages false\n").config;
        assert_eq!(
            c.log,
            Log {
                verbose: false,
                connection_messages: false,
                types: vec!["error".into(), "warning".into()],
                ..Log::default()
            }
        );
        assert!(parse("log_type debug").config.log.verbose);
        assert!(parse("log_type all").config.log.verbose);
        let err = error("log_type loud");
        assert!(
            err.reason
                .starts_with("log_type must be one of debug, error"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_name_file_line_and_key() {
        let cases = [
            ("port abc", "port must be 1 to 65535, not \"abc\""),
            ("port 65536", "port must be 1 to 65535, not \"65536\""),
            ("listener 0", "listener port must be 1 to 65535, not \"0\""),
            ("listener", "listener needs a port"),
            ("port", "port needs a value"),
            (
                "bind_address 300.1.1.1",
                "bind_address must be an IP address",
            ),
            (
                "listener 1883 example.com",
                "listener must be an IP address",
            ),
            (
                "max_inflight_messages 70000",
                "max_inflight_messages must be 0 (unlimited) to 65535",
            ),
            (
                "max_queued_messages -5",
                "max_queued_messages must be 0 (unlimited)",
            ),
            (
                "max_packet_size 10",
                "max_packet_size must be 0 (the protocol maximum) or 20",
            ),
            ("max_packet_size 300000000", "max_packet_size must be 0"),
            ("max_keepalive 70000", "max_keepalive must be 0 to 65535"),
            (
                "max_connections lots",
                "max_connections must be -1 (unlimited)",
            ),
            ("sys_interval -1", "sys_interval must be"),
            (
                "queue_qos0_messages yes",
                "queue_qos0_messages must be true or false",
            ),
            (
                "connection_messages 1",
                "connection_messages must be true or false",
            ),
        ];
        for (line, reason) in cases {
            let err = error(&format!("# comment\n{line}\n"));
            assert_eq!(err.file, Path::new("mosquitto.conf"), "{line}");
            assert_eq!(err.line, Some(2), "{line}");
            assert!(err.reason.starts_with(reason), "{line}: {err}");
        }
    }

    #[test]
    fn a_bridge_section() {
        let loaded = parse(
            "listener 1883\n\
             connection b1\n\
             address 127.0.0.1:1884\n\
             topic sensors/# out 1 \"\" remote/\n\
             topic cmd/# in 2 local/ \"\"\n\
             remote_clientid edge-1\n\
             username u\n\
             password p\n\
             bridge_protocol_version mqttv50\n\
             cleansession true\n\
             notifications false\n\
             restart_timeout 1 4\n\
             idle_timeout 30\n\
             allow_anonymous true\n\
             connection b2\n\
             address other:1885\n\
             topic # both\n\
             bridge_identity edge-2\n\
             bridge_psk deadbeef\n",
        );
        let [b1, b2] = &loaded.config.bridges[..] else {
            panic!("{:?}", loaded.config.bridges)
        };
        assert_eq!(b1.name, "b1");
        assert_eq!(b1.line, 2);
        assert_eq!(b1.addresses, vec![("127.0.0.1".to_string(), 1884)]);
        assert_eq!(b1.topics.len(), 2);
        assert_eq!(b1.topics[0].remote_filter(), "remote/sensors/#");
        assert_eq!(b1.topics[1].local_filter(), "local/cmd/#");
        assert_eq!(b1.remote_client_id(), "edge-1");
        assert_eq!(b1.remote_username.as_deref(), Some("u"));
        assert_eq!(b1.remote_password.as_deref(), Some("p"));
        assert_eq!(b1.protocol, super::super::bridge::BridgeProtocol::V5);
        assert!(b1.clean_session && !b1.notifications);
        assert_eq!((b1.restart_base, b1.restart_cap), (1, Some(4)));
        assert!(b1.blocked().is_none());
        assert!(b2.blocked().is_none() && b2.psk());
        assert_eq!(
            (b2.psk_identity.as_deref(), b2.psk.as_deref()),
            (Some("edge-2"), Some("deadbeef"))
        );
        // A general key inside a bridge section is still general.
        assert_eq!(loaded.config.allow_anonymous, AllowAnonymous::Always);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }

    #[test]
    fn bridge_errors_name_file_and_line() {
        for (text, line, reason) in [
            (
                "address h:1\n",
                1,
                "address is a bridge key: it belongs after a `connection NAME` line",
            ),
            (
                "connection b\naddress h\ntopic a sideways\n",
                3,
                "invalid bridge topic direction",
            ),
            (
                "connection b\naddress h\ntopic \"\" in 0 x \"\"\n",
                3,
                "invalid bridge remapping",
            ),
            ("connection b\ntopic a\n", 1, "bridge \"b\" has no address"),
            ("connection b\naddress h\n", 1, "bridge \"b\" has no topic"),
            (
                "connection b\naddress h\ntopic a\nconnection b\n",
                4,
                "a second bridge named \"b\"",
            ),
            (
                "connection b\naddress h:x\n",
                2,
                "address must be HOST[:PORT]",
            ),
        ] {
            let err = error(text);
            assert_eq!(err.line, Some(line), "{text}: {err}");
            assert!(err.reason.starts_with(reason), "{text}: {err}");
        }
    }

    #[test]
    fn ignored_and_unknown_keys_warn() {
        let loaded = parse(
            "persistence_file mosquitto.db\n\
             persistence_location /var/lib/mosquitto/\n\
             log_dest file /var/log/mosquitto/mosquitto.log\n\
             bridge_receive_maximum 10\n\
             frobnicate 3\n\
             persistence false\n",
        );
        assert_eq!(
            loaded.warnings,
            vec![
                "mosquitto.conf:1: \"persistence_file\" is not needed: the store is a directory \
                 of log files (persistence_location / data_dir), not one file",
                "mosquitto.conf:4: ignoring \"bridge_receive_maximum\" (not supported yet)",
                "mosquitto.conf:5: ignoring \"frobnicate\" (unknown option)",
            ]
        );
        assert_eq!(
            loaded.config.log.dests,
            vec![super::super::LogDest::File(
                "/var/log/mosquitto/mosquitto.log".into()
            )]
        );
        let p = &loaded.config.persistence;
        assert_eq!(p.enabled, Some(false));
        assert_eq!(
            p.location.as_deref(),
            Some(Path::new("/var/lib/mosquitto/"))
        );
    }

    #[test]
    fn mount_point_per_listener() {
        let loaded = parse("listener 1883\nlistener 1884\nmount_point org1/\n");
        let l = &loaded.config.listeners;
        assert_eq!(l[0].mount_point, None);
        assert_eq!(l[1].mount_point.as_deref(), Some("org1/"));
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let err = error("listener 1884\nmount_point org/+/\n");
        assert_eq!(err.line, Some(2), "{err}");
    }

    #[test]
    fn comments_crlf_and_trailing_words() {
        let loaded = parse("\u{feff}# c\r\n  port 1884 # the port\r\n\tsys_interval 5 extra\r\n");
        assert_eq!(loaded.config.listeners, vec![listener(1884, None)]);
        assert_eq!(loaded.config.sys_interval, 5);
        assert_eq!(
            loaded.warnings,
            vec!["mosquitto.conf:3: ignoring \"extra\" after the value of \"sys_interval\""]
        );
    }

    #[test]
    fn a_typical_blog_post_config() {
        let loaded = parse(
            "pid_file /run/mosquitto/mosquitto.pid\n\
             persistence true\n\
             persistence_location /var/lib/mosquitto/\n\
             log_dest file /var/log/mosquitto/mosquitto.log\n\
             listener 1883\n\
             allow_anonymous true\n",
        );
        assert_eq!(loaded.config.listeners, vec![listener(1883, None)]);
        assert_eq!(loaded.config.allow_anonymous, AllowAnonymous::Always);
        assert_eq!(loaded.warnings, Vec::<String>::new());
        assert_eq!(
            loaded.config.pid_file.as_deref(),
            Some("/run/mosquitto/mosquitto.pid")
        );
        assert_eq!(loaded.config.persistence.enabled, Some(true));
    }

    #[test]
    fn include_dir_reads_conf_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let conf_d = dir.path().join("conf.d");
        std::fs::create_dir(&conf_d).unwrap();
        std::fs::write(
            conf_d.join("b.conf"),
            "max_queued_messages 200\nlistener 1885\n",
        )
        .unwrap();
        std::fs::write(
            conf_d.join("a.conf"),
            "max_queued_messages 100\nlistener 1884\n",
        )
        .unwrap();
        std::fs::write(conf_d.join("notes.txt"), "this is not config\n").unwrap();
        std::fs::write(conf_d.join("c.conf"), "\n\nautosave_interval 10\n").unwrap();
        let main = dir.path().join("mosquitto.conf");
        std::fs::write(&main, "listener 1883\ninclude_dir conf.d\n").unwrap();

        let loaded = super::super::load(&main).unwrap();
        assert_eq!(
            loaded.config.listeners,
            vec![
                listener(1883, None),
                listener(1884, None),
                listener(1885, None)
            ]
        );
        assert_eq!(loaded.config.limits.max_queued_messages, 200);
        assert_eq!(
            loaded.warnings,
            vec![format!(
                "{}:3: \"autosave_interval\" is not needed: every change is written to the \
                 store before it is acknowledged, so there is nothing to save periodically",
                conf_d.join("c.conf").display()
            )]
        );

        // an absolute path works too, and errors name the included file
        std::fs::write(conf_d.join("d.conf"), "port 1883\nport nope\n").unwrap();
        let text = format!("include_dir {}\n", conf_d.display());
        let err = parse_mosquitto(&text, Path::new("/elsewhere/m.conf")).unwrap_err();
        assert_eq!(err.file, conf_d.join("d.conf"));
        assert_eq!(err.line, Some(2));
    }

    #[test]
    fn include_dir_errors() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("m.conf");
        let err = parse_mosquitto("\ninclude_dir missing\n", &main).unwrap_err();
        assert_eq!(err.file, main);
        assert_eq!(err.line, Some(2));
        assert!(
            err.reason.starts_with("include_dir cannot read directory"),
            "{err}"
        );

        // a directory that includes itself
        let looped = dir.path().join("loop");
        std::fs::create_dir(&looped).unwrap();
        std::fs::write(looped.join("x.conf"), "include_dir .\n").unwrap();
        let err = parse_mosquitto("include_dir loop\n", &main).unwrap_err();
        assert!(err.reason.contains("nested more than"), "{err}");
    }
}
