//! The broker's configuration: the model the shell runs from, and loading it.
//!
//! Owns [`Config`] and its parts, their defaults, [`ConfigError`], and
//! [`load`], which reads either of the two file formats Hornet understands:
//!
//! - the native TOML format (`*.toml`, see [`parse_toml`]), and
//! - Mosquitto's `mosquitto.conf` (anything else, see [`parse_mosquitto`]),
//!   so a user coming from Mosquitto can point Hornet at the file they have.
//!   Keys Hornet does not support yet are reported as warnings, not errors.
//!
//! Zero values mean what they mean in Mosquitto ("unlimited") in both
//! formats; the model stores the resolved limit (e.g. `usize::MAX`), so the
//! broker never has to know where a value came from.
//!
//! Each setting that is one value per key is declared once, in `schema.rs`
//! (which also generates [`Limits`] and [`Mqtt`]); both loaders, the
//! check-config rows, the effective-TOML printer, the core's `Settings`
//! and the hints' spellings (`wording.rs`) are derived from that table.
//! The user-facing reference is `docs/configuration.md`.

pub mod bridge;
pub mod bridge_topic;
mod kinds;
mod log_dest;
mod mosquitto;
pub mod schema;
mod toml;
mod wording;

pub use bridge::Bridge;
pub use bridge_topic::{BridgeTopic, Direction};
pub use log_dest::LogDest;
pub use schema::{core_settings, Cluster, Limits, Mqtt};
pub use wording::FileWording;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The default MQTT port.
pub const DEFAULT_PORT: u16 = 1883;

/// The largest packet the protocol can express (the Remaining Length
/// maximum); what `max_packet_size 0` means.
pub const PROTOCOL_MAX_PACKET_SIZE: u32 = 268_435_455;

/// Everything the broker needs to start.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where to accept MQTT connections; never empty once loaded.
    /// Default: one listener on port 1883, all interfaces.
    pub listeners: Vec<Listener>,
    /// Who may connect without a username. Default: [`AllowAnonymous::Loopback`].
    pub allow_anonymous: AllowAnonymous,
    /// Whether `allow_anonymous` is `Never` by Mosquitto 2.0's rule: a
    /// mosquitto.conf that declares listeners and never sets
    /// `allow_anonymous` refuses anonymous clients. The banner says so.
    pub anonymous_by_mosquitto_rule: bool,
    /// The user store: a password file in `mosquitto_passwd` format (or with
    /// Hornet's SCRAM lines, see `docs/security.md`), read at start. With
    /// one, CONNECT user names and passwords are checked and SCRAM-SHA-256
    /// enhanced authentication is offered. Default: none.
    pub password_file: Option<PathBuf>,
    /// Topic access rules in Mosquitto's `acl_file` syntax (see
    /// `docs/security.md`), read at start and on SIGHUP. Default: none
    /// (every client may use every topic).
    pub acl_file: Option<PathBuf>,
    /// Resource limits.
    pub limits: Limits,
    /// MQTT protocol features and switches (mostly what CONNACK announces
    /// to MQTT 5 clients).
    pub mqtt: Mqtt,
    /// Seconds between `$SYS` updates; 0 disables `$SYS`. Default 10.
    pub sys_interval: u64,
    /// Logging.
    pub log: Log,
    /// Where the process id is written at start (and removed at exit), as
    /// Mosquitto's `pid_file`. Default none.
    pub pid_file: Option<String>,
    /// The user the broker runs as once its listeners are bound, when
    /// started as root (Mosquitto's `user`). Default none: stay as started.
    pub user: Option<String>,
    /// The admin HTTP API, `/metrics` and the dashboard (see `docs/admin.md`).
    pub admin: Admin,
    /// Durability: the store and when acknowledgements wait for the disk.
    pub persistence: Persistence,
    /// Outgoing bridges (mosquitto.conf `connection` blocks, hornet.toml
    /// `[[bridge]]`; see `docs/bridges.md`). Default none.
    pub bridges: Vec<Bridge>,
    /// `[cluster]`: this broker as a node of a cluster (`docs/cluster.md`).
    pub cluster: Cluster,
    /// The file this configuration came from, for the startup banner;
    /// `None` for the built-in defaults.
    pub source: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listeners: vec![Listener::default()],
            allow_anonymous: AllowAnonymous::Loopback,
            anonymous_by_mosquitto_rule: false,
            password_file: None,
            acl_file: None,
            limits: Limits::default(),
            mqtt: Mqtt::default(),
            sys_interval: 10,
            log: Log::default(),
            pid_file: None,
            user: None,
            admin: Admin::default(),
            persistence: Persistence::default(),
            bridges: Vec::new(),
            cluster: Cluster::default(),
            source: None,
        }
    }
}

