//! Every setting declared once: the single place that says, per setting,
//! its name (the hornet.toml key), its TOML section, its mosquitto.conf
//! key, the kind of value (`kinds.rs`), its default, its doc
//! line, where it lives in [`Config`] and what it sets in the core's
//! [`Settings`].
//!
//! From this table come the [`Limits`] and [`Mqtt`] structs with their
//! defaults (the `section!` macro), the TOML loader's keys of `[limits]`,
//! `[mqtt]` and `[log]` and its unknown-key errors (`toml.rs`), the
//! mosquitto.conf keys that are one value on one line (`mosquitto.rs`),
//! the `hornet check-config` rows and the banner's limits (`describe.rs`),
//! the effective-TOML printer (`cli/effective_toml.rs`), the conversion to
//! core [`Settings`] ([`core_settings`]) and the spellings the first-time
//! hints give (`wording.rs`). A unit test walks the table through both
//! loaders and the printer, so a setting that is declared but not wired
//! fails it.
//!
//! Adding a plain limit (a `[limits]` integer that reaches the core) is one
//! row in `LIMITS` below, the field in hornet-core's `Settings`, and its
//! entry in `docs/configuration.md`: three files.
//!
//! Written by hand, because they are not one value per key:
//! - listeners and their TLS keys, `include_dir`, `password_file`,
//!   `acl_file`, the persistence keys (`persistence`, `data_dir` /
//!   `persistence_location`, `fsync`, `fsync_interval_ms`) and `[admin]`;
//! - the TOML top level reads `allow_anonymous` and `sys_interval` as
//!   fields of its serde struct, then through their rows here;
//! - `[mqtt] shared_group_strategies` (a table, each value with its own
//!   line in errors) and `[log] types` (each checked with its line);
//! - in mosquitto.conf: `max_connections` and `allow_anonymous` (they
//!   depend on the listener section they appear in), `log_type` (repeated),
//!   `shared_group_strategy` (two words) and `persistent_client_expiration`
//!   (a second spelling of `max_session_expiry`, with units).
//!
//! Rows marked so ([`Spec::toml_by_hand`], [`Conf::Hand`]) still go
//! through the table for printing, describing and the core.

use hornet_core::{Settings, Wording};
use toml::Value;

use super::kinds::{self, Kind};
use super::Config;

/// Where a setting is in hornet.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The top level.
    Top,
    /// `[limits]`.
    Limits,
    /// `[mqtt]`.
    Mqtt,
    /// `[log]`.
    Log,
    /// `[cluster]` (see `docs/cluster.md`).
    Cluster,
}

impl Section {
    /// The table name; `""` for the top level.
    pub fn name(self) -> &'static str {
        match self {
            Section::Top => "",
            Section::Limits => "limits",
            Section::Mqtt => "mqtt",
            Section::Log => "log",
            Section::Cluster => "cluster",
        }
    }
}

/// How mosquitto.conf spells a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conf {
    /// Not at all (hornet.toml only).
    None,
    /// `KEY VALUE` on one line, read from the table.
    Key(&'static str),
    /// This key, read by hand in `mosquitto.rs` (see the module doc).
    Hand(&'static str),
}

impl Conf {
    /// The mosquitto.conf key, if there is one.
    pub fn key(self) -> Option<&'static str> {
        match self {
            Conf::None => None,
            Conf::Key(k) | Conf::Hand(k) => Some(k),
        }
    }
}

/// One setting's declaration, and what is derived from it.
pub struct Spec {
    /// The canonical name: the hornet.toml key (and the core's field, where
    /// it has one).
    pub name: &'static str,
    /// Its hornet.toml section.
    pub section: Section,
    /// Whether `toml.rs` reads it by hand (see the module doc).
    pub toml_by_hand: bool,
    /// Its mosquitto.conf spelling.
    pub conf: Conf,
    /// What a mosquitto.conf number may be, for errors
    /// (`max_queued_messages must be ACCEPTS, not "x"`).
    pub accepts: &'static str,
    /// The doc line.
    pub doc: &'static str,
    /// Whether `hornet check-config` and the banner list it.
    pub shown: bool,
    /// Whether it sets something in the core's [`Settings`].
    pub reaches_core: bool,
    /// A value other than the default, in hornet.toml and in mosquitto.conf
    /// syntax, for the test that walks the table.
    pub example: (&'static str, &'static str),
    pub(crate) check_toml: fn(Value) -> Result<(), String>,
    pub(crate) read_toml: fn(&mut Config, Value) -> Result<(), String>,
    pub(crate) read_conf: fn(&mut Config, &str, &str) -> Result<(), String>,
    pub(crate) write_toml: fn(&Config) -> Option<Value>,
    pub(crate) show: fn(&Config) -> String,
    pub(crate) to_core: fn(&Config, &mut Settings),
}

impl Spec {
    /// The value in `config`, in words.
    pub fn show(&self, config: &Config) -> String {
        (self.show)(config)
    }

    /// The value in `config` as hornet.toml writes it; `None` leaves it out.
    pub fn to_toml(&self, config: &Config) -> Option<Value> {
        (self.write_toml)(config)
    }

    /// Sets it in `config` from a TOML value.
    pub(crate) fn read_toml(&self, config: &mut Config, value: Value) -> Result<(), String> {
        (self.read_toml)(config, value)
    }

    /// Sets it in `config` from the text of a mosquitto.conf line for `key`.
    pub(crate) fn read_conf(
        &self,
        config: &mut Config,
        key: &str,
        text: &str,
    ) -> Result<(), String> {
        (self.read_conf)(config, key, text)
    }

    /// Whether a TOML value has the type the setting reads; the error is
    /// serde's (`invalid type: ..., expected u64`).
    pub(crate) fn check_toml(&self, value: Value) -> Result<(), String> {
        (self.check_toml)(value)
    }

    /// How hornet.toml sets it to `value`: `` `[limits] key = value` ``
    /// (`` `key = value` `` at the top level).
    pub fn toml_spelling(&self, value: &str) -> String {
        match self.section {
            Section::Top => format!("`{} = {value}`", self.name),
            s => format!("`[{}] {} = {value}`", s.name(), self.name),
        }
    }

    /// How mosquitto.conf sets it to `value`: `` `key value` ``.
    pub fn conf_spelling(&self, value: &str) -> Option<String> {
        self.conf.key().map(|k| format!("`{k} {value}`"))
    }
}

