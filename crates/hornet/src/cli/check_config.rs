//! `hornet check-config FILE`: validates a configuration as far as the
//! broker would at start, without binding a port or opening the store, and
//! prints the effective settings.
//!
//! Owns [`check`] (load the file with the broker's loaders, then read the
//! `password_file`, `acl_file` and every TLS listener's certificate files as
//! the server would, check the data directory can be created and written,
//! and that no two sockets clash) and the report it prints: listeners,
//! authentication, authorization, persistence, admin API, every limit with
//! its value and whether it is the default (in the words of
//! [`crate::describe`], shared with the startup banner), then every ignored
//! key with its `file:line`. Errors go to stderr as `file:line: reason`,
//! and the exit code is 3, the broker's own for a configuration error.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::config::{self, Config, ConfigError, Listener};
use crate::describe::{self, AclCounts, UserCounts};

/// The `check-config` examples in `--help`.
pub const EXAMPLES: &str = "\
Examples:
  hornet check-config /etc/hornet/hornet.toml
  hornet check-config /etc/mosquitto/mosquitto.conf    what Hornet would run, and what it ignores
  hornet check-config mosquitto.conf --format toml > hornet.toml    migrate to Hornet's format

Exit status: 0 when Hornet would start with the file (ignored keys are
listed but allowed), 3 when it would not (each error as FILE:LINE: reason
on stderr). Nothing is bound and nothing is written.";

/// The exit code of a configuration Hornet would refuse (as the broker's).
pub const EXIT_INVALID: u8 = 3;

/// Arguments of `hornet check-config`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct CheckConfigArgs {
    /// The configuration file: `*.toml` is Hornet's format, anything else
    /// (e.g. mosquitto.conf) is read as a Mosquitto configuration.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// `text` (default): the effective settings in words and the ignored
    /// keys; `toml`: the effective configuration as a hornet.toml (to
    /// migrate from mosquitto.conf), ignored keys as `#` comments.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// What `check-config` prints on success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The report in words.
    Text,
    /// The effective configuration as Hornet TOML.
    Toml,
}

/// What checking a configuration found.
#[derive(Debug, Clone)]
pub struct Report {
    /// The file checked.
    pub file: PathBuf,
    /// The effective configuration, when the file could be loaded.
    pub config: Option<Config>,
    /// Ignored or unsupported keys and other remarks, each with `file:line`.
    pub warnings: Vec<String>,
    /// What would stop the broker, each as `file[:line]: reason`.
    pub errors: Vec<String>,
    /// What the `password_file` holds, when read.
    pub users: Option<UserCounts>,
    /// What the `acl_file` holds, when read.
    pub acl: Option<AclCounts>,
    /// The data directory's state (exists / will be created), when persistence is on.
    pub data_dir: Option<String>,
}