impl Config {
    /// What the `hornet` binary (serving or `check-config`) sets in a loaded
    /// configuration: it keeps state on disk unless told not to
    /// (`persistence false`); a library caller's `Server` does not.
    pub fn apply_binary_defaults(&mut self) {
        self.persistence.enabled.get_or_insert(true);
    }
}

/// The default port of the admin HTTP listener (EMQX's dashboard port).
pub const DEFAULT_ADMIN_PORT: u16 = 18083;

/// The admin HTTP listener: REST API, `/metrics`, health checks and the
/// dashboard. Who may use it (see `docs/admin.md`, `docs/security.md`):
/// with credentials configured, only callers presenting them, in the role
/// they grant; without any, everyone who can reach it, which is allowed
/// only on loopback and only while MQTT clients need no credentials either
/// (or with the explicit opt-out `allow_unauthenticated`). A declared
/// admin listener without credentials beside MQTT authentication refuses
/// the start; the undeclared default one is then locked (every API call
/// answers 401 naming the keys to set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// Whether the listener runs. Default true.
    pub enabled: bool,
    /// Address to bind. Default 127.0.0.1.
    pub bind: IpAddr,
    /// TCP port; 0 picks a free one. Default 18083.
    pub port: u16,
    /// A bearer token with the admin role (`Authorization: Bearer TOKEN`).
    /// Default none.
    pub token: Option<String>,
    /// Users of the `password_file` with the admin role (HTTP Basic or the
    /// dashboard's login). Default none.
    pub users: Vec<String>,
    /// A bearer token with the read-only role (lists, figures, `$SYS`,
    /// `/metrics`). Default none.
    pub read_token: Option<String>,
    /// Users of the `password_file` with the read-only role. Default none.
    pub read_users: Vec<String>,
    /// A bearer token good for `/metrics` only (for Prometheus). Default none.
    pub metrics_token: Option<String>,
    /// Host names (besides the listener's address and loopback names) the
    /// API answers to in `Host` and `Origin`, e.g. the name of a reverse
    /// proxy. Default none.
    pub hosts: Vec<String>,
    /// The opt-out: no credentials although MQTT clients need them (the
    /// behaviour before Hornet required them; logged as a warning at
    /// start). Default false.
    pub allow_unauthenticated: bool,
    /// Serve HTTPS with this certificate chain (PEM, e.g. a TLS listener's
    /// `certfile`). Default none (plain HTTP).
    pub certfile: Option<PathBuf>,
    /// The private key (PEM) for `certfile`.
    pub keyfile: Option<PathBuf>,
    /// Whether the configuration file declares the admin listener (an
    /// `[admin]` table, any `admin_*` key in mosquitto.conf). Default false.
    pub declared: bool,
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            enabled: true,
            bind: IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            port: DEFAULT_ADMIN_PORT,
            token: None,
            users: Vec::new(),
            read_token: None,
            read_users: Vec::new(),
            metrics_token: None,
            hosts: Vec::new(),
            allow_unauthenticated: false,
            certfile: None,
            keyfile: None,
            declared: false,
        }
    }
}

impl Admin {
    /// Whether any credentials are configured (then every API call needs
    /// some).
    pub fn has_credentials(&self) -> bool {
        self.token.is_some()
            || self.read_token.is_some()
            || self.metrics_token.is_some()
            || !self.users.is_empty()
            || !self.read_users.is_empty()
    }

    /// Whether users of the `password_file` may log in (admin or read-only).
    pub fn has_users(&self) -> bool {
        !self.users.is_empty() || !self.read_users.is_empty()
    }

    /// Whether the listener serves HTTPS.
    pub fn tls(&self) -> bool {
        self.certfile.is_some()
    }