/// A TOML value's type error, as the loader reports it.
fn message(e: toml::de::Error) -> String {
    e.message().to_string()
}

/// One [`Spec`] for the value at `$path` in [`Config`], of model type
/// `$ty` and kind `$kind`.
macro_rules! spec {
    (@reaches) => { false };
    (@reaches $core:expr) => { true };
    (@core $ty:ty, [$($path:ident).+],) => { |_, _| {} };
    (@core $ty:ty, [$($path:ident).+], $core:expr) => {
        |c, s| {
            let set: fn(&mut Settings, &$ty) = $core;
            set(s, &c.$($path).+)
        }
    };
    (
        $name:expr, $section:ident, [$($path:ident).+], $ty:ty, $kind:ty,
        toml_by_hand: $by_hand:expr, conf: $conf:expr, accepts: $accepts:literal,
        shown: $shown:literal, example: ($tex:literal, $cex:literal),
        core: [$($core:expr)?], doc: $doc:expr
    ) => {
        Spec {
            name: $name,
            section: Section::$section,
            toml_by_hand: $by_hand,
            conf: $conf,
            accepts: $accepts,
            doc: $doc,
            shown: $shown,
            reaches_core: spec!(@reaches $($core)?),
            example: ($tex, $cex),
            check_toml: |v| {
                <<$kind as Kind<$ty>>::Raw as serde::Deserialize>::deserialize(v)
                    .map(drop)
                    .map_err(message)
            },
            read_toml: |c, v| {
                let raw = <<$kind as Kind<$ty>>::Raw as serde::Deserialize>::deserialize(v)
                    .map_err(message)?;
                c.$($path).+ = <$kind as Kind<$ty>>::from_raw(raw)?;
                Ok(())
            },
            read_conf: |c, key, text| {
                c.$($path).+ = <$kind as Kind<$ty>>::from_conf(key, text, $accepts)?;
                Ok(())
            },
            write_toml: |c| <$kind as Kind<$ty>>::to_toml(&c.$($path).+),
            show: |c| <$kind as Kind<$ty>>::show(&c.$($path).+),
            to_core: spec!(@core $ty, [$($path).+], $($core)?),
        }
    };
}

/// A section struct of [`Config`] (its fields, docs and defaults) and its
/// rows of the table, from one declaration per field.
macro_rules! section {
    (@by_hand) => { false };
    (@by_hand $b:literal) => { $b };
    (
        $(#[doc = $sdoc:literal])*
        pub struct $S:ident in $section:ident at $field_of_config:ident, rows $ROWS:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident: $ty:ty = $default:expr => $kind:ty {
                    $(toml_by_hand: $by_hand:literal,)?
                    conf: $conf:expr,
                    accepts: $accepts:literal,
                    shown: $shown:literal,
                    example: ($tex:literal, $cex:literal),
                    $(core: $core:expr,)?
                }
            )*
        }
    ) => {
        $(#[doc = $sdoc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $S {
            $(
                $(#[doc = $doc])*
                pub $field: $ty,
            )*
        }

        impl Default for $S {
            fn default() -> Self {
                $S {
                    $($field: $default,)*
                }
            }
        }

        /// The rows of this section, in file order.
        static $ROWS: &[Spec] = &[
            $(
                spec!(
                    stringify!($field), $section, [$field_of_config.$field], $ty, $kind,
                    toml_by_hand: section!(@by_hand $($by_hand)?), conf: $conf,
                    accepts: $accepts, shown: $shown, example: ($tex, $cex),
                    core: [$($core)?], doc: concat!($($doc, "\n"),*)
                ),
            )*
        ];
    };
}

