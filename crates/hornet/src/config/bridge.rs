//! Outgoing bridges (Mosquitto's `connection` blocks, hornet.toml's
//! `[[bridge]]`): the model, every key declared once in [`KEYS`] with
//! whether Hornet honours it (and why not), and [`Bridge::set`], which
//! reads one key from its words. Both loaders go through `set`: the
//! mosquitto.conf reader with the words of the line, the TOML loader with
//! a value turned into the same words, so both accept exactly the same.
//!
//! Bridge keys are per section, like listeners, so they are not rows of
//! `schema.rs` (see its module doc).

use std::path::PathBuf;
use std::time::Duration;

use super::bridge_topic::BridgeTopic;

/// Whether Hornet acts on a bridge key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Read and honoured.
    Honoured,
    /// Read; the bridge runs without it (check-config says why).
    NotYet(&'static str),
    /// Read; a bridge with this key is not started (it would connect in a
    /// way the file did not ask for).
    Blocks(&'static str),
}

/// One bridge key.
#[derive(Debug)]
pub struct Key {
    /// The mosquitto.conf (and `[[bridge]]`) spelling.
    pub name: &'static str,
    /// What it does.
    pub doc: &'static str,
    /// Whether Hornet honours it.
    pub status: Status,
}

macro_rules! keys {
    ($($name:literal => $status:expr, $doc:literal;)*) => {
        /// Every bridge key of Mosquitto 2.0/2.1, in the order of its man
        /// page, then Hornet's own (Mosquitto has no per-bridge queue limit:
        /// its bridges share the per-client `max_queued_messages`).
        pub const KEYS: &[Key] = &[$(Key { name: $name, doc: $doc, status: $status },)*];
    };
}

use Status::Honoured;

keys! {
    "connection" => Honoured, "Starts a bridge section and names the bridge.";
    "address" => Honoured, "host[:port] of the remote (1883 by default); several on one line or repeated are tried in turn.";
    "addresses" => Honoured, "Same as address.";
    "round_robin" => Honoured, "false (default): the first address is the main one, tried again every restart_timeout base seconds while connected to another, and returned to once it takes a connection; true: all are equal.";
    "topic" => Honoured, "pattern [[[out|in|both] qos] local-prefix remote-prefix]: what crosses, with Mosquitto's prefix rules.";
    "bridge_protocol_version" => Honoured, "mqttv31, mqttv311 (default) or mqttv50.";
    "cleansession" => Honoured, "Clean session on the remote (default false).";
    "local_cleansession" => Honoured, "Clean session of the bridge's local side (default: cleansession).";
    "remote_clientid" => Honoured, "Client id on the remote (default hostname.connection).";
    "clientid" => Honoured, "Same as remote_clientid.";
    "local_clientid" => Honoured, "Client id of the bridge's local side (default local.hostname.connection).";
    "remote_username" => Honoured, "User name on the remote.";
    "username" => Honoured, "Same as remote_username.";
    "remote_password" => Honoured, "Password on the remote.";
    "password" => Honoured, "Same as remote_password.";
    "local_username" => Honoured, "User name of the bridge's local side (checked like a client's, and used by the ACL).";
    "local_password" => Honoured, "Password of the bridge's local side.";
    "notifications" => Honoured, "Publish the bridge's state, retained 1/0 (default true).";
    "notifications_local_only" => Honoured, "Only locally, not on the remote (default false).";
    "notification_topic" => Honoured, "Where (default $SYS/broker/connection/<remote_clientid>/state).";
    "try_private" => Honoured, "Announce a bridge to the remote (protocol level | 0x80) so it does not echo (default true).";
    "keepalive_interval" => Honoured, "Keep alive on the remote, seconds (default 60).";
    "restart_timeout" => Honoured, "base [cap]: seconds before reconnecting; with a cap, backoff from base up to cap (default 5 30).";
    "start_type" => Honoured, "automatic (default: connect at start, reconnect after restart_timeout), lazy (connect when threshold messages wait, disconnect after idle_timeout) or once (connect at start, never reconnect).";
    "idle_timeout" => Honoured, "lazy bridges: seconds with nothing to send before disconnecting (default 60).";
    "threshold" => Honoured, "lazy bridges: messages waiting for the remote that start the connection (default 10).";
    "bridge_attempt_unsubscribe" => Honoured, "UNSUBSCRIBE on the remote from out-only topics at connect (default true).";
    "bridge_outgoing_retain" => Honoured, "Keep RETAIN on messages sent to the remote (default true).";
    "bridge_max_packet_size" => Honoured, "Largest packet accepted from the remote, bytes (0: no limit).";
    "bridge_bind_address" => Honoured, "Local address the connection to the remote is made from.";
    "bridge_cafile" => Honoured, "CA certificates to verify the remote (PEM); with it or bridge_capath the bridge uses TLS.";
    "bridge_capath" => Honoured, "A directory of CA certificates (PEM files).";
    "bridge_certfile" => Honoured, "Client certificate chain for the remote (PEM).";
    "bridge_keyfile" => Honoured, "The client certificate's key (PEM).";
    "bridge_insecure" => Honoured, "Do not check the remote's host name (its certificate must still chain to the CA).";
    "bridge_tls_version" => Honoured, "tlsv1.2 or tlsv1.3 only (default: both).";
    "bridge_alpn" => Honoured, "ALPN protocol to offer.";
    "bridge_identity" => Honoured, "TLS-PSK identity; with bridge_psk the bridge uses TLS-PSK (not with certificate keys).";
    "bridge_psk" => Honoured, "TLS-PSK key, hexadecimal without 0x; goes with bridge_identity.";
    "bridge_max_queued_messages" => Honoured, "Hornet only: the bridge's outbox, messages queued for the remote beyond those in flight (0: no limit; default max_queued_messages); drops counted in the bridge's dropped and logged with the queue policy.";
    "bridge_max_queued_bytes" => Honoured, "Hornet only: payload bytes in the bridge's outbox (0: no limit; default max_queued_bytes).";
}

/// The declaration of `name`, if it is a bridge key.
pub fn key(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// `start_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartType {
    /// Connect at start and reconnect after `restart_timeout`.
    Automatic,
    /// Connect when `threshold` messages wait; disconnect after
    /// `idle_timeout` seconds with nothing to send.
    Lazy,
    /// Connect at start; never reconnect.
    Once,
}

/// `bridge_protocol_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeProtocol {
    /// mqttv31.
    V31,
    /// mqttv311.
    V311,
    /// mqttv50.
    V5,
}