    /// The rules of the admin settings alone: off loopback only with
    /// credentials, no empty token, TLS files in pairs. The error says how
    /// to fix it.
    pub fn check(&self) -> Result<(), String> {
        if self.enabled && !self.bind.is_loopback() && !self.has_credentials() {
            return Err(format!(
                "the admin listener on {} needs credentials: set a token (`[admin] token = \"...\"` \
                 in hornet.toml, `admin_token ...` in mosquitto.conf) or admin users from the \
                 password_file (`users = [\"name\"]`, `admin_user NAME`), or bind it to 127.0.0.1",
                self.bind
            ));
        }
        for (key, token) in [
            ("token", &self.token),
            ("read_token", &self.read_token),
            ("metrics_token", &self.metrics_token),
        ] {
            if token.as_deref() == Some("") {
                return Err(format!("the admin {key} must not be empty"));
            }
        }
        if self.allow_unauthenticated && self.has_credentials() {
            return Err(
                "admin allow_unauthenticated is set together with admin credentials: remove \
                 one (with credentials configured every API call needs them)"
                    .into(),
            );
        }
        if self.certfile.is_some() != self.keyfile.is_some() {
            return Err(
                "the admin listener's HTTPS needs both certfile and keyfile (`[admin] certfile`, \
                 `keyfile`; `admin_certfile`, `admin_keyfile`)"
                    .into(),
            );
        }
        Ok(())
    }

    /// How MQTT clients of `config` must authenticate, if they must: a
    /// `password_file`, `allow_anonymous false` (global or on a listener),
    /// or client certificates.
    pub fn mqtt_authentication(config: &Config) -> Option<&'static str> {
        if config.password_file.is_some() {
            Some("a password_file")
        } else if config.allow_anonymous == AllowAnonymous::Never
            || config
                .listeners
                .iter()
                .any(|l| l.allow_anonymous == Some(AllowAnonymous::Never))
        {
            Some("allow_anonymous false")
        } else if config
            .listeners
            .iter()
            .any(|l| l.tls.as_ref().is_some_and(|t| t.require_certificate))
        {
            Some("client certificates (require_certificate)")
        } else {
            None
        }
    }

    /// Why this listener, running in `config`, must not serve without
    /// credentials: MQTT clients need them and the admin API has none (and
    /// no opt-out). `None` when it may serve as configured.
    pub fn unguarded(&self, config: &Config) -> Option<String> {
        if !self.enabled || self.has_credentials() || self.allow_unauthenticated {
            return None;
        }
        let why = Self::mqtt_authentication(config)?;
        Some(format!(
            "MQTT clients must authenticate ({why}) but the admin API on {}:{} has no \
             credentials, so anyone on this machine could publish to any topic, kick clients and \
             read the configuration through it. Set `[admin] token = \"...\"` or `[admin] users = \
             [\"NAME\"]` (users of the password_file) in hornet.toml (`admin_token TOKEN` or \
             `admin_user NAME` in mosquitto.conf), or turn the admin listener off with `[admin] \
             enabled = false` (`admin_enabled false`); `[admin] allow_unauthenticated = true` \
             (`admin_allow_unauthenticated true`) keeps it open without credentials",
            self.bind, self.port
        ))
    }

    /// [`Admin::check`], and the credentials rule for a declared listener
    /// in `config`: it refuses the start when [`Admin::unguarded`]. (The
    /// undeclared default listener is locked instead, see `docs/admin.md`.)
    pub fn check_in(&self, config: &Config) -> Result<(), String> {
        self.check()?;
        match self.unguarded(config) {
            Some(why) if self.declared => Err(why),
            _ => Ok(()),
        }
    }
}

/// One listener: a transport on an address and port, with its own limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// TCP port (0 = any free port, for tests).
    pub port: u16,
    /// Address to bind; `None` = all interfaces, IPv4 and IPv6.
    pub bind_address: Option<IpAddr>,
    /// The transport. Default [`ListenerKind::Tcp`].
    pub kind: ListenerKind,
    /// The HTTP path WebSocket clients connect to (`ws` and `wss` only);
    /// `None` (the default) accepts any path, as Mosquitto does.
    pub path: Option<String>,
    /// Certificates and client-certificate policy (`tls` and `wss` only;
    /// required there).
    pub tls: Option<Tls>,
    /// Most simultaneous connections on this listener, in addition to the
    /// global `limits.max_connections`; `None` = unlimited (the default).
    pub max_connections: Option<usize>,
    /// Most new connections accepted per second on this listener (a token
    /// bucket holding one second's worth); more are closed at once.
    /// `None` = unlimited (the default).
    pub max_connection_rate: Option<u32>,
    /// This listener's anonymous policy; `None` = the global
    /// `allow_anonymous`.
    pub allow_anonymous: Option<AllowAnonymous>,
    /// TLS with pre-shared keys instead of certificates (Mosquitto's
    /// `psk_hint` and `psk_file`; a `tcp` listener). Default none.
    pub psk: Option<Psk>,
    /// The topic prefix this listener's clients live under without seeing
    /// it (Mosquitto's `mount_point`). Default none.
    pub mount_point: Option<String>,
}