section! {
    /// Resource limits. "Unlimited" is stored as the type's maximum.
    pub struct Limits in Limits at limits, rows LIMITS {
        /// Most simultaneous client connections; `None` = unlimited (Mosquitto's -1).
        max_connections: Option<usize> = None => kinds::Connections {
            conf: Conf::Hand("max_connections"),
            accepts: "-1 (unlimited) or a positive number",
            shown: true,
            example: ("500", "500"),
        }
        /// Most QoS 1 and 2 messages in flight per client. Default 20;
        /// 0 in a file means unlimited and is stored as 65535.
        max_inflight_messages: u16 = 20 => kinds::Inflight {
            conf: Conf::Key("max_inflight_messages"),
            accepts: "0 (unlimited) to 65535",
            shown: true,
            example: ("10", "10"),
            core: |s, v| s.max_inflight_messages = (*v).max(1),
        }
        /// Most messages queued per client beyond those in flight. Default
        /// 1000; 0 in a file means unlimited and is stored as `usize::MAX`.
        max_queued_messages: usize = 1000 => kinds::Unlimited {
            conf: Conf::Key("max_queued_messages"),
            accepts: "0 (unlimited) or a positive number",
            shown: true,
            example: ("100", "100"),
            core: |s, v| s.max_queued_messages = *v,
        }
        /// Most payload bytes queued per client. Default 0 in a file, i.e.
        /// unlimited, stored as `usize::MAX`.
        max_queued_bytes: usize = usize::MAX => kinds::Unlimited {
            conf: Conf::Key("max_queued_bytes"),
            accepts: "0 (unlimited) or a positive number",
            shown: true,
            example: ("65536", "65536"),
            core: |s, v| s.max_queued_bytes = *v,
        }
        /// Largest packet accepted, in bytes. Default 1 MiB; 0 in a file means
        /// the protocol maximum, [`PROTOCOL_MAX_PACKET_SIZE`](super::PROTOCOL_MAX_PACKET_SIZE).
        max_packet_size: u32 = 1_048_576 => kinds::PacketSize {
            conf: Conf::Key("max_packet_size"),
            accepts: "0 (the protocol maximum) or 20 to 268435455 bytes",
            shown: true,
            example: ("4096", "4096"),
            core: |s, v| s.max_packet_size = *v,
        }
        /// Largest PUBLISH or will payload accepted, in bytes (Mosquitto's
        /// `message_size_limit`); larger ones are dropped (acknowledged with
        /// 0x95 to MQTT 5) or refused. Default 0: no limit.
        message_size_limit: usize = 0 => kinds::Rate {
            conf: Conf::Key("message_size_limit"),
            accepts: "0 (no limit) or a number of bytes",
            shown: true,
            example: ("1024", "1024"),
            core: |s, v| s.message_size_limit = *v,
        }
        /// Largest keep-alive a client may ask for, in seconds. Default 65535.
        /// 0 lets clients ask for keep-alive 0 (never time out), as in Mosquitto.
        max_keepalive: u16 = 65535 => kinds::Plain {
            conf: Conf::Key("max_keepalive"),
            accepts: "0 to 65535 seconds",
            shown: true,
            example: ("300", "300"),
            core: |s, v| s.max_keepalive = *v,
        }
        /// Whether QoS 0 messages are queued for offline persistent sessions.
        /// Default false.
        queue_qos0_messages: bool = false => kinds::Bool {
            conf: Conf::Key("queue_qos0_messages"),
            accepts: "true or false",
            shown: true,
            example: ("true", "true"),
            core: |s, v| s.queue_qos0_messages = *v,
        }
        /// Seconds a new connection may take to send CONNECT (and finish
        /// authenticating). Default 10.
        connect_timeout: u64 = 10 => kinds::Secs {
            conf: Conf::Key("connect_timeout"),
            accepts: "a number of seconds",
            shown: true,
            example: ("5", "5"),
            core: |s, v| s.connect_timeout = std::time::Duration::from_secs(*v),
        }
        /// Longest client id accepted, in bytes. Default 1024; 0 in a file
        /// means the protocol's 65535.
        max_client_id_length: usize = 1024 => kinds::Length {
            conf: Conf::Key("max_client_id_length"),
            accepts: "0 (65535) to 65535 bytes",
            shown: true,
            example: ("64", "64"),
            core: |s, v| s.max_client_id_length = *v,
        }
        /// Longest topic name or filter accepted, in bytes. Default 65535 (the
        /// protocol's limit).
        max_topic_length: usize = 65535 => kinds::Length {
            conf: Conf::Key("max_topic_length"),
            accepts: "0 (65535) to 65535 bytes",
            shown: true,
            example: ("256", "256"),
            core: |s, v| s.max_topic_length = *v,
        }
        /// Most levels in a topic name or filter. Default 201, that is 200
        /// `/` (Mosquitto 2.0's built-in limit); 0 in a file means unlimited.
        max_topic_levels: usize = 201 => kinds::Unlimited {
            conf: Conf::Key("max_topic_levels"),
            accepts: "0 (unlimited) or a positive number",
            shown: true,
            example: ("8", "8"),
            core: |s, v| s.max_topic_levels = *v,
        }
        /// Most subscriptions one session may hold. Default 10000; 0 in a file
        /// means unlimited.
        max_subscriptions_per_client: usize = 10_000 => kinds::Unlimited {
            conf: Conf::Key("max_subscriptions_per_client"),
            accepts: "0 (unlimited) or a positive number",
            shown: true,
            example: ("50", "50"),
            core: |s, v| s.max_subscriptions_per_client = *v,
        }
        /// PUBLISH packets per second one connection may send, on average;
        /// `0` (the default) means unlimited.
        max_publish_rate: u32 = 0 => kinds::Rate {
            conf: Conf::Key("max_publish_rate"),
            accepts: "0 (unlimited) or messages per second",
            shown: true,
            example: ("100", "100"),
            core: |s, v| s.max_publish_rate = *v,
        }
        /// PUBLISH bytes per second one connection may send; `0` (the
        /// default) means unlimited.
        max_publish_bytes_rate: u64 = 0 => kinds::Rate {
            conf: Conf::Key("max_publish_bytes_rate"),
            accepts: "0 (unlimited) or bytes per second",
            shown: true,
            example: ("10000", "10000"),
            core: |s, v| s.max_publish_bytes_rate = *v,
        }
        /// What happens to a connection over a publish rate.
        publish_rate_action: hornet_core::RateAction = hornet_core::RateAction::Throttle
            => kinds::RateAction {
            conf: Conf::Key("publish_rate_action"),
            accepts: "\"throttle\" or \"disconnect\"",
            shown: true,
            example: ("\"disconnect\"", "disconnect"),
            core: |s, v| s.publish_rate_action = *v,
        }
        /// Queued messages for one subscriber at which the publishers feeding
        /// it are not read for a moment while its queue drains, so a flood
        /// waits in the kernel's socket buffers instead of the broker's
        /// memory. Default 10000; 0 turns it off.
        backlog_pause_messages: u32 = 10_000 => kinds::CountOrOff {
            conf: Conf::Key("backlog_pause_messages"),
            accepts: "0 (off) or a number of messages",
            shown: true,
            example: ("50000", "50000"),
            core: |s, v| s.backlog_pause_messages = *v as usize,
        }
        /// Queued payload bytes for one subscriber at which its publishers
        /// are paused the same way (`backlog_pause_messages`): large
        /// messages reach it long before the message count. Default
        /// 4194304 (4 MiB); 0 turns it off.
        backlog_pause_bytes: u32 = 4 << 20 => kinds::CountOrOff {
            conf: Conf::Key("backlog_pause_bytes"),
            accepts: "0 (off) or a number of bytes",
            shown: true,
            example: ("16777216", "16777216"),
            core: |s, v| s.backlog_pause_bytes = *v as usize,
        }
        /// Milliseconds without a written packet after which a subscriber
        /// stops pausing its publishers (`backlog_pause_messages`): a stuck
        /// client never holds anybody up for longer. Default 100.
        backlog_pause_stall_ms: u64 = 100 => kinds::Plain {
            conf: Conf::Key("backlog_pause_stall_ms"),
            accepts: "a number of milliseconds",
            shown: true,
            example: ("20", "20"),
            core: |s, v| s.backlog_pause_stall = std::time::Duration::from_millis(*v),
        }
        /// Connects of one client id within `flapping_window` beyond which it
        /// is refused for `flapping_ban`. Default 20; 0 turns it off.
        flapping_max_connects: u32 = 20 => kinds::CountOrOff {
            conf: Conf::Key("flapping_max_connects"),
            accepts: "0 (off) or a number of connects",
            shown: true,
            example: ("5", "5"),
            core: |s, v| s.flapping_max_connects = *v,
        }
        /// Seconds over which connects are counted. Default 60.
        flapping_window: u64 = 60 => kinds::Secs {
            conf: Conf::Key("flapping_window"),
            accepts: "a number of seconds",
            shown: true,
            example: ("30", "30"),
            core: |s, v| s.flapping_window = std::time::Duration::from_secs(*v),
        }
        /// Seconds a flapping client id is refused. Default 60.
        flapping_ban: u64 = 60 => kinds::Secs {
            conf: Conf::Key("flapping_ban"),
            accepts: "a number of seconds",
            shown: true,
            example: ("300", "300"),
            core: |s, v| s.flapping_ban = std::time::Duration::from_secs(*v),
        }
    }
}