/// One outgoing bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    /// `connection NAME`.
    pub name: String,
    /// Where it was declared, for messages.
    pub file: PathBuf,
    /// Its `connection` line.
    pub line: usize,
    /// `address`/`addresses`, in order: (host, port).
    pub addresses: Vec<(String, u16)>,
    /// `round_robin`.
    pub round_robin: bool,
    /// `topic` lines.
    pub topics: Vec<BridgeTopic>,
    /// `bridge_protocol_version`.
    pub protocol: BridgeProtocol,
    /// `cleansession`.
    pub clean_session: bool,
    /// `local_cleansession`; `None`: as `clean_session`.
    pub local_clean_session: Option<bool>,
    /// `remote_clientid` / `clientid`.
    pub remote_clientid: Option<String>,
    /// `local_clientid`.
    pub local_clientid: Option<String>,
    /// `remote_username` / `username`.
    pub remote_username: Option<String>,
    /// `remote_password` / `password`.
    pub remote_password: Option<String>,
    /// `local_username`.
    pub local_username: Option<String>,
    /// `local_password`.
    pub local_password: Option<String>,
    /// `notifications`.
    pub notifications: bool,
    /// `notifications_local_only`.
    pub notifications_local_only: bool,
    /// `notification_topic`.
    pub notification_topic: Option<String>,
    /// `try_private`.
    pub try_private: bool,
    /// `keepalive_interval`, seconds.
    pub keepalive: u16,
    /// `restart_timeout` base, seconds.
    pub restart_base: u64,
    /// `restart_timeout` cap, seconds (`None`: constant base).
    pub restart_cap: Option<u64>,
    /// `start_type`.
    pub start_type: StartType,
    /// `idle_timeout`, seconds.
    pub idle_timeout: u64,
    /// `threshold`.
    pub threshold: u32,
    /// `bridge_attempt_unsubscribe`.
    pub attempt_unsubscribe: bool,
    /// `bridge_outgoing_retain`.
    pub outgoing_retain: bool,
    /// `bridge_max_packet_size` (0: no limit).
    pub max_packet_size: u32,
    /// `bridge_bind_address`.
    pub bind_address: Option<std::net::IpAddr>,
    /// `bridge_cafile`.
    pub cafile: Option<PathBuf>,
    /// `bridge_capath`.
    pub capath: Option<PathBuf>,
    /// `bridge_certfile`.
    pub certfile: Option<PathBuf>,
    /// `bridge_keyfile`.
    pub keyfile: Option<PathBuf>,
    /// `bridge_insecure`.
    pub insecure: bool,
    /// `bridge_tls_version`.
    pub tls_version: Option<String>,
    /// `bridge_alpn`.
    pub alpn: Option<String>,
    /// `bridge_identity`.
    pub psk_identity: Option<String>,
    /// `bridge_psk`, as written (hexadecimal digits, checked).
    pub psk: Option<String>,
    /// `bridge_max_queued_messages` (Hornet only; `Some(0)`: no limit;
    /// `None`: the broker's `max_queued_messages`).
    pub max_queued_messages: Option<usize>,
    /// `bridge_max_queued_bytes` (Hornet only; `Some(0)`: no limit).
    pub max_queued_bytes: Option<usize>,
    /// Keys read and not honoured, with their line: (key, line, status).
    pub unhonoured: Vec<(&'static str, usize, Status)>,
    /// Every key as read, with its words, in file order (what
    /// `check-config --format toml` writes back).
    pub lines: Vec<(&'static str, Vec<String>)>,
}

impl Bridge {
    /// A bridge named `name` with Mosquitto's defaults.
    pub fn new(name: &str, file: PathBuf, line: usize) -> Bridge {
        Bridge {
            name: name.to_string(),
            file,
            line,
            addresses: Vec::new(),
            round_robin: false,
            topics: Vec::new(),
            protocol: BridgeProtocol::V311,
            clean_session: false,
            local_clean_session: None,
            remote_clientid: None,
            local_clientid: None,
            remote_username: None,
            remote_password: None,
            local_username: None,
            local_password: None,
            notifications: true,
            notifications_local_only: false,
            notification_topic: None,
            try_private: true,
            keepalive: 60,
            restart_base: 5,
            restart_cap: Some(30),
            start_type: StartType::Automatic,
            idle_timeout: 60,
            threshold: 10,
            attempt_unsubscribe: true,
            outgoing_retain: true,
            max_packet_size: 0,
            bind_address: None,
            cafile: None,
            capath: None,
            certfile: None,
            keyfile: None,
            insecure: false,
            tls_version: None,
            alpn: None,
            psk_identity: None,
            psk: None,
            max_queued_messages: None,
            max_queued_bytes: None,
            unhonoured: Vec::new(),
            lines: Vec::new(),
        }
    }

    /// The client id on the remote: `remote_clientid`, or Mosquitto's
    /// default `hostname.connection`.
    pub fn remote_client_id(&self) -> String {
        self.remote_clientid
            .clone()
            .unwrap_or_else(|| format!("{}.{}", hostname(), self.name))
    }

    /// The client id of the local side: `local_clientid`, or Mosquitto's
    /// default `local.hostname.connection`.
    pub fn local_client_id(&self) -> String {
        self.local_clientid
            .clone()
            .unwrap_or_else(|| format!("local.{}.{}", hostname(), self.name))
    }

    /// Where the state is published.
    pub fn notification_topic(&self) -> String {
        self.notification_topic
            .clone()
            .unwrap_or_else(|| format!("$SYS/broker/connection/{}/state", self.remote_client_id()))
    }

    /// The local side's clean session.
    pub fn local_clean(&self) -> bool {
        self.local_clean_session.unwrap_or(self.clean_session)
    }

    /// The wait before reconnect attempt `attempt` (0 = the first retry).
    pub fn restart_delay(&self, attempt: u32) -> Duration {
        let base = self.restart_base.max(1);
        let secs = match self.restart_cap {
            Some(cap) => base
                .saturating_mul(1u64 << attempt.min(16))
                .min(cap.max(base)),
            None => base,
        };
        Duration::from_secs(secs)
    }

    /// Why this bridge cannot be started as configured, if it cannot.
    pub fn blocked(&self) -> Option<String> {
        let blocking: Vec<&str> = self
            .unhonoured
            .iter()
            .filter(|(_, _, s)| matches!(s, Status::Blocks(_)))
            .map(|(k, _, _)| *k)
            .collect();
        let reason = self.unhonoured.iter().find_map(|(_, _, s)| match s {
            Status::Blocks(r) => Some(*r),
            _ => None,
        })?;
        Some(format!("{} ({})", reason, blocking.join(", ")))
    }

    /// Whether the bridge connects with TLS: as in Mosquitto, when
    /// `bridge_cafile` or `bridge_capath` is set.
    pub fn tls(&self) -> bool {
        self.cafile.is_some() || self.capath.is_some()
    }

    /// Whether the bridge connects with TLS-PSK: as in Mosquitto, when
    /// `bridge_identity` and `bridge_psk` are set.
    pub fn psk(&self) -> bool {
        self.psk_identity.is_some() && self.psk.is_some()
    }

    /// What is missing for the bridge to do anything, or what cannot go
    /// together.
    pub fn check(&self) -> Result<(), String> {
        // Mosquitto: "missing bridge_identity" / "missing bridge_psk".
        match (&self.psk_identity, &self.psk) {
            (Some(_), None) => {
                return Err(format!(
                    "bridge {:?}: bridge_identity needs bridge_psk (the key, in hexadecimal)",
                    self.name
                ))
            }
            (None, Some(_)) => {
                return Err(format!(
                    "bridge {:?}: bridge_psk needs bridge_identity",
                    self.name
                ))
            }
            _ => {}
        }
        let x509 = [
            ("bridge_cafile", self.cafile.is_some()),
            ("bridge_capath", self.capath.is_some()),
            ("bridge_certfile", self.certfile.is_some()),
            ("bridge_keyfile", self.keyfile.is_some()),
            ("bridge_insecure", self.insecure),
        ];
        if self.psk() {
            if let Some((key, _)) = x509.iter().find(|(_, set)| *set) {
                return Err(format!(
                    "bridge {:?}: {key}: cannot use both certificate and psk encryption in a \
                     single bridge",
                    self.name
                ));
            }
        }
        let tls_keys = [
            ("bridge_certfile", self.certfile.is_some(), false),
            ("bridge_keyfile", self.keyfile.is_some(), false),
            ("bridge_insecure", self.insecure, false),
            ("bridge_tls_version", self.tls_version.is_some(), true),
            ("bridge_alpn", self.alpn.is_some(), true),
        ];
        if let Some((key, _, psk_too)) = tls_keys.iter().find(|(_, set, _)| *set) {
            let covered = self.tls() || (*psk_too && self.psk());
            if !covered {
                return Err(format!(
                    "bridge {:?}: {key} needs bridge_cafile or bridge_capath (which turn TLS on)",
                    self.name
                ));
            }
        }
        if self.certfile.is_some() != self.keyfile.is_some() {
            return Err(format!(
                "bridge {:?}: bridge_certfile and bridge_keyfile go together",
                self.name
            ));
        }
        if self.addresses.is_empty() {
            return Err(format!(
                "bridge {:?} has no address: add `address HOST[:PORT]`",
                self.name
            ));
        }
        if self.topics.is_empty() {
            return Err(format!(
                "bridge {:?} has no topic: add e.g. `topic # out 1`",
                self.name
            ));
        }
        Ok(())
    }

    /// Reads one key (`key` is a bridge key: see [`key`]) from its words,
    /// at `line`.
    pub fn set(&mut self, key: &str, words: &[&str], line: usize) -> Result<(), String> {
        let decl = self::key(key).ok_or_else(|| format!("{key} is not a bridge key"))?;
        let one = || -> Result<&str, String> {
            match words {
                [w] => Ok(*w),
                [] => Err(format!("{key} needs a value")),
                _ => Err(format!("{key} takes one value, not {}", words.len())),
            }
        };
        let flag = || -> Result<bool, String> {
            match one()? {
                "true" => Ok(true),
                "false" => Ok(false),
                other => Err(format!("{key} must be true or false, not {other:?}")),
            }
        };
        match key {
            "address" | "addresses" => {
                if words.is_empty() {
                    return Err(format!("{key} needs HOST[:PORT]"));
                }
                for w in words {
                    self.addresses.push(parse_address(w)?);
                }
            }
            "round_robin" => self.round_robin = flag()?,
            "topic" => self.topics.push(BridgeTopic::parse(words)?),
            "bridge_protocol_version" => {
                self.protocol = match one()? {
                    "mqttv31" => BridgeProtocol::V31,
                    "mqttv311" => BridgeProtocol::V311,
                    "mqttv50" => BridgeProtocol::V5,
                    other => {
                        return Err(format!(
                    "bridge_protocol_version must be mqttv31, mqttv311 or mqttv50, not {other:?}"
                ))
                    }
                }
            }
            "cleansession" => self.clean_session = flag()?,
            "local_cleansession" => self.local_clean_session = Some(flag()?),
            "remote_clientid" | "clientid" => self.remote_clientid = Some(one()?.into()),
            "local_clientid" => self.local_clientid = Some(one()?.into()),
            "remote_username" | "username" => self.remote_username = Some(one()?.into()),
            "remote_password" | "password" => self.remote_password = Some(one()?.into()),
            "local_username" => self.local_username = Some(one()?.into()),
            "local_password" => self.local_password = Some(one()?.into()),
            "notifications" => self.notifications = flag()?,
            "notifications_local_only" => self.notifications_local_only = flag()?,
            "notification_topic" => {
                let t = one()?;
                hornet_codec::topic::validate_name(t)
                    .map_err(|e| format!("notification_topic {t:?}: {e}"))?;
                self.notification_topic = Some(t.into());
            }
            "try_private" => self.try_private = flag()?,
            "keepalive_interval" => {
                self.keepalive = number(key, one()?, "0 to 65535 seconds")?;
            }
            "restart_timeout" => match words {
                [base] => {
                    self.restart_base = number(key, base, "seconds")?;
                    self.restart_cap = None;
                }
                [base, cap] => {
                    self.restart_base = number(key, base, "seconds")?;
                    self.restart_cap = Some(number(key, cap, "seconds")?);
                }
                _ => return Err("restart_timeout takes BASE [CAP] (seconds)".into()),
            },
            "start_type" => {
                self.start_type = match one()? {
                    "automatic" => StartType::Automatic,
                    "lazy" => StartType::Lazy,
                    "once" => StartType::Once,
                    other => {
                        return Err(format!(
                            "start_type must be automatic, lazy or once, not {other:?}"
                        ))
                    }
                };
            }
            "idle_timeout" => self.idle_timeout = number(key, one()?, "seconds")?,
            "threshold" => self.threshold = number(key, one()?, "a number of messages")?,
            "bridge_attempt_unsubscribe" => self.attempt_unsubscribe = flag()?,
            "bridge_outgoing_retain" => self.outgoing_retain = flag()?,
            "bridge_max_packet_size" => {
                self.max_packet_size = number(key, one()?, "0 (no limit) or bytes")?;
            }
            "bridge_bind_address" => {
                let a = one()?;
                self.bind_address = Some(a.parse().map_err(|_| {
                    format!("bridge_bind_address must be an IP address, not {a:?}")
                })?);
            }
            "bridge_cafile" => self.cafile = Some(one()?.into()),
            "bridge_capath" => self.capath = Some(one()?.into()),
            "bridge_certfile" => self.certfile = Some(one()?.into()),
            "bridge_keyfile" => self.keyfile = Some(one()?.into()),
            "bridge_insecure" => self.insecure = flag()?,
            "bridge_tls_version" => {
                let v = one()?;
                if v != "tlsv1.2" && v != "tlsv1.3" {
                    return Err(format!(
                        "bridge_tls_version must be tlsv1.2 or tlsv1.3, not {v:?}"
                    ));
                }
                self.tls_version = Some(v.into());
            }
            "bridge_alpn" => self.alpn = Some(one()?.into()),
            "bridge_identity" => self.psk_identity = Some(one()?.into()),
            "bridge_psk" => {
                let key = one()?;
                let hex = !key.is_empty()
                    && key.len() % 2 == 0
                    && key.bytes().all(|b| b.is_ascii_hexdigit());
                if !hex {
                    return Err(format!(
                        "bridge_psk must be the key in hexadecimal digits (an even number, \
                         no 0x), not {key:?}"
                    ));
                }
                self.psk = Some(key.into());
            }
            "bridge_max_queued_messages" => {
                self.max_queued_messages = Some(number(key, one()?, "0 (no limit) or messages")?);
            }
            "bridge_max_queued_bytes" => {
                self.max_queued_bytes = Some(number(key, one()?, "0 (no limit) or bytes")?);
            }
            // The keys Hornet reads but cannot honour yet.
            _ => {
                if words.is_empty() {
                    return Err(format!("{key} needs a value"));
                }
            }
        }
        if decl.status != Status::Honoured {
            self.unhonoured.push((decl.name, line, decl.status));
        }
        self.lines
            .push((decl.name, words.iter().map(|w| w.to_string()).collect()));
        Ok(())
    }

    /// The settings alone, without where they were read (for comparing a
    /// bridge read from two files).
    pub fn settings(&self) -> Bridge {
        let mut b = self.clone();
        b.file = PathBuf::new();
        b.line = 0;
        for u in &mut b.unhonoured {
            u.1 = 0;
        }
        b
    }
}

fn number<T: std::str::FromStr>(key: &str, text: &str, accepts: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{key} must be {accepts}, not {text:?}"))
}

/// `host[:port]`, `[v6]:port` or a bare IPv6 address.
fn parse_address(word: &str) -> Result<(String, u16), String> {
    let bad = || format!("address must be HOST[:PORT], not {word:?}");
    if let Some(rest) = word.strip_prefix('[') {
        let (host, port) = rest.split_once(']').ok_or_else(bad)?;
        let port = match port.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if port.is_empty() => 1883,
            None => return Err(bad()),
        };
        return Ok((host.to_string(), port));
    }
    if word.matches(':').count() > 1 {
        return Ok((word.to_string(), 1883));
    }
    match word.split_once(':') {
        Some((host, port)) if !host.is_empty() => {
            Ok((host.to_string(), port.parse().map_err(|_| bad())?))
        }
        Some(_) => Err(bad()),
        None if word.is_empty() => Err(bad()),
        None => Ok((word.to_string(), 1883)),
    }
}