/// A TLS-PSK listener's keys (served with OpenSSL; rustls has no PSK).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Psk {
    /// The identity hint (`psk_hint`), which makes a listener TLS-PSK.
    pub hint: String,
    /// `identity:hexkey` lines (`psk_file`), read at start.
    pub file: PathBuf,
    /// Whether the client's PSK identity is its MQTT user name
    /// (`use_identity_as_username`).
    pub identity_as_username: bool,
    /// OpenSSL's cipher list for TLS 1.2 (`ciphers`); default its PSK
    /// cipher suites.
    pub ciphers: Option<String>,
}

impl Listener {
    /// A plain MQTT listener on `port` (all interfaces without `bind_address`).
    pub fn tcp(port: u16, bind_address: Option<IpAddr>) -> Listener {
        Listener {
            port,
            bind_address,
            ..Listener::default()
        }
    }

    /// Whether two listeners would bind the same socket.
    pub fn same_socket(&self, other: &Listener) -> bool {
        self.port == other.port && self.bind_address == other.bind_address && self.port != 0
    }
}

impl Default for Listener {
    fn default() -> Self {
        Listener {
            port: DEFAULT_PORT,
            bind_address: None,
            kind: ListenerKind::Tcp,
            path: None,
            tls: None,
            max_connections: None,
            max_connection_rate: None,
            allow_anonymous: None,
            psk: None,
            mount_point: None,
        }
    }
}

/// The HTTP path MQTT.js and Paho use (a listener without a configured
/// path accepts it, as it accepts any path).
pub const DEFAULT_WS_PATH: &str = "/mqtt";

/// A listener's transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// MQTT over TCP (usually port 1883).
    Tcp,
    /// MQTT over TLS (usually port 8883).
    Tls,
    /// MQTT over WebSocket (usually port 8083, path `/mqtt`).
    Ws,
    /// MQTT over WebSocket over TLS (usually port 8084).
    Wss,
}

impl ListenerKind {
    /// Whether the transport is encrypted and needs [`Tls`] settings.
    pub fn is_tls(self) -> bool {
        matches!(self, ListenerKind::Tls | ListenerKind::Wss)
    }

    /// Whether the transport is WebSocket.
    pub fn is_websocket(self) -> bool {
        matches!(self, ListenerKind::Ws | ListenerKind::Wss)
    }

    /// The name used in files and logs: `tcp`, `tls`, `ws` or `wss`.
    pub fn name(self) -> &'static str {
        match self {
            ListenerKind::Tcp => "tcp",
            ListenerKind::Tls => "tls",
            ListenerKind::Ws => "ws",
            ListenerKind::Wss => "wss",
        }
    }
}

impl std::str::FromStr for ListenerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tcp" | "mqtt" => Ok(ListenerKind::Tcp),
            "tls" | "mqtts" => Ok(ListenerKind::Tls),
            "ws" | "websocket" | "websockets" => Ok(ListenerKind::Ws),
            "wss" => Ok(ListenerKind::Wss),
            _ => Err(format!(
                "listener kind must be \"tcp\", \"tls\", \"ws\" or \"wss\", not {s:?}"
            )),
        }
    }
}

/// A TLS listener's certificates and client-certificate policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    /// The server certificate chain, PEM (leaf first).
    pub certfile: PathBuf,
    /// The server's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub keyfile: PathBuf,
    /// CA certificates (PEM) client certificates are verified against.
    pub cafile: Option<PathBuf>,
    /// A directory of CA certificates (`*.pem`, `*.crt`), as `cafile`.
    pub capath: Option<PathBuf>,
    /// Whether clients must present a certificate signed by the CA.
    /// Default false.
    pub require_certificate: bool,
    /// What of the client certificate becomes the MQTT user name.
    pub identity: CertIdentity,
    /// The lowest TLS version accepted. Default TLS 1.2.
    pub min_version: TlsVersion,
    /// TLS 1.2 cipher suites in OpenSSL's cipher list syntax (Mosquitto's
    /// `ciphers`), of those rustls offers. Default none: all of them.
    pub ciphers: Option<String>,
    /// TLS 1.3 cipher suites, `:`-separated IANA names (Mosquitto's
    /// `ciphers_tls1.3`). Default none: all of them.
    pub ciphers_tls13: Option<String>,
    /// Certificate revocation lists (PEM) client certificates are checked
    /// against (Mosquitto's `crlfile`). Default none.
    pub crlfile: Option<PathBuf>,
}