section! {
    /// MQTT protocol features and switches; see `docs/mqtt5.md`.
    pub struct Mqtt in Mqtt at mqtt, rows MQTT {
        /// QoS 2 PUBLISH packets an MQTT 5 client may have awaiting PUBREL
        /// (announced as Receive Maximum). Default 65535 (not announced).
        receive_maximum: u16 = 65535 => kinds::ReceiveMaximum {
            conf: Conf::Key("receive_maximum"),
            accepts: "1 to 65535",
            shown: true,
            example: ("100", "100"),
            core: |s, v| s.receive_maximum = *v,
        }
        /// Longest session expiry granted, in seconds, to MQTT 5 clients and to
        /// MQTT 3.x persistent sessions. Default `None`: never expire.
        max_session_expiry: Option<u32> = None => kinds::Expiry {
            conf: Conf::Key("max_session_expiry"),
            accepts: "a number of seconds",
            shown: true,
            example: ("86400", "86400"),
            core: |s, v| s.max_session_expiry = v.unwrap_or(u32::MAX),
        }
        /// Highest QoS accepted and granted (0 to 2). Default 2.
        max_qos: u8 = 2 => kinds::MaxQos {
            conf: Conf::Key("max_qos"),
            accepts: "0, 1 or 2",
            shown: true,
            example: ("1", "1"),
            core: |s, v| s.max_qos = *v,
        }
        /// Whether retained messages are supported. Default true.
        retain_available: bool = true => kinds::Bool {
            conf: Conf::Key("retain_available"),
            accepts: "true or false",
            shown: true,
            example: ("false", "false"),
            core: |s, v| s.retain_available = *v,
        }
        /// Seconds after which a retained message is dropped. Default `None`.
        retained_max_age: Option<u64> = None => kinds::Age {
            conf: Conf::Key("retained_max_age"),
            accepts: "0 (no limit) or a number of seconds",
            shown: true,
            example: ("3600", "3600"),
            core: |s, v| s.retained_max_age = v.map(std::time::Duration::from_secs),
        }
        /// Whether `+` and `#` may be used in subscriptions. Default true.
        wildcard_subscriptions: bool = true => kinds::Bool {
            conf: Conf::Key("wildcard_subscriptions"),
            accepts: "true or false",
            shown: false,
            example: ("false", "false"),
            core: |s, v| s.wildcard_subscriptions = *v,
        }
        /// Whether SUBSCRIBE may carry a Subscription Identifier. Default true.
        subscription_identifiers: bool = true => kinds::Bool {
            conf: Conf::Key("subscription_identifiers"),
            accepts: "true or false",
            shown: false,
            example: ("false", "false"),
            core: |s, v| s.subscription_identifiers = *v,
        }
        /// Overlapping subscriptions of one MQTT 5 client: each matching
        /// subscription with a Subscription Identifier gets its own copy
        /// (true, as Mosquitto; Node-RED needs it), or one copy carries
        /// every identifier (false). Default true.
        subscription_identifier_copies: bool = true => kinds::Bool {
            conf: Conf::Key("subscription_identifier_copies"),
            accepts: "true or false",
            shown: false,
            example: ("false", "false"),
            core: |s, v| s.subscription_identifier_copies = *v,
        }
        /// Topic aliases accepted from each MQTT 5 client. Default 64.
        topic_alias_maximum: u16 = 64 => kinds::Plain {
            conf: Conf::Key("max_topic_alias"),
            accepts: "0 to 65535",
            shown: true,
            example: ("10", "10"),
            core: |s, v| s.topic_alias_maximum = *v,
        }
        /// Prefix of the Response Information given to MQTT 5 clients that
        /// ask for it. Default `None`.
        response_information: Option<String> = None => kinds::Text {
            conf: Conf::Key("response_information"),
            accepts: "a topic prefix",
            shown: false,
            example: ("\"responses/\"", "responses/"),
            core: |s, v| s.response_information = v.clone(),
        }
        /// Maintenance redirection: every CONNECT is refused and MQTT 5
        /// clients are pointed here. Default `None`.
        server_reference: Option<String> = None => kinds::Text {
            conf: Conf::Key("server_reference"),
            accepts: "a server reference",
            shown: false,
            example: ("\"other:1883\"", "other:1883"),
            core: |s, v| s.server_reference = v.clone(),
        }
        /// With `server_reference`: "moved" (0x9D) rather than "use another
        /// server" (0x9C). Default false.
        server_moved: bool = false => kinds::Bool {
            conf: Conf::Key("server_moved"),
            accepts: "true or false",
            shown: false,
            example: ("true", "true"),
            core: |s, v| s.server_moved = *v,
        }
        /// Whether `$share/` and `$queue/` subscriptions are offered. Default true.
        shared_subscriptions: bool = true => kinds::Bool {
            conf: Conf::Key("shared_subscriptions"),
            accepts: "true or false",
            shown: false,
            example: ("false", "false"),
            core: |s, v| s.shared_subscriptions = *v,
        }
        /// How a shared subscription group picks the member for a message.
        /// Default round robin.
        shared_subscription_strategy: hornet_core::SharedStrategy =
            hornet_core::SharedStrategy::RoundRobin => kinds::Strategy {
            conf: Conf::Key("shared_subscription_strategy"),
            accepts: "a strategy",
            shown: false,
            example: ("\"random\"", "random"),
            core: |s, v| s.shared_strategy = *v,
        }
        /// Whether a client that sends an empty client id is given one (MQTT
        /// 5, and 3.1.1 with clean session) rather than refused. Default true.
        allow_zero_length_clientid: bool = true => kinds::Bool {
            conf: Conf::Key("allow_zero_length_clientid"),
            accepts: "true or false",
            shown: true,
            example: ("false", "false"),
            core: |s, v| s.allow_zero_length_clientid = *v,
        }
        /// The prefix of the client ids the broker assigns. Default `auto-`.
        auto_id_prefix: String = "auto-".to_string() => kinds::Word {
            conf: Conf::Key("auto_id_prefix"),
            accepts: "a prefix",
            shown: false,
            example: ("\"dev-\"", "dev-"),
            core: |s, v| s.auto_id_prefix = v.clone(),
        }
        /// Only client ids starting with this prefix may connect (others are
        /// refused as not authorised). Default none.
        clientid_prefixes: Option<String> = None => kinds::Text {
            conf: Conf::Key("clientid_prefixes"),
            accepts: "a client id prefix",
            shown: true,
            example: ("\"sensor-\"", "sensor-"),
            core: |s, v| s.clientid_prefixes = v.clone(),
        }
        /// Whether messages go out at the subscription's QoS even when
        /// published at a lower one (Mosquitto's `upgrade_outgoing_qos`).
        /// Default false.
        upgrade_outgoing_qos: bool = false => kinds::Bool {
            conf: Conf::Key("upgrade_outgoing_qos"),
            accepts: "true or false",
            shown: false,
            example: ("true", "true"),
            core: |s, v| s.upgrade_outgoing_qos = *v,
        }
        /// Whether a retained message is sent to a new subscriber only
        /// while its publisher may still write its topic (Mosquitto's
        /// `check_retain_source`). Default true.
        check_retain_source: bool = true => kinds::Bool {
            conf: Conf::Key("check_retain_source"),
            accepts: "true or false",
            shown: false,
            example: ("false", "false"),
            core: |s, v| s.check_retain_source = *v,
        }
        /// Whether `$exclusive/{filter}` subscribes exclusively: one client
        /// per filter at a time, another is refused with SUBACK 0x97 (EMQX's
        /// `mqtt.exclusive_subscription`). Default true.
        exclusive_subscription: bool = true => kinds::Bool {
            conf: Conf::Key("exclusive_subscription"),
            accepts: "true or false",
            shown: false,
            example: ("false", "false"),
            core: |s, v| s.exclusive_subscriptions = *v,
        }
        /// Whether `$delayed/{seconds}/{topic}` holds a message and
        /// publishes it to `topic` after `seconds` (EMQX's delayed publish,
        /// `delayed.enable`). Default true.
        delayed_publish: bool = true => kinds::Bool {
            conf: Conf::Key("delayed_publish"),
            accepts: "true or false",
            shown: false,
            example: ("false", "false"),
            core: |s, v| s.delayed_publish = *v,
        }
        /// Longest delay accepted in `$delayed/{seconds}/...`, in seconds.
        /// Default 4294967 (EMQX's limit).
        max_delayed_interval: u32 = 4_294_967 => kinds::Plain {
            conf: Conf::Key("max_delayed_interval"),
            accepts: "0 to 4294967295 seconds",
            shown: false,
            example: ("3600", "3600"),
            core: |s, v| s.max_delayed_interval = *v,
        }
        /// Most messages held for delayed publish at once (EMQX's
        /// `delayed.max_delayed_messages`). Default 0 in a file, i.e.
        /// unlimited, stored as `usize::MAX`.
        max_delayed_messages: usize = usize::MAX => kinds::Unlimited {
            conf: Conf::Key("max_delayed_messages"),
            accepts: "0 (unlimited) or a positive number",
            shown: false,
            example: ("10000", "10000"),
            core: |s, v| s.max_delayed_messages = *v,
        }
        /// What a session's queue does with an arriving message:
        /// `drop_newest` (when full, Mosquitto's behaviour), `drop_oldest`
        /// (when full) or `latest` (one message per topic). Default
        /// drop_newest.
        queue_policy: hornet_core::QueuePolicy = hornet_core::QueuePolicy::DropNewest
            => kinds::QueuePolicyKind {
            conf: Conf::Key("queue_policy"),
            accepts: "drop_newest, drop_oldest or latest",
            shown: false,
            example: ("\"latest\"", "latest"),
            core: |s, v| s.queue_policy = *v,
        }
        /// Queue policies by topic filter, the first matching rule deciding
        /// (hornet.toml only). Default none.
        queue_policies: Vec<(String, hornet_core::QueuePolicy)> = Vec::new()
            => kinds::QueuePolicyRules {
            conf: Conf::None,
            accepts: "an array of { filter, policy }",
            shown: false,
            example: ("[{ filter = \"devices/+/state\", policy = \"latest\" }]", ""),
            core: |s, v| s.queue_policies = v.clone(),
        }
        /// Filters subscribed for every client when it connects, from
        /// templates with `%c` (client id) and `%u` (user name) (EMQX's
        /// `auto_subscribe`; hornet.toml only). Default none.
        auto_subscribe: Vec<hornet_core::AutoSubscription> = Vec::new()
            => kinds::AutoSubscribe {
            conf: Conf::None,
            accepts: "an array of { topic, qos }",
            shown: false,
            example: ("[{ topic = \"devices/%c/cmd\", qos = 1 }]", ""),
            core: |s, v| s.auto_subscribe = v.clone(),
        }
        /// Topic rewrite rules for PUBLISH, SUBSCRIBE and UNSUBSCRIBE
        /// (EMQX's `rewrite`; hornet.toml only), first match deciding.
        /// Default none.
        rewrite: Vec<hornet_core::RewriteRule> = Vec::new() => kinds::Rewrite {
            conf: Conf::None,
            accepts: "an array of { action, source_topic, re, dest_topic }",
            shown: false,
            example: ("[{ action = \"all\", source_topic = \"x/#\", re = \"^x/y/(.+)$\", dest_topic = \"z/y/$1\" }]", ""),
            core: |s, v| s.rewrite = v.clone(),
        }
        /// Strategies for particular groups, by share name (`$queue` for
        /// `$queue/...`).
        shared_group_strategies: Vec<(String, hornet_core::SharedStrategy)> = Vec::new()
            => kinds::GroupStrategies {
            toml_by_hand: true,
            conf: Conf::Hand("shared_group_strategy"),
            accepts: "a group name and a strategy",
            shown: false,
            example: ("{ workers = \"sticky\" }", "workers sticky"),
            core: |s, v| s.shared_group_strategies = v.clone(),
        }
    }
}

