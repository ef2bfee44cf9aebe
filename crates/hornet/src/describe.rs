//! The effective configuration in words, shared by the startup banner
//! (`banner.rs`) and `hornet check-config`, so the two never disagree.
//!
//! Owns how a listener, the authentication and authorization setup, the
//! persistence mode and the admin API are described, and which limits
//! differ from their defaults; the limits' rows and values in words come
//! from the declaration table (`config/schema.rs`). Nothing here does I/O: the
//! callers pass what they learnt (bound addresses, user and rule counts).

use std::net::SocketAddr;

use crate::config::{self, AllowAnonymous, Config, Listener, ListenerKind};

/// What the `password_file` holds, once read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserCounts {
    /// Users in the file.
    pub users: usize,
    /// Of those, users with SCRAM-SHA-256 credentials.
    pub scram: usize,
}

/// What the `acl_file` holds, once read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AclCounts {
    /// Rules (topic and pattern lines).
    pub rules: usize,
    /// `user` sections.
    pub users: usize,
}

/// An anonymous policy in words.
pub fn anonymous_policy(allow: AllowAnonymous) -> &'static str {
    match allow {
        AllowAnonymous::Loopback => {
            "anonymous clients from loopback only (set allow_anonymous to accept the network)"
        }
        AllowAnonymous::Always => "anonymous clients from anywhere (allow_anonymous true)",
        AllowAnonymous::Never => "no anonymous clients (allow_anonymous false)",
    }
}

/// An address to listen on in words.
pub fn address(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() && addr.is_ipv6() {
        format!("all interfaces, IPv4 and IPv6, port {}", addr.port())
    } else if addr.ip().is_unspecified() {
        format!("all IPv4 interfaces, port {}", addr.port())
    } else {
        addr.to_string()
    }
}

/// The address a listener asks for (before binding): all interfaces, IPv4
/// and IPv6, without `bind_address`.
pub fn configured_addr(listener: &Listener) -> SocketAddr {
    let ip = listener
        .bind_address
        .unwrap_or(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
    SocketAddr::new(ip, listener.port)
}

/// A transport in words.
pub fn kind(kind: ListenerKind) -> &'static str {
    match kind {
        ListenerKind::Tcp => "MQTT",
        ListenerKind::Tls => "MQTT over TLS (tls)",
        ListenerKind::Ws => "MQTT over WebSocket (ws)",
        ListenerKind::Wss => "MQTT over secure WebSocket (wss)",
    }
}

/// One listener: `MQTT listener on all interfaces, ... [TLS mode] (limits):
/// anonymous policy`. `addr` is where it listens (the bound address in the
/// banner, [`configured_addr`] before binding).
pub fn listener(config: &Config, listener: &Listener, addr: SocketAddr) -> String {
    let mut what = address(addr);
    if listener.kind.is_websocket() {
        what = match &listener.path {
            Some(path) => format!("{what}, path {path}"),
            None => format!("{what}, any path"),
        };
    }
    let tls = match &listener.tls {
        Some(tls) if listener.kind.is_tls() => {
            format!(" [{}]", crate::server::describe_tls(tls))
        }
        _ => match &listener.psk {
            Some(psk) => format!(
                " [TLS-PSK, keys from {}{}]",
                psk.file.display(),
                if psk.identity_as_username {
                    ", the PSK identity is the user name"
                } else {
                    ""
                }
            ),
            None => String::new(),
        },
    };
    let anonymous = anonymous_policy(listener.allow_anonymous.unwrap_or(config.allow_anonymous));
    let mut limits = Vec::new();
    if let Some(n) = listener.max_connections {
        limits.push(format!("max_connections {n}"));
    }
    if let Some(n) = listener.max_connection_rate {
        limits.push(format!("max_connection_rate {n}/s"));
    }
    if let Some(m) = &listener.mount_point {
        limits.push(format!("mount_point {m}"));
    }
    let limits = if limits.is_empty() {
        String::new()
    } else {
        format!(" ({})", limits.join(", "))
    };
    format!(
        "{} listener on {what}{tls}{limits}: {anonymous}",
        kind(listener.kind)
    )
}