impl Tls {
    /// TLS from a certificate chain and key, no client certificates.
    pub fn new(certfile: impl Into<PathBuf>, keyfile: impl Into<PathBuf>) -> Tls {
        Tls {
            certfile: certfile.into(),
            keyfile: keyfile.into(),
            cafile: None,
            capath: None,
            require_certificate: false,
            identity: CertIdentity::None,
            min_version: TlsVersion::V1_2,
            ciphers: None,
            ciphers_tls13: None,
            crlfile: None,
        }
    }
}

/// What of a verified client certificate becomes the MQTT user name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertIdentity {
    /// Nothing: the CONNECT user name and password are used (the default).
    None,
    /// The subject's Common Name (`use_identity_as_username`).
    CommonName,
    /// The whole subject in RFC 2253 form, e.g. `CN=dev1,O=Acme`
    /// (`use_subject_as_username`).
    Subject,
}

/// The lowest TLS version a listener accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2 and 1.3 (the default).
    V1_2,
    /// TLS 1.3 only.
    V1_3,
}

impl std::str::FromStr for TlsVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tlsv1.2" => Ok(TlsVersion::V1_2),
            "tlsv1.3" => Ok(TlsVersion::V1_3),
            "tlsv1.1" | "tlsv1" => Err(format!(
                "tls_version {s} is not supported (insecure): use tlsv1.2 or tlsv1.3"
            )),
            _ => Err(format!("tls_version must be tlsv1.2 or tlsv1.3, not {s:?}")),
        }
    }
}

/// Who may connect without credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowAnonymous {
    /// Anonymous clients only from the loopback addresses (127.0.0.0/8 and
    /// `::1`); the default.
    Loopback,
    /// Anonymous clients from anywhere.
    Always,
    /// No anonymous clients at all.
    Never,
}

impl AllowAnonymous {
    /// Whether an anonymous client connecting from `peer` is let in.
    pub fn permits(self, peer: IpAddr) -> bool {
        match self {
            AllowAnonymous::Always => true,
            AllowAnonymous::Never => false,
            AllowAnonymous::Loopback => match peer {
                IpAddr::V4(v4) => v4.is_loopback(),
                IpAddr::V6(v6) => {
                    v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
                }
            },
        }
    }
}

/// `max_qos` is 0, 1 or 2.
pub(crate) fn max_qos_from(n: u64) -> Result<u8, String> {
    match n {
        0..=2 => Ok(n as u8),
        _ => Err(format!("max_qos must be 0, 1 or 2, not {n}")),
    }
}

/// `receive_maximum` is 1 to 65535 (0 is a protocol error in MQTT 5).
pub(crate) fn receive_maximum_from(n: u64) -> Result<u16, String> {
    match u16::try_from(n) {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("receive_maximum must be 1 to 65535, not {n}")),
    }
}

/// Durability settings (`docs/durability.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persistence {
    /// `persistence true|false`. `None` (not said) means on for the
    /// `hornet` binary and off for a [`crate::server::Server`] started by a
    /// library caller (tests), which then writes nothing anywhere.
    pub enabled: Option<bool>,
    /// `persistence_location` / `data_dir`: the data directory. Default
    /// `./data`.
    pub location: Option<PathBuf>,
    /// `fsync`: when acknowledgements may go out. Default [`FsyncMode::Fsync`].
    pub fsync: FsyncMode,
    /// `fsync_interval_ms`: for [`FsyncMode::Interval`], the most time
    /// between two syncs. Default 100.
    pub fsync_interval_ms: u64,
}

impl Default for Persistence {
    fn default() -> Self {
        Persistence {
            enabled: None,
            location: None,
            fsync: FsyncMode::Fsync,
            fsync_interval_ms: 100,
        }
    }
}

impl Persistence {
    /// The data directory used when none is configured.
    pub const DEFAULT_LOCATION: &'static str = "./data";

    /// The data directory.
    pub fn dir(&self) -> PathBuf {
        self.location
            .clone()
            .unwrap_or_else(|| PathBuf::from(Self::DEFAULT_LOCATION))
    }
}