section! {
    /// `[cluster]`: this broker as one node of a cluster coordinated by
    /// etcd (`docs/cluster.md`). Without `node`, a single broker.
    pub struct Cluster in Cluster at cluster, rows CLUSTER {
        /// This node's unique, stable name; setting it makes the broker a
        /// cluster node. Default none: a single broker.
        node: Option<String> = None => kinds::Text {
            conf: Conf::None,
            accepts: "a node name",
            shown: false,
            example: ("\"n1\"", ""),
        }
        /// The etcd endpoints (`http://host:port`). Default
        /// `["http://127.0.0.1:2379"]`.
        etcd: Vec<String> = vec!["http://127.0.0.1:2379".to_string()] => kinds::Words {
            conf: Conf::None,
            accepts: "etcd endpoints",
            shown: false,
            example: ("[\"http://10.0.0.1:2379\"]", ""),
        }
        /// Where node-to-node links are accepted (`host:port`). Default
        /// `127.0.0.1:7946`.
        listen: String = "127.0.0.1:7946".to_string() => kinds::Word {
            conf: Conf::None,
            accepts: "an address and port",
            shown: false,
            example: ("\"0.0.0.0:7946\"", ""),
        }
        /// The address other nodes dial (`host:port`). Default `listen`.
        advertise: Option<String> = None => kinds::Text {
            conf: Conf::None,
            accepts: "an address and port",
            shown: false,
            example: ("\"10.0.0.5:7946\"", ""),
        }
        /// The cluster's name: nodes of other clusters (another name, on
        /// the same etcd) are refused. Default `hornet`.
        name: String = "hornet".to_string() => kinds::Word {
            conf: Conf::None,
            accepts: "a cluster name",
            shown: false,
            example: ("\"prod\"", ""),
        }
        /// Seconds of the node's etcd lease: a node that stops renewing it
        /// is dead this long after. Default 10.
        lease_ttl: u64 = 10 => kinds::Secs {
            conf: Conf::None,
            accepts: "a number of seconds",
            shown: false,
            example: ("3", ""),
        }
        /// Seconds a deleted retained topic's tombstone is kept, so a copy
        /// of the old message from a node that was cut off does not undo
        /// the delete (at most 100,000 are kept, the oldest forgotten
        /// first). Default 86400 (24 h).
        tombstone_ttl: u64 = 86400 => kinds::Secs {
            conf: Conf::None,
            accepts: "a number of seconds",
            shown: false,
            example: ("3600", ""),
        }
        /// Seconds a client's acknowledgement waits at most for the other
        /// nodes: a PUBACK / PUBREC for the nodes a message was forwarded to
        /// to apply it (past it, the publisher's connection is closed
        /// without it), a SUBACK for every live node to apply the new route
        /// (past it, sent anyway). Keep it above `lease_ttl`, so that a dead
        /// node releases them first. Default 20.
        ack_timeout: u64 = 20 => kinds::Secs {
            conf: Conf::None,
            accepts: "a number of seconds",
            shown: false,
            example: ("30", ""),
        }
        /// A persistent session whose owner node is dead (its key in etcd
        /// names a node that is not alive): `refuse` (CONNACK 0x88 Server
        /// unavailable, 3.x 0x03, until that node comes back) or `fresh`
        /// (a new session here, Session Present 0). Default `refuse`.
        orphan_sessions: hornet_core::OrphanSessions =
            hornet_core::OrphanSessions::Refuse => kinds::Orphans {
            conf: Conf::None,
            accepts: "refuse or fresh",
            shown: false,
            example: ("\"fresh\"", ""),
        }
        /// Whether node links use TLS: each end presents `certfile` and
        /// verifies the other's certificate against `cafile` (both ways;
        /// the dialing end checks the name it dials, `advertise`'s host,
        /// too). Default false (plain TCP).
        tls: bool = false => kinds::Bool {
            conf: Conf::None,
            accepts: "true or false",
            shown: false,
            example: ("true", ""),
        }
        /// With `tls`: this node's certificate chain (PEM; for serverAuth
        /// and clientAuth, naming `advertise`'s host). Default none.
        certfile: Option<String> = None => kinds::Text {
            conf: Conf::None,
            accepts: "a file path",
            shown: false,
            example: ("\"/etc/hornet/n1.crt\"", ""),
        }
        /// With `tls`: the private key (PEM) of `certfile`. Default none.
        keyfile: Option<String> = None => kinds::Text {
            conf: Conf::None,
            accepts: "a file path",
            shown: false,
            example: ("\"/etc/hornet/n1.key\"", ""),
        }
        /// With `tls`: the CA certificates (PEM) the other nodes'
        /// certificates are verified against. Default none.
        cafile: Option<String> = None => kinds::Text {
            conf: Conf::None,
            accepts: "a file path",
            shown: false,
            example: ("\"/etc/hornet/cluster-ca.crt\"", ""),
        }
    }
}