/// Authentication: the password file and what it holds.
pub fn authentication(config: &Config, users: Option<UserCounts>) -> String {
    match (&config.password_file, users) {
        (Some(path), Some(u)) => format!(
            "password_file {} with {} users ({} with SCRAM-SHA-256 credentials); user names and \
             passwords are checked, enhanced authentication offers SCRAM-SHA-256.",
            path.display(),
            u.users,
            u.scram
        ),
        (Some(path), None) => format!("password_file {}.", path.display()),
        (None, _) => "no password_file, so user names are not checked (clients with one count \
                      as anonymous) and enhanced authentication is not offered."
            .to_string(),
    }
}

/// Why anonymous clients are refused when it is Mosquitto 2.0's rule, not
/// a setting the file states.
pub fn anonymous_rule(config: &Config) -> Option<String> {
    config.anonymous_by_mosquitto_rule.then(|| {
        "anonymous clients are refused: this mosquitto.conf declares listeners and does not \
         set allow_anonymous, which Mosquitto 2.0 reads as false. Add `allow_anonymous true` \
         to let clients without a user name connect."
            .to_string()
    })
}

/// Authorization: the ACL file and what it holds.
pub fn authorization(config: &Config, acl: Option<AclCounts>) -> String {
    match (&config.acl_file, acl) {
        (Some(path), counts) => {
            let counts = counts
                .map(|c| format!(" with {} rules ({} user sections)", c.rules, c.users))
                .unwrap_or_default();
            format!(
                "acl_file {}{counts} (topic access is checked on SUBSCRIBE, PUBLISH and every \
                 delivery; SIGHUP reloads it and the password_file).",
                path.display()
            )
        }
        (None, _) => "no acl_file, so every client may use every topic.".to_string(),
    }
}

/// Persistence: on (data directory, fsync mode) or off.
pub fn persistence(config: &Config) -> String {
    let p = &config.persistence;
    if p.enabled != Some(true) {
        return "off: state is kept in memory, so sessions and retained messages do not survive \
                a restart."
            .to_string();
    }
    let when = match p.fsync {
        config::FsyncMode::Fsync => {
            "acknowledgements of QoS 1/2 messages wait for fsync (group commit)".to_string()
        }
        config::FsyncMode::Interval => format!(
            "acknowledgements do not wait; fsync at most every {} ms",
            p.fsync_interval_ms
        ),
        config::FsyncMode::None => {
            "acknowledgements do not wait and the store never syncs".to_string()
        }
    };
    format!(
        "data directory {} (fsync {}): {when}.",
        p.dir().display(),
        p.fsync.name()
    )
}

/// The admin API: where (`addr`, the bound one in the banner) and who may use it.
pub fn admin(config: &Config, addr: Option<SocketAddr>) -> String {
    let a = &config.admin;
    if !a.enabled {
        return "off (admin_enabled false / [admin] enabled = false).".to_string();
    }
    let addr = addr.unwrap_or(SocketAddr::new(a.bind, a.port));
    let scheme = if a.tls() { "https" } else { "http" };
    let mut ways = Vec::new();
    if a.token.is_some() {
        ways.push("admin token".to_string());
    }
    if !a.users.is_empty() {
        ways.push(format!("admin users {}", a.users.join(", ")));
    }
    if a.read_token.is_some() {
        ways.push("read-only token".to_string());
    }
    if !a.read_users.is_empty() {
        ways.push(format!("read-only users {}", a.read_users.join(", ")));
    }
    if a.metrics_token.is_some() {
        ways.push("metrics token for /metrics".to_string());
    }
    let access = if !ways.is_empty() {
        format!("credentials required: {}", ways.join("; "))
    } else if a.unguarded(config).is_some() {
        "LOCKED: MQTT clients must authenticate and no admin credentials are configured; set \
         [admin] token or users (admin_token, admin_user)"
            .to_string()
    } else if a.allow_unauthenticated {
        "NO CREDENTIALS (allow_unauthenticated): anyone on this machine has the admin role"
            .to_string()
    } else {
        "no credentials: loopback only".to_string()
    };
    format!("Admin API, /metrics and dashboard on {scheme}://{addr}/ ({access}).")
}