/// When an acknowledgement of a QoS 1/2 message may go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncMode {
    /// After the record is on disk (`fdatasync` of a group commit). The default.
    Fsync,
    /// At once; the store syncs at most every `fsync_interval_ms`, so up to
    /// that much acknowledged data can be lost in a power cut (not in a
    /// crash of the broker alone: the data is in the OS already).
    Interval,
    /// At once; the store never syncs (the OS writes when it likes).
    None,
}

impl FsyncMode {
    /// Reads `fsync`, `interval` or `none`.
    pub fn parse(text: &str) -> Result<FsyncMode, String> {
        match text {
            "fsync" => Ok(FsyncMode::Fsync),
            "interval" => Ok(FsyncMode::Interval),
            "none" => Ok(FsyncMode::None),
            other => Err(format!(
                "fsync must be fsync, interval or none, not '{other}'"
            )),
        }
    }

    /// The name used in configuration files.
    pub fn name(self) -> &'static str {
        match self {
            FsyncMode::Fsync => "fsync",
            FsyncMode::Interval => "interval",
            FsyncMode::None => "none",
        }
    }
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    /// Packet-level lines (Mosquitto's `log_type debug`, or `-v`).
    pub verbose: bool,
    /// Log each client connection and disconnection. Default true.
    pub connection_messages: bool,
    /// Mosquitto `log_type` values as given; empty = Mosquitto's default
    /// (error, warning, notice, information).
    pub types: Vec<String>,
    /// Where log lines go (Mosquitto's `log_dest`, repeatable); empty =
    /// standard error.
    pub dests: Vec<LogDest>,
    /// Whether each line starts with a time stamp (`log_timestamp`).
    /// Default true.
    pub timestamp: bool,
    /// The time stamp as `strftime` codes, in UTC (`log_timestamp_format`);
    /// default none: Mosquitto's `<unix time>: `.
    pub timestamp_format: Option<String>,
    /// The syslog facility `LOG_LOCAL0` to `LOG_LOCAL7` (`log_facility`
    /// 0 to 7); default none: `LOG_DAEMON`, as Mosquitto.
    pub facility: Option<u8>,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            verbose: false,
            connection_messages: true,
            types: Vec::new(),
            dests: Vec::new(),
            timestamp: true,
            timestamp_format: None,
            facility: None,
        }
    }
}

/// The `log_type` values Mosquitto accepts.
pub const LOG_TYPES: &[&str] = &[
    "debug",
    "error",
    "warning",
    "notice",
    "information",
    "subscribe",
    "unsubscribe",
    "websockets",
    "none",
    "all",
];

/// A loaded configuration and what the user should be told about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Non-fatal remarks, each naming file and line, e.g.
    /// `mosquitto.conf:12: ignoring "persistence_location" (not supported yet)`.
    pub warnings: Vec<String>,
}

/// Why a configuration could not be loaded. Displays as `FILE:LINE: REASON`
/// (or `FILE: REASON` when no line applies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file at fault (an included file if the error is there).
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong, naming the key and what it accepts.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(file: &Path, line: Option<usize>, reason: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Reads the configuration file at `path`: `*.toml` is the native format,
/// anything else (normally `*.conf`) is read as `mosquitto.conf`.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let text = read(path)?;
    let is_toml = path
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("toml"));
    if is_toml {
        parse_toml(&text, path)
    } else {
        parse_mosquitto(&text, path)
    }
}

/// Parses `mosquitto.conf` text. `origin` names the file in messages and
/// anchors relative `include_dir` paths (relative to its directory).
pub fn parse_mosquitto(text: &str, origin: &Path) -> Result<Loaded, ConfigError> {
    mosquitto::parse(text, origin)
}

/// Parses native TOML configuration text; `origin` names the file in messages.
pub fn parse_toml(text: &str, origin: &Path) -> Result<Loaded, ConfigError> {
    self::toml::parse(text, origin)
}

/// Reads the password file at `path` (`password_file`): an unreadable or
/// malformed file is an error naming file, line and reason.
pub fn load_password_file(path: &Path) -> Result<hornet_auth::PasswordFile, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(path, None, format!("cannot read the password_file: {e}")))?;
    hornet_auth::PasswordFile::parse(&text)
        .map_err(|e| ConfigError::new(path, Some(e.line), e.reason))
}