/// The top-level and `[log]` rows: fields of [`Config`] and [`super::Log`]
/// that are not generated here.
static OTHERS: &[Spec] = &[
    spec!(
        "allow_anonymous", Top, [allow_anonymous], super::AllowAnonymous, kinds::Anonymous,
        toml_by_hand: false, conf: Conf::Hand("allow_anonymous"), accepts: "true or false",
        shown: false, example: ("true", "true"),
        core: [|s, v| {
            s.anonymous = match v {
                super::AllowAnonymous::Loopback => hornet_core::Anonymous::Loopback,
                super::AllowAnonymous::Always => hornet_core::Anonymous::Always,
                super::AllowAnonymous::Never => hornet_core::Anonymous::Never,
            }
        }],
        doc: "Who may connect without a username. Default loopback only."
    ),
    spec!(
        "sys_interval", Top, [sys_interval], u64, kinds::SecsOrOff,
        toml_by_hand: false, conf: Conf::Key("sys_interval"),
        accepts: "0 (no $SYS) or a number of seconds", shown: true, example: ("30", "30"),
        core: [|s, v| s.sys_interval = (*v > 0).then(|| std::time::Duration::from_secs(*v))],
        doc: "Seconds between `$SYS` updates; 0 disables `$SYS`. Default 10."
    ),
    spec!(
        "verbose", Log, [log.verbose], bool, kinds::Bool,
        toml_by_hand: false, conf: Conf::None, accepts: "true or false",
        shown: false, example: ("true", ""),
        core: [],
        doc: "Packet-level lines (mosquitto.conf: `log_type debug`, or `-v`)."
    ),
    spec!(
        "connection_messages", Log, [log.connection_messages], bool, kinds::Bool,
        toml_by_hand: false, conf: Conf::Key("connection_messages"), accepts: "true or false",
        shown: false, example: ("false", "false"),
        core: [|s, v| s.connection_messages = *v],
        doc: "Log each client connection and disconnection. Default true."
    ),
    spec!(
        "pid_file", Top, [pid_file], Option<String>, kinds::Text,
        toml_by_hand: false, conf: Conf::Key("pid_file"), accepts: "a file path",
        shown: false, example: ("\"/run/hornet.pid\"", "/run/hornet.pid"),
        core: [],
        doc: "Where the process id is written at start and removed at exit. Default none."
    ),
    spec!(
        "user", Top, [user], Option<String>, kinds::Text,
        toml_by_hand: false, conf: Conf::Key("user"), accepts: "a user name",
        shown: false, example: ("\"mosquitto\"", "mosquitto"),
        core: [],
        doc: "The user to run as after binding the listeners, when started as root."
    ),
    spec!(
        "dest", Log, [log.dests], Vec<super::LogDest>, kinds::LogDests,
        toml_by_hand: false, conf: Conf::Hand("log_dest"),
        accepts: "stdout, stderr, file PATH, syslog, topic or none",
        shown: false, example: ("[\"stdout\"]", "stdout"),
        core: [],
        doc: "Where log lines go (repeatable in mosquitto.conf). Default stderr."
    ),
    spec!(
        "timestamp", Log, [log.timestamp], bool, kinds::Bool,
        toml_by_hand: false, conf: Conf::Key("log_timestamp"), accepts: "true or false",
        shown: false, example: ("false", "false"),
        core: [],
        doc: "Whether each log line starts with a time stamp. Default true."
    ),
    spec!(
        "timestamp_format", Log, [log.timestamp_format], Option<String>, kinds::Text,
        toml_by_hand: false, conf: Conf::Hand("log_timestamp_format"),
        accepts: "strftime codes", shown: false,
        example: ("\"%Y-%m-%dT%H:%M:%S\"", "%Y-%m-%dT%H:%M:%S"),
        core: [],
        doc: "The time stamp in strftime codes (UTC). Default the Unix time, as Mosquitto."
    ),
    spec!(
        "facility", Log, [log.facility], Option<u8>, kinds::Facility,
        toml_by_hand: false, conf: Conf::Key("log_facility"), accepts: "0 to 7",
        shown: false, example: ("3", "3"),
        core: [],
        doc: "The syslog facility LOG_LOCAL0 to LOG_LOCAL7 (0 to 7). Default LOG_DAEMON."
    ),
    spec!(
        "types", Log, [log.types], Vec<String>, kinds::LogTypes,
        toml_by_hand: true, conf: Conf::Hand("log_type"), accepts: "a log type",
        shown: false, example: ("[\"error\"]", "error"),
        core: [],
        doc: "Mosquitto `log_type` values as given."
    ),
];