impl Report {
    /// Whether the broker would start with this configuration.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Checks the configuration at `path` as `hornet -c PATH` would use it.
pub fn check(path: &Path) -> Report {
    let mut report = Report {
        file: path.to_path_buf(),
        config: None,
        warnings: Vec::new(),
        errors: Vec::new(),
        users: None,
        acl: None,
        data_dir: None,
    };
    let loaded = match config::load(path) {
        Ok(loaded) => loaded,
        Err(e) => {
            report.errors.push(e.to_string());
            return report;
        }
    };
    report.warnings = loaded.warnings;
    let mut config = loaded.config;
    config.apply_binary_defaults();
    let origin = config.source.clone().unwrap_or_else(|| path.to_path_buf());
    let error = |reason: String| ConfigError::new(&origin, None, reason).to_string();

    let mut password_file = None;
    if let Some(file) = &config.password_file {
        match config::load_password_file(file) {
            Ok(users) => {
                report.users = Some(UserCounts {
                    users: users.len(),
                    scram: users.scram_len(),
                });
                password_file = Some(users);
            }
            Err(e) => report.errors.push(e.to_string()),
        }
    }
    if let Some(file) = &config.acl_file {
        match config::load_acl_file(file) {
            Ok(acl) => {
                report.acl = Some(AclCounts {
                    rules: acl.len(),
                    users: acl.users(),
                });
                for warning in acl.warnings() {
                    report
                        .warnings
                        .push(format!("{}: {warning}", file.display()));
                }
            }
            Err(e) => report.errors.push(e.to_string()),
        }
    }
    for (n, listener) in config.listeners.iter().enumerate() {
        if let Some(Err(e)) = listener.psk.as_ref().map(crate::server::check_psk) {
            report.errors.push(error(format!(
                "listener {} (TLS-PSK port {}) cannot start: {e}",
                n + 1,
                listener.port
            )));
        }
        if let (Some(tls), true) = (&listener.tls, listener.kind.is_tls()) {
            if let Err(e) = crate::server::check_tls(tls, listener.kind) {
                report.errors.push(error(format!(
                    "listener {} ({} port {}) cannot start: {e}",
                    n + 1,
                    listener.kind.name(),
                    listener.port
                )));
            }
        }
    }
    for clash in socket_clashes(&config) {
        report.errors.push(error(clash));
    }
    if let Err(e) = config.admin.check_in(&config) {
        report.errors.push(error(e));
    } else if let Some(why) = config.admin.unguarded(&config) {
        report.warnings.push(format!(
            "{}: the admin API and dashboard will be locked (every call answers 401): {why}",
            origin.display()
        ));
    }
    let admin_users = config.admin.users.iter().chain(&config.admin.read_users);
    if config.admin.enabled && admin_users.clone().next().is_some() {
        match &password_file {
            None if config.password_file.is_none() => report.errors.push(error(
                "admin users are configured but there is no password_file to check their \
                 passwords: set password_file, or use an admin token"
                    .into(),
            )),
            None => {} // the password_file error is already reported
            Some(users) => {
                for user in admin_users.filter(|u| !users.contains(u)) {
                    report.warnings.push(format!(
                        "{}: admin user '{user}' is not in the password_file {}, so it cannot \
                         log in to the admin API",
                        origin.display(),
                        config
                            .password_file
                            .as_deref()
                            .unwrap_or(Path::new(""))
                            .display()
                    ));
                }
            }
        }
    }
    if config.persistence.enabled == Some(true) {
        let dir = config.persistence.dir();
        match data_dir_state(&dir) {
            Ok(state) => report.data_dir = Some(state),
            Err(e) => report.errors.push(error(format!(
                "persistence is on but the data directory {} cannot be used: {e} (set data_dir \
                 / persistence_location, or persistence false)",
                dir.display()
            ))),
        }
    }
    report.config = Some(config);
    report
}

/// Whether two listeners (or a listener and the admin API) would fight for
/// one socket: the same port where one address covers the other (all
/// interfaces covers every address of its family; without `bind_address`,
/// IPv4 and IPv6).
fn socket_clashes(config: &Config) -> Vec<String> {
    let mut clashes = Vec::new();
    let ls = &config.listeners;
    for (i, a) in ls.iter().enumerate() {
        for (j, b) in ls.iter().enumerate().skip(i + 1) {
            if a.port != 0 && a.port == b.port && overlap(a.bind_address, b.bind_address) {
                clashes.push(format!(
                    "listeners {} and {} both listen on port {} ({} and {}): only one can \
                     bind it; give one another port or disjoint addresses",
                    i + 1,
                    j + 1,
                    a.port,
                    where_(a),
                    where_(b)
                ));
            }
        }
    }
    let admin = &config.admin;
    if admin.enabled && admin.port != 0 {
        for (i, l) in ls.iter().enumerate() {
            if l.port == admin.port && overlap(l.bind_address, Some(admin.bind)) {
                clashes.push(format!(
                    "listener {} and the admin API both use port {} ({} and {}): give the admin \
                     listener another port (`[admin] port`, `admin_listener PORT`)",
                    i + 1,
                    l.port,
                    where_(l),
                    admin.bind
                ));
            }
        }
    }
    clashes
}

fn where_(l: &Listener) -> String {
    l.bind_address
        .map_or("all interfaces".to_string(), |a| a.to_string())
}

/// Whether two bind addresses on one port would collide (Linux, dual-stack
/// `::`): equal, or one of them a wildcard covering the other's family.
fn overlap(a: Option<IpAddr>, b: Option<IpAddr>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return true; // no bind_address: IPv4 and IPv6 wildcard
    };
    if a == b {
        return true;
    }
    let wild_covers = |w: IpAddr, other: IpAddr| {
        w.is_unspecified() && (w.is_ipv6() || other.is_ipv4() || other.is_unspecified())
    };
    wild_covers(a, b) || wild_covers(b, a)
}