/// Reads the ACL file at `path` (`acl_file`): an unreadable or malformed
/// file is an error naming file, line and reason.
pub fn load_acl_file(path: &Path) -> Result<hornet_auth::AclFile, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(path, None, format!("cannot read the acl_file: {e}")))?;
    hornet_auth::AclFile::parse(&text).map_err(|e| ConfigError::new(path, Some(e.line), e.reason))
}

/// `publish_rate_action`: `throttle` or `disconnect`.
pub(crate) fn rate_action_from(text: &str) -> Result<hornet_core::RateAction, String> {
    match text {
        "throttle" => Ok(hornet_core::RateAction::Throttle),
        "disconnect" => Ok(hornet_core::RateAction::Disconnect),
        other => Err(format!(
            "publish_rate_action must be \"throttle\" or \"disconnect\", not {other:?}"
        )),
    }
}

/// A client id or topic length: 0 means the protocol's 65535.
pub(crate) fn length_from(n: usize) -> usize {
    if n == 0 {
        65535
    } else {
        n
    }
}

/// Reads a whole file, or says which one could not be read and why.
pub(crate) fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(path, None, format!("cannot read the file: {e}")))
}

/// Whether a `log_type` value turns on packet-level logging.
pub(crate) fn log_type_is_verbose(value: &str) -> bool {
    value == "debug" || value == "all"
}

/// Checks a `log_type` value; the error names the accepted ones.
/// A `[cluster]` table's values together: a node name is required and
/// must fit in an etcd key, `listen` must be an address and port, and the
/// lease must outlive a few keep-alives.
pub(crate) fn check_cluster(cluster: &Cluster) -> Result<(), String> {
    let Some(node) = &cluster.node else {
        return Err("[cluster] needs `node`, this node's unique name".into());
    };
    if !node
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "[cluster] node {node:?} may hold only letters, digits, '-', '_' and '.'"
        ));
    }
    if cluster.listen.parse::<std::net::SocketAddr>().is_err() {
        return Err(format!(
            "[cluster] listen must be an address and port such as \"0.0.0.0:7946\", not {:?}",
            cluster.listen
        ));
    }
    if let Some(a) = &cluster.advertise {
        if a.rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok())
            .is_none()
        {
            return Err(format!(
                "[cluster] advertise must be a host and port such as \"10.0.0.5:7946\", not {a:?}"
            ));
        }
    }
    if cluster.lease_ttl < 2 {
        return Err("[cluster] lease_ttl must be at least 2 seconds".into());
    }
    Ok(())
}

pub(crate) fn check_log_type(value: &str) -> Result<(), String> {
    if LOG_TYPES.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "log_type must be one of {}, not {value:?}",
            LOG_TYPES.join(", ")
        ))
    }
}

// What the numbers in a file mean, shared by both formats.

/// `max_connections`: 0 or negative (Mosquitto's -1) = unlimited.
pub(crate) fn max_connections_from(n: i64) -> Option<usize> {
    if n <= 0 {
        None
    } else {
        Some(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

/// `max_inflight_messages`: 0 = unlimited, stored as 65535.
pub(crate) fn inflight_from(n: u16) -> u16 {
    if n == 0 {
        u16::MAX
    } else {
        n
    }
}

/// `max_queued_messages` / `max_queued_bytes`: 0 = unlimited.
pub(crate) fn unlimited_if_zero(n: usize) -> usize {
    if n == 0 {
        usize::MAX
    } else {
        n
    }
}

/// `max_packet_size`: 0 = the protocol maximum; otherwise at least 20
/// bytes (a smaller limit would refuse every CONNECT) and at most the
/// protocol maximum.
pub(crate) fn packet_size_from(n: u64) -> Result<u32, String> {
    match n {
        0 => Ok(PROTOCOL_MAX_PACKET_SIZE),
        20..=268_435_455 => Ok(n as u32),
        _ => Err(format!(
            "max_packet_size must be 0 (the protocol maximum) or 20 to {PROTOCOL_MAX_PACKET_SIZE} bytes, not {n}"
        )),
    }
}

/// A listener address: an IP address, or `localhost` (= 127.0.0.1).
pub(crate) fn bind_address_from(key: &str, text: &str) -> Result<IpAddr, String> {
    if text.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    }
    text.parse().map_err(|_| {
        format!(
            "{key} must be an IP address such as 0.0.0.0, 127.0.0.1, :: or ::1 \
             (or localhost; other host names are not supported), not {text:?}"
        )
    })
}

/// A WebSocket path: starts with `/`, no spaces.
pub(crate) fn ws_path_from(text: &str) -> Result<String, String> {
    if text.starts_with('/') && !text.contains(char::is_whitespace) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "path must start with / and have no spaces (e.g. \"/mqtt\"), not {text:?}"
        ))
    }
}