/// Every declared setting: `[limits]`, `[mqtt]`, then the top level and
/// `[log]` (the order of `hornet check-config`'s rows).
pub fn all() -> impl Iterator<Item = &'static Spec> {
    LIMITS.iter().chain(MQTT).chain(OTHERS).chain(CLUSTER)
}

/// The setting named `name` (its hornet.toml key) in `section`.
pub fn find(section: Section, name: &str) -> Option<&'static Spec> {
    all().find(|s| s.section == section && s.name == name)
}

/// The setting named `name`, whatever its section (names are unique).
pub fn named(name: &str) -> Option<&'static Spec> {
    all().find(|s| s.name == name)
}

/// The setting a mosquitto.conf `key` sets through the table (not the keys
/// `mosquitto.rs` reads by hand).
pub(crate) fn by_conf_key(key: &str) -> Option<&'static Spec> {
    all().find(|s| matches!(s.conf, Conf::Key(k) if k == key))
}

/// The core settings a configuration asks for, with the wording of the
/// files' spellings for hints.
pub fn core_settings(config: &Config) -> Settings {
    let mut settings = Settings::default();
    for spec in all() {
        (spec.to_core)(config, &mut settings);
    }
    // A bridge's outbox is its local session's queue: its own limits.
    let unlimited = |n: usize| if n == 0 { usize::MAX } else { n };
    for b in &config.bridges {
        if b.max_queued_messages.is_some() || b.max_queued_bytes.is_some() {
            settings.queue_limits.insert(
                b.local_client_id(),
                hornet_core::QueueLimits {
                    max_messages: b.max_queued_messages.map(unlimited),
                    max_bytes: b.max_queued_bytes.map(unlimited),
                    owner: format!("bridge {}", b.name),
                },
            );
        }
    }
    settings.wording = Wording::new(super::wording::FileWording);
    settings
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn toml_text(spec: &Spec, value: &str) -> String {
        match spec.section {
            Section::Top => format!("{} = {value}\n", spec.name),
            // A `[cluster]` table needs its node's name.
            Section::Cluster if spec.name != "node" => {
                format!("[cluster]\nnode = \"n0\"\n{} = {value}\n", spec.name)
            }
            s => format!("[{}]\n{} = {value}\n", s.name(), spec.name),
        }
    }

    /// Every declared setting, set to its example in hornet.toml and (where
    /// it has a spelling) in mosquitto.conf, is read by the loaders, printed
    /// by the effective-TOML printer (which reads back the same), shown by
    /// check-config if listed, and reaches the core if declared to.
    #[test]
    fn every_declared_setting_round_trips_through_both_loaders_and_the_printer() {
        let defaults = Config::default();
        let mut count = 0;
        for spec in all() {
            count += 1;
            let name = spec.name;
            let (toml_example, conf_example) = spec.example;
            let expected: Value = toml::from_str::<toml::Table>(&format!("v = {toml_example}"))
                .unwrap_or_else(|e| panic!("{name}: example {toml_example}: {e}"))
                .remove("v")
                .unwrap();
            assert_ne!(
                spec.to_toml(&defaults).as_ref(),
                Some(&expected),
                "{name}: the example must not be the default"
            );

            let text = toml_text(spec, toml_example);
            let loaded = crate::config::parse_toml(&text, Path::new("hornet.toml"))
                .unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
            let from_toml = loaded.config;
            assert_eq!(
                spec.to_toml(&from_toml).as_ref(),
                Some(&expected),
                "{name}: the TOML loader does not set it\n{text}"
            );

            // The printer writes it, and what it writes reads back the same.
            let printed = crate::cli::effective_toml::render(&from_toml);
            let reread = crate::config::parse_toml(&printed, Path::new("hornet.toml"))
                .unwrap_or_else(|e| panic!("{name}: {e}\n{printed}"))
                .config;
            assert_eq!(
                spec.to_toml(&reread).as_ref(),
                Some(&expected),
                "{name}: the printer loses it\n{printed}"
            );
            // Everything else reads back too (the printer also writes the
            // binary's persistence defaults).
            let mut expected_config = from_toml.clone();
            expected_config.apply_binary_defaults();
            expected_config.persistence.location = Some(expected_config.persistence.dir());
            assert_eq!(reread, expected_config, "{name}\n{printed}");

            if let Some(key) = spec.conf.key() {
                let text = format!("{key} {conf_example}\n");
                let loaded = crate::config::parse_mosquitto(&text, Path::new("m.conf"))
                    .unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
                assert!(loaded.warnings.is_empty(), "{name}: {:?}", loaded.warnings);
                assert_eq!(
                    spec.to_toml(&loaded.config).as_ref(),
                    Some(&expected),
                    "{name}: the mosquitto.conf loader does not set it from `{text}`"
                );
                let mut same = from_toml.clone();
                same.source = loaded.config.source.clone();
                if key == "max_inflight_messages" {
                    // In mosquitto.conf it is also the Receive Maximum, as
                    // in Mosquitto (mosquitto.rs).
                    same.mqtt.receive_maximum = same.limits.max_inflight_messages;
                }
                assert_eq!(loaded.config, same, "{name}: {text}");
            }

            if spec.shown {
                assert_ne!(
                    spec.show(&from_toml),
                    spec.show(&defaults),
                    "{name}: shown the same as the default"
                );
                let row = crate::describe::settings(&from_toml)
                    .into_iter()
                    .find(|s| s.key == name)
                    .unwrap_or_else(|| panic!("{name}: no check-config row"));
                assert!(!row.default, "{name}");
            }
            let core = core_settings(&from_toml);
            let default_core = core_settings(&defaults);
            assert_eq!(
                core != default_core,
                spec.reaches_core,
                "{name}: declared to reach the core: {}",
                spec.reaches_core
            );
        }
        assert_eq!(
            count,
            LIMITS.len() + MQTT.len() + OTHERS.len() + CLUSTER.len()
        );
    }

    /// The top-level fields of `{:#?}` output: name and value text.
    fn fields(debug: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for line in debug.lines().skip(1) {
            let top = line.strip_prefix("    ").filter(|l| !l.starts_with(' '));
            match top.and_then(|l| l.split_once(": ")) {
                Some((name, value)) => out.push((name.to_string(), value.to_string())),
                None => {
                    if let Some((_, value)) = out.last_mut() {
                        value.push_str(line);
                    }
                }
            }
        }
        out
    }

    /// Every field of the core's `Settings` is set by some declared
    /// setting (but the few the shell does not take from a file), so a
    /// core setting added without its row's `core:` fails here.
    #[test]
    fn every_core_setting_comes_from_a_declared_setting() {
        // `queue_limits` comes from `[[bridge]]` sections (bridge.rs),
        // tested below.
        let not_from_files = [
            "version",
            "max_unwritten_packets",
            "wording",
            "queue_limits",
        ];
        let defaults = fields(&format!("{:#?}", core_settings(&Config::default())));
        assert!(defaults.len() > 30, "{defaults:?}");
        let mut set: Vec<String> = Vec::new();
        for spec in all().filter(|s| s.reaches_core) {
            let text = toml_text(spec, spec.example.0);
            let config = crate::config::parse_toml(&text, Path::new("hornet.toml"))
                .unwrap()
                .config;
            let changed = fields(&format!("{:#?}", core_settings(&config)));
            for ((name, value), (_, default)) in changed.into_iter().zip(&defaults) {
                if &value != default {
                    set.push(name);
                }
            }
        }
        for (name, _) in &defaults {
            assert!(
                set.contains(name) || not_from_files.contains(&name.as_str()),
                "Settings::{name} is not set by any setting declared in schema.rs"
            );
        }
    }

    #[test]
    fn a_bridges_outbox_limits_reach_the_core_as_its_local_sessions() {
        let conf = "max_queued_messages 50\nconnection b1\naddress h\ntopic a out\nlocal_clientid b1-local\n\
                    bridge_max_queued_bytes 0\nconnection b2\naddress h\ntopic a out\nlocal_clientid b2-local\n\
                    bridge_max_queued_messages 7\n";
        let config = crate::config::parse_mosquitto(conf, Path::new("m.conf"))
            .unwrap()
            .config;
        let s = core_settings(&config);
        let b1 = &s.queue_limits["b1-local"];
        assert_eq!((b1.max_messages, b1.max_bytes), (None, Some(usize::MAX)));
        let b2 = &s.queue_limits["b2-local"];
        assert_eq!((b2.max_messages, b2.owner.as_str()), (Some(7), "bridge b2"));
    }

    #[test]
    fn names_and_mosquitto_keys_are_unique() {
        let names: Vec<&str> = all().map(|s| s.name).collect();
        let keys: Vec<&str> = all().filter_map(|s| s.conf.key()).collect();
        for list in [&names, &keys] {
            let mut sorted = list.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len(), "{list:?}");
        }
        assert_eq!(
            named("topic_alias_maximum").unwrap().conf_spelling("5"),
            Some("`max_topic_alias 5`".to_string())
        );
        assert_eq!(
            named("max_queued_messages").unwrap().toml_spelling("5"),
            "`[limits] max_queued_messages = 5`"
        );
    }

    /// Each setting is in the user's reference under one of its spellings
    /// (the shared subscription keys are in docs/mqtt5.md).
    #[test]
    fn every_setting_is_documented() {
        let docs = [
            include_str!("../../../../docs/configuration.md"),
            include_str!("../../../../docs/mqtt5.md"),
        ];
        let documented = |key: &str| docs.iter().any(|d| d.contains(&format!("`{key}")));
        for spec in all() {
            assert!(!spec.doc.trim().is_empty(), "{}: no doc line", spec.name);
            assert!(
                documented(spec.name) || spec.conf.key().is_some_and(documented),
                "{}: in neither docs/configuration.md nor docs/mqtt5.md",
                spec.name
            );
        }
    }

    #[test]
    fn core_settings_are_the_defaults_for_the_default_config() {
        let s = core_settings(&Config::default());
        assert_eq!(s, Settings::default());
        // The wording is the shell's, for the hints.
        assert_eq!(
            format!("{:?}", s.wording),
            "Wording(shell)",
            "the core gets the files' spellings"
        );
    }
}