/// Whether the data directory exists and takes a file, or can be created:
/// the nearest existing ancestor must be a writable directory. Probes with
/// a file it removes at once; creates nothing else.
fn data_dir_state(dir: &Path) -> Result<String, String> {
    let relative = if dir.is_relative() {
        match std::env::current_dir() {
            Ok(cwd) => format!(" (relative to the working directory {})", cwd.display()),
            Err(_) => " (relative to the working directory)".to_string(),
        }
    } else {
        String::new()
    };
    if dir.exists() {
        if !dir.is_dir() {
            return Err("it exists and is not a directory".into());
        }
        probe_write(dir)?;
        return Ok(format!("exists and is writable{relative}"));
    }
    let mut ancestor = dir.parent();
    while let Some(a) = ancestor {
        let a = if a.as_os_str().is_empty() {
            Path::new(".")
        } else {
            a
        };
        if a.exists() {
            if !a.is_dir() {
                return Err(format!("{} is not a directory", a.display()));
            }
            probe_write(a).map_err(|e| format!("it does not exist and {e}"))?;
            return Ok(format!("does not exist yet and will be created{relative}"));
        }
        ancestor = a.parent();
    }
    Err("no existing parent directory".into())
}

fn probe_write(dir: &Path) -> Result<(), String> {
    let probe = dir.join(format!(".hornet-check-config-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!("{} is not writable: {e}", dir.display())),
    }
}

/// One bridge in words: name, addresses, transport, topics, whether and
/// how it starts (`start_type`), and which address is the main one
/// (`round_robin false`).
fn describe_bridge(b: &crate::config::Bridge) -> String {
    let addresses: Vec<String> = b
        .addresses
        .iter()
        .map(|(h, p)| format!("{h}:{p}"))
        .collect();
    let topics: Vec<String> = b.topics.iter().map(|t| t.to_conf()).collect();
    use crate::config::bridge::StartType;
    let start = match (b.blocked(), b.start_type) {
        (Some(why), _) => format!("not started: {why}"),
        (None, StartType::Automatic) => "starts".to_string(),
        (None, StartType::Lazy) => format!(
            "starts when {} messages wait and disconnects after {} s with nothing to send \
             (start_type lazy)",
            b.threshold, b.idle_timeout
        ),
        (None, StartType::Once) => "starts once and never reconnects (start_type once)".to_string(),
    };
    let start = match (b.round_robin, &b.addresses[..]) {
        (false, [(host, port), _, ..]) => format!(
            "{start}; main address {host}:{port}, tried again every {} s while on another \
             (round_robin false)",
            b.restart_base.max(1)
        ),
        _ => start,
    };
    format!(
        "{} to {} ({}, client id {}); topics: {}; {start}",
        b.name,
        addresses.join(", "),
        if b.tls() {
            "TLS"
        } else if b.psk() {
            "TLS-PSK"
        } else {
            "TCP"
        },
        b.remote_client_id(),
        topics.join(" | ")
    )
}

/// The report for a user: effective settings, then the ignored keys.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let Some(config) = &report.config else {
        return out;
    };
    let format = match report.file.extension() {
        Some(ext) if ext.eq_ignore_ascii_case("toml") => "Hornet TOML",
        _ => "mosquitto.conf",
    };
    let _ = writeln!(
        out,
        "Configuration {} ({format} format): what `hornet -c {}` would run with.",
        report.file.display(),
        report.file.display()
    );
    let _ = writeln!(out, "\nListeners:");
    for (n, listener) in config.listeners.iter().enumerate() {
        let addr = describe::configured_addr(listener);
        let _ = writeln!(
            out,
            "  {}. {}",
            n + 1,
            describe::listener(config, listener, addr)
        );
    }
    let _ = writeln!(
        out,
        "\nAuthentication: {}",
        describe::authentication(config, report.users)
    );
    if let Some(rule) = describe::anonymous_rule(config) {
        let _ = writeln!(out, "Note: {rule}");
    }
    let _ = writeln!(
        out,
        "Authorization: {}",
        describe::authorization(config, report.acl)
    );
    let _ = write!(out, "Persistence: {}", describe::persistence(config));
    match &report.data_dir {
        Some(state) => {
            let _ = writeln!(out, " The data directory {state}.");
        }
        None => out.push('\n'),
    }
    let _ = writeln!(out, "Admin: {}", describe::admin(config, None));
    if !config.bridges.is_empty() {
        let _ = writeln!(out, "\nBridges (docs/bridges.md):");
        for b in &config.bridges {
            let _ = writeln!(out, "  {}", describe_bridge(b));
        }
    }
    let settings = describe::settings(config);
    let width = settings.iter().map(|s| s.key.len()).max().unwrap_or(0);
    let vwidth = settings.iter().map(|s| s.value.len()).max().unwrap_or(0);
    let _ = writeln!(out, "\nLimits and protocol settings:");
    for s in &settings {
        let origin = if s.default { "default" } else { "set" };
        let _ = writeln!(
            out,
            "  {:width$}  {:vwidth$}  {origin}",
            s.key,
            s.value,
            width = width,
            vwidth = vwidth
        );
    }
    if report.warnings.is_empty() {
        let _ = writeln!(out, "\nIgnored keys: none.");
    } else {
        let _ = writeln!(
            out,
            "\nIgnored keys and warnings ({}):",
            report.warnings.len()
        );
        for w in &report.warnings {
            let _ = writeln!(out, "  {w}");
        }
    }
    out
}