/// Rules of a TLS listener that no single key shows.
pub(crate) fn check_tls(tls: &Tls) -> Result<(), String> {
    let has_ca = tls.cafile.is_some() || tls.capath.is_some();
    if tls.require_certificate && !has_ca {
        return Err(
            "require_certificate needs cafile or capath (the CA that signs client certificates)"
                .into(),
        );
    }
    if tls.identity != CertIdentity::None && tls.cafile.is_none() && tls.capath.is_none() {
        return Err(
            "use_identity_as_username and use_subject_as_username need cafile or capath \
             (the user name comes from a client certificate verified against them)"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.listeners, vec![Listener::tcp(1883, None)]);
        assert_eq!(c.listeners[0].kind, ListenerKind::Tcp);
        assert_eq!(c.listeners[0].path, None);
        assert_eq!(c.listeners[0].max_connections, None);
        assert_eq!(c.listeners[0].max_connection_rate, None);
        assert_eq!(c.allow_anonymous, AllowAnonymous::Loopback);
        assert_eq!(c.sys_interval, 10);
        assert_eq!(c.source, None);
        let l = Limits::default();
        assert_eq!(l.max_connections, None);
        assert_eq!(l.max_inflight_messages, 20);
        assert_eq!(l.max_queued_messages, 1000);
        assert_eq!(l.max_queued_bytes, usize::MAX);
        assert_eq!(l.max_packet_size, 1_048_576);
        assert_eq!(l.max_keepalive, 65535);
        assert!(!l.queue_qos0_messages);
        let g = Log::default();
        assert!(!g.verbose);
        assert!(g.connection_messages);
        assert!(g.types.is_empty());
    }

    #[test]
    fn error_display() {
        let e = ConfigError::new(Path::new("a.conf"), Some(3), "bad");
        assert_eq!(e.to_string(), "a.conf:3: bad");
        let e = ConfigError::new(Path::new("a.conf"), None, "bad");
        assert_eq!(e.to_string(), "a.conf: bad");
    }

    #[test]
    fn loopback_policy() {
        let p = AllowAnonymous::Loopback;
        assert!(p.permits("127.0.0.1".parse().unwrap()));
        assert!(p.permits("127.8.9.10".parse().unwrap()));
        assert!(p.permits("::1".parse().unwrap()));
        assert!(p.permits("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!p.permits("192.168.1.5".parse().unwrap()));
        assert!(!p.permits("fe80::1".parse().unwrap()));
        assert!(AllowAnonymous::Always.permits("10.0.0.1".parse().unwrap()));
        assert!(!AllowAnonymous::Never.permits("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn password_files_load_or_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        let line = hornet_auth::scram_line("alice", b"pw", 16).unwrap();
        std::fs::write(&path, format!("{line}\n")).unwrap();
        let users = load_password_file(&path).unwrap();
        assert!(users.verify_password("alice", b"pw"));

        std::fs::write(&path, format!("{line}\nbob:plain\n")).unwrap();
        let err = load_password_file(&path).unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(
            err.to_string()
                .starts_with(&format!("{}:2: user 'bob'", path.display())),
            "{err}"
        );

        let err = load_password_file(&dir.path().join("nope")).unwrap_err();
        assert!(
            err.reason.contains("cannot read the password_file"),
            "{err}"
        );
    }

    #[test]
    fn load_dispatches_on_extension() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("hornet.toml");
        std::fs::write(&toml_path, "sys_interval = 5\n").unwrap();
        let loaded = load(&toml_path).unwrap();
        assert_eq!(loaded.config.sys_interval, 5);
        assert_eq!(loaded.config.source.as_deref(), Some(toml_path.as_path()));

        let conf_path = dir.path().join("mosquitto.conf");
        std::fs::write(&conf_path, "sys_interval 7\n").unwrap();
        let loaded = load(&conf_path).unwrap();
        assert_eq!(loaded.config.sys_interval, 7);
        assert_eq!(loaded.config.source.as_deref(), Some(conf_path.as_path()));

        let missing = dir.path().join("nope.conf");
        let err = load(&missing).unwrap_err();
        assert_eq!(err.file, missing);
        assert_eq!(err.line, None);
        assert!(err.reason.contains("cannot read"), "{err}");
    }
}