/// This machine's host name, for Mosquitto's default client ids.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "hornet".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bridge() -> Bridge {
        Bridge::new("b1", PathBuf::from("m.conf"), 1)
    }

    #[test]
    fn defaults_are_mosquittos() {
        let b = bridge();
        assert!(!b.clean_session && b.notifications && b.try_private);
        assert_eq!(
            (b.keepalive, b.restart_base, b.restart_cap),
            (60, 5, Some(30))
        );
        assert!(b.remote_client_id().ends_with(".b1"));
        assert!(b.local_client_id().starts_with("local."));
        assert_eq!(
            b.notification_topic(),
            format!("$SYS/broker/connection/{}/state", b.remote_client_id())
        );
    }

    #[test]
    fn addresses_and_ports() {
        let mut b = bridge();
        b.set("address", &["127.0.0.1:1884", "example.org"], 2)
            .unwrap();
        b.set("addresses", &["[::1]:1885"], 3).unwrap();
        assert_eq!(
            b.addresses,
            vec![
                ("127.0.0.1".into(), 1884),
                ("example.org".into(), 1883),
                ("::1".into(), 1885)
            ]
        );
        assert!(b.set("address", &["host:port"], 4).is_err());
        assert!(b.set("address", &[], 4).is_err());
    }

    #[test]
    fn restart_timeout_backs_off_to_its_cap() {
        let mut b = bridge();
        b.set("restart_timeout", &["2", "10"], 2).unwrap();
        let delays: Vec<u64> = (0..5).map(|a| b.restart_delay(a).as_secs()).collect();
        assert_eq!(delays, vec![2, 4, 8, 10, 10]);
        b.set("restart_timeout", &["3"], 3).unwrap();
        assert_eq!(b.restart_delay(7).as_secs(), 3);
    }

    #[test]
    fn every_key_is_honoured_psk_included() {
        assert!(KEYS.iter().all(|k| k.status == Status::Honoured));
        let mut b = bridge();
        b.set("idle_timeout", &["30"], 4).unwrap();
        b.set("start_type", &["lazy"], 4).unwrap();
        b.set("bridge_psk", &["deadBEEF"], 5).unwrap();
        b.set("bridge_identity", &["edge-1"], 6).unwrap();
        assert!(b.blocked().is_none() && b.unhonoured.is_empty());
        assert!(b.psk() && !b.tls());
    }

    #[test]
    fn psk_keys_go_together_and_not_with_certificates() {
        let mut b = bridge();
        b.set("address", &["h"], 2).unwrap();
        b.set("topic", &["a"], 3).unwrap();
        for bad in ["0xdeadbeef", "abc", "", "zz"] {
            assert!(b.set("bridge_psk", &[bad], 4).is_err(), "{bad:?}");
        }
        b.set("bridge_psk", &["00ff"], 4).unwrap();
        assert!(b
            .check()
            .unwrap_err()
            .contains("bridge_psk needs bridge_identity"));
        b.set("bridge_identity", &["id"], 5).unwrap();
        b.set("bridge_tls_version", &["tlsv1.2"], 6).unwrap();
        assert!(b.check().is_ok());
        b.set("bridge_cafile", &["ca.pem"], 7).unwrap();
        assert!(b
            .check()
            .unwrap_err()
            .contains("bridge_cafile: cannot use both certificate and psk"));
        let mut c = bridge();
        c.set("address", &["h"], 2).unwrap();
        c.set("topic", &["a"], 3).unwrap();
        c.set("bridge_identity", &["id"], 4).unwrap();
        assert!(c.check().unwrap_err().contains("needs bridge_psk"));
    }

    #[test]
    fn tls_keys_need_a_ca() {
        let mut b = bridge();
        b.set("address", &["h"], 2).unwrap();
        b.set("topic", &["a"], 3).unwrap();
        b.set("bridge_certfile", &["c.pem"], 4).unwrap();
        assert!(b.check().unwrap_err().contains("needs bridge_cafile"));
        b.set("bridge_cafile", &["ca.pem"], 5).unwrap();
        assert!(b.check().unwrap_err().contains("go together"));
        b.set("bridge_keyfile", &["k.pem"], 6).unwrap();
        assert!(b.tls() && b.check().is_ok());
        assert!(b.set("bridge_tls_version", &["tlsv1.1"], 7).is_err());
    }

    #[test]
    fn bad_values_name_the_key() {
        let mut b = bridge();
        assert!(b
            .set("cleansession", &["yes"], 2)
            .unwrap_err()
            .contains("cleansession"));
        assert!(b
            .set("bridge_protocol_version", &["mqttv6"], 2)
            .unwrap_err()
            .contains("mqttv50"));
        assert!(b.set("start_type", &["never"], 2).is_err());
        assert!(b.set("keepalive_interval", &["70000"], 2).is_err());
        assert!(b.set("notification_topic", &["a/#"], 2).is_err());
    }

    #[test]
    fn docs_list_every_key() {
        let docs = include_str!("../../../../docs/bridges.md");
        for k in KEYS {
            assert!(docs.contains(&format!("| `{}` |", k.name)), "{}", k.name);
        }
    }

    #[test]
    fn every_key_is_read() {
        for k in KEYS {
            let mut b = bridge();
            let words: &[&str] = match k.name {
                "address" | "addresses" => &["h:1"],
                "topic" => &["a"],
                "bridge_protocol_version" => &["mqttv50"],
                "restart_timeout"
                | "keepalive_interval"
                | "idle_timeout"
                | "threshold"
                | "bridge_max_packet_size"
                | "bridge_max_queued_messages"
                | "bridge_max_queued_bytes" => &["5"],
                "start_type" => &["automatic"],
                "bridge_bind_address" => &["127.0.0.1"],
                "bridge_tls_version" => &["tlsv1.3"],
                "bridge_psk" => &["00ff"],
                "notification_topic" => &["n/t"],
                n if n.ends_with("cleansession")
                    || n.starts_with("notifications")
                    || n == "try_private"
                    || n == "round_robin"
                    || n == "bridge_attempt_unsubscribe"
                    || n == "bridge_outgoing_retain"
                    || n == "bridge_insecure" =>
                {
                    &["true"]
                }
                _ => &["x"],
            };
            b.set(k.name, words, 1)
                .unwrap_or_else(|e| panic!("{}: {e}", k.name));
            assert_eq!(
                b.unhonoured.is_empty(),
                k.status == Status::Honoured,
                "{}",
                k.name
            );
        }
    }
}