/// Runs `hornet check-config`: the report on stdout, errors on stderr.
pub fn run(args: &CheckConfigArgs) -> ExitCode {
    let report = check(&args.file);
    if let (Format::Toml, Some(config), true) = (args.format, &report.config, report.is_valid()) {
        let mut out = super::effective_toml::render(config);
        if !report.warnings.is_empty() {
            out.push_str("\n# Ignored keys and warnings:\n");
            for w in &report.warnings {
                out.push_str(&format!("# {w}\n"));
            }
        }
        let _ = std::io::stdout().write_all(out.as_bytes());
        return ExitCode::SUCCESS;
    }
    let _ = std::io::stdout().write_all(render(&report).as_bytes());
    if report.is_valid() {
        println!(
            "\nOK: {} is valid ({} ignored keys or warnings).",
            args.file.display(),
            report.warnings.len()
        );
        return ExitCode::SUCCESS;
    }
    let mut err = std::io::stderr().lock();
    for e in &report.errors {
        let _ = writeln!(err, "{e}");
    }
    let _ = writeln!(
        err,
        "hornet check-config: {} error(s): hornet would not start with {}.",
        report.errors.len(),
        args.file.display()
    );
    ExitCode::from(EXIT_INVALID)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridges_say_how_they_start_and_their_main_address() {
        let mut b = crate::config::Bridge::new("b1", "m.conf".into(), 1);
        b.set("address", &["h1:1884", "h2"], 2).unwrap();
        b.set("topic", &["a/#"], 3).unwrap();
        b.set("restart_timeout", &["3"], 4).unwrap();
        let text = describe_bridge(&b);
        assert!(
            text.ends_with("; starts; main address h1:1884, tried again every 3 s while on another (round_robin false)"),
            "{text}"
        );
        b.set("round_robin", &["true"], 5).unwrap();
        b.set("start_type", &["once"], 6).unwrap();
        let text = describe_bridge(&b);
        assert!(
            text.ends_with("; starts once and never reconnects (start_type once)"),
            "{text}"
        );
    }

    #[test]
    fn overlapping_addresses() {
        let v4 = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert!(overlap(None, v4("127.0.0.1")));
        assert!(overlap(v4("0.0.0.0"), v4("127.0.0.1")));
        assert!(overlap(v4("::"), v4("127.0.0.1")));
        assert!(!overlap(v4("0.0.0.0"), v4("::1")));
        assert!(!overlap(v4("127.0.0.1"), v4("10.0.0.1")));
        assert!(overlap(v4("10.0.0.1"), v4("10.0.0.1")));
    }

    #[test]
    fn clashing_listeners_and_admin_port() {
        let mut config = Config::default();
        config
            .listeners
            .push(Listener::tcp(1883, Some("127.0.0.1".parse().unwrap())));
        config.admin.port = 1883;
        let clashes = socket_clashes(&config);
        assert_eq!(clashes.len(), 3, "{clashes:?}");
        assert!(clashes[0].contains("listeners 1 and 2 both listen on port 1883"));
        assert!(clashes[1].contains("admin API"));
    }

    #[test]
    fn data_directory_states() {
        let dir = tempfile::tempdir().unwrap();
        assert!(data_dir_state(dir.path()).unwrap().contains("exists"));
        let deep = dir.path().join("a/b/c");
        assert!(data_dir_state(&deep).unwrap().contains("will be created"));
        assert!(!dir.path().join("a").exists(), "nothing is created");
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        assert!(data_dir_state(&file)
            .unwrap_err()
            .contains("not a directory"));
        assert!(data_dir_state(&file.join("sub"))
            .unwrap_err()
            .contains("not a directory"));
    }
}