/// One limit or protocol setting with its effective value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The TOML section (`limits`, `mqtt`) or `""` for the top level.
    pub section: &'static str,
    /// The key, as in hornet.toml (mosquitto.conf uses the same name unless noted).
    pub key: &'static str,
    /// The value in words (`unlimited`, `1048576`, ...).
    pub value: String,
    /// Whether the value is the default.
    pub default: bool,
}

/// Every limit and protocol setting, with its value and whether it is the
/// default, in the order of `docs/configuration.md`.
pub fn settings(config: &Config) -> Vec<Setting> {
    let values = setting_values(config);
    let defaults = setting_values(&Config::default());
    values
        .into_iter()
        .zip(defaults)
        .map(|((section, key, value), (_, _, default))| Setting {
            section,
            key,
            default: value == default,
            value,
        })
        .collect()
}

type Value = (&'static str, &'static str, String);

/// The declared settings that are listed, in the table's order
/// (`config/schema.rs`), with their values in words.
fn setting_values(config: &Config) -> Vec<Value> {
    config::schema::all()
        .filter(|s| s.shown)
        .map(|s| (s.section.name(), s.name, s.show(config)))
        .collect()
}

/// The limits in two banner lines' worth: those set in the configuration,
/// then the defaults.
pub fn limits_summary(config: &Config) -> (Vec<String>, Vec<String>) {
    let mut set = Vec::new();
    let mut defaults = Vec::new();
    for s in settings(config) {
        let text = format!("{} {}", s.key, s.value);
        if s.default {
            defaults.push(text);
        } else {
            set.push(text);
        }
    }
    (set, defaults)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_marked_and_changes_are_not() {
        let mut config = Config::default();
        assert!(settings(&config).iter().all(|s| s.default));
        config.limits.max_queued_messages = 10;
        config.limits.max_queued_bytes = 4096;
        config.limits.max_packet_size = config::PROTOCOL_MAX_PACKET_SIZE;
        let s = settings(&config);
        let changed: Vec<_> = s.iter().filter(|s| !s.default).collect();
        assert_eq!(changed.len(), 3, "{changed:?}");
        let q = s.iter().find(|s| s.key == "max_queued_messages").unwrap();
        assert_eq!(q.value, "10");
        let p = s.iter().find(|s| s.key == "max_packet_size").unwrap();
        assert_eq!(p.value, "268435455 (protocol maximum)");
        let (set, defaults) = limits_summary(&config);
        assert_eq!(set.len(), 3);
        assert!(defaults.contains(&"max_inflight_messages 20".to_string()));
        assert!(defaults.contains(&"max_connections unlimited".to_string()));
    }

    #[test]
    fn listeners_in_words() {
        let config = Config::default();
        let l = &config.listeners[0];
        assert_eq!(
            listener(&config, l, configured_addr(l)),
            "MQTT listener on all interfaces, IPv4 and IPv6, port 1883: anonymous clients \
             from loopback only (set allow_anonymous to accept the network)"
        );
        let mut ws = Listener::tcp(8083, Some("127.0.0.1".parse().unwrap()));
        ws.kind = ListenerKind::Ws;
        ws.max_connections = Some(5);
        ws.allow_anonymous = Some(AllowAnonymous::Never);
        assert_eq!(
            listener(&config, &ws, configured_addr(&ws)),
            "MQTT over WebSocket (ws) listener on 127.0.0.1:8083, any path \
             (max_connections 5): no anonymous clients (allow_anonymous false)"
        );
    }
}
