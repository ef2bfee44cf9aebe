//! The `hornet` binary: `hornet [serve] [-c FILE] [-p PORT] [-v]`, and the
//! clients `hornet pub` / `hornet sub` (dispatched before any broker setup).
//!
//! Reads the configuration (native TOML or a Mosquitto `.conf`), sets up
//! logging in Mosquitto's words, prints the startup banner and serves until
//! SIGINT or SIGTERM. SIGHUP reloads the TLS certificates.

use std::process::ExitCode;

use hornet::cli::{self, Cli};
use hornet::config::{self, AllowAnonymous, Config, ListenerKind};
use hornet::server::Server;
use hornet_auth::PasswordFile;

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    // The MQTT clients: no broker configuration, logging or banner.
    match cli.command {
        Some(cli::Command::Pub(args)) => return cli::pub_cmd::run(args),
        Some(cli::Command::Sub(args)) => return cli::sub_cmd::run(args),
        _ => {}
    }
    let loaded = match cli::resolve(&cli) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("hornet: configuration error: {e}");
            return ExitCode::from(3);
        }
    };
    let mut config = loaded.config;
    // The binary keeps state on disk unless told not to (`persistence false`).
    config.persistence.enabled.get_or_insert(true);
    let users = match config
        .password_file
        .as_deref()
        .map(config::load_password_file)
    {
        Some(Ok(users)) => Some(users),
        Some(Err(e)) => {
            eprintln!("hornet: configuration error: {e}");
            return ExitCode::from(3);
        }
        None => None,
    };
    // A bad acl_file is a configuration error too (the server reads it).
    if let Some(Err(e)) = config.acl_file.as_deref().map(config::load_acl_file) {
        eprintln!("hornet: configuration error: {e}");
        return ExitCode::from(3);
    }
    init_logging(config.log.verbose);
    raise_open_files_limit();
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hornet: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(config, users))
}

async fn serve(config: Config, users: Option<PasswordFile>) -> ExitCode {
    let user_counts = users.as_ref().map(|u| (u.len(), u.scram_len()));
    let server = match Server::start_with(&config, users).await {
        Ok(server) => server,
        Err(e) => {
            tracing::error!("{e}");
            if e.kind() == std::io::ErrorKind::AddrInUse {
                tracing::error!(
                    "Another program is listening there; if it is Mosquitto, stop it \
                     (`systemctl stop mosquitto`) or give Hornet another port with -p."
                );
            }
            return ExitCode::FAILURE;
        }
    };
    banner(&config, &server, user_counts);
    let server = std::sync::Arc::new(server);
    reload_on_sighup(server.clone());
    let started = std::time::Instant::now();
    wait_for_signal().await;
    if let Some(s) = server.store_stats() {
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        tracing::info!(
            "Store totals: {} messages and {} records in {} commits, {} fsyncs ({:.0} fsyncs/s, \
             {:.1} messages per fsync), {} compactions, {} bytes in the log now.",
            s.messages,
            s.records,
            s.commits,
            s.syncs,
            s.syncs as f64 / secs,
            s.messages as f64 / s.syncs.max(1) as f64,
            s.compactions,
            s.log_bytes
        );
    }
    tracing::info!("hornet version {} terminating", env!("CARGO_PKG_VERSION"));
    drop(server);
    ExitCode::SUCCESS
}

fn init_logging(verbose: bool) {
    let default = if verbose { "debug" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("HORNET_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Says what is served where, who may connect and where state lives.
fn banner(config: &Config, server: &Server, users: Option<(usize, usize)>) {
    tracing::info!("hornet version {} starting", env!("CARGO_PKG_VERSION"));
    match &config.source {
        Some(path) => tracing::info!("Config loaded from {}.", path.display()),
        None => tracing::info!("Using default config (no -c file given)."),
    }
    let auth = anonymous_policy(config.allow_anonymous);
    match (&config.password_file, users) {
        (Some(path), Some((users, scram))) => tracing::info!(
            "Authentication: password_file {} with {users} users ({scram} with SCRAM-SHA-256 \
             credentials); user names and passwords are checked, enhanced authentication \
             offers SCRAM-SHA-256.",
            path.display()
        ),
        _ => tracing::info!(
            "Authentication: no password_file, so user names are not checked (clients with one \
             count as anonymous) and enhanced authentication is not offered."
        ),
    }
    match &config.acl_file {
        Some(path) => tracing::info!(
            "Authorization: acl_file {} (topic access is checked on SUBSCRIBE, PUBLISH and \
             every delivery; SIGHUP reloads it and the password_file).",
            path.display()
        ),
        None => tracing::info!("Authorization: no acl_file, so every client may use every topic."),
    }
    for (listener, stats) in config.listeners.iter().zip(server.listener_stats()) {
        let addr = stats.addr;
        let what = if addr.ip().is_unspecified() && addr.is_ipv6() {
            format!("all interfaces, IPv4 and IPv6, port {}", addr.port())
        } else if addr.ip().is_unspecified() {
            format!("all IPv4 interfaces, port {}", addr.port())
        } else {
            addr.to_string()
        };
        let kind = match stats.kind {
            ListenerKind::Tcp => "MQTT",
            ListenerKind::Tls => "MQTT over TLS (tls)",
            ListenerKind::Ws => "MQTT over WebSocket (ws)",
            ListenerKind::Wss => "MQTT over secure WebSocket (wss)",
        };
        let what = match &stats.path {
            Some(path) => format!("{what}, path {path}"),
            None => what,
        };
        let tls = stats.tls.map(|t| format!(" [{t}]")).unwrap_or_default();
        let anonymous = listener
            .allow_anonymous
            .map(anonymous_policy)
            .unwrap_or(auth);
        let mut limits = Vec::new();
        if let Some(n) = listener.max_connections {
            limits.push(format!("max_connections {n}"));
        }
        if let Some(n) = listener.max_connection_rate {
            limits.push(format!("max_connection_rate {n}/s"));
        }
        let limits = if limits.is_empty() {
            String::new()
        } else {
            format!(" ({})", limits.join(", "))
        };
        tracing::info!("Opening {kind} listener on {what}{tls}{limits}: {anonymous}.");
    }
    if let Some(addr) = server.admin_addr() {
        let access = if config.admin.has_credentials() {
            "credentials required"
        } else {
            "no credentials: loopback only"
        };
        tracing::info!("Admin API, /metrics and dashboard on http://{addr}/ ({access}).");
    }
    let p = &config.persistence;
    if p.enabled == Some(true) {
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
        tracing::info!(
            "Persistence: data directory {} (fsync {}): {when}.",
            p.dir().display(),
            p.fsync.name()
        );
    } else {
        tracing::info!(
            "Persistence off: state is kept in memory, so sessions and retained messages do \
             not survive a restart."
        );
    }
}

/// An anonymous policy in words.
fn anonymous_policy(allow: AllowAnonymous) -> &'static str {
    match allow {
        AllowAnonymous::Loopback => {
            "anonymous clients from loopback only (set allow_anonymous to accept the network)"
        }
        AllowAnonymous::Always => "anonymous clients from anywhere (allow_anonymous true)",
        AllowAnonymous::Never => "no anonymous clients (allow_anonymous false)",
    }
}

/// Reloads TLS certificates on each SIGHUP, until the process ends.
fn reload_on_sighup(server: std::sync::Arc<Server>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => {
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        tracing::info!(
                            "SIGHUP received: reloading TLS certificates, password_file and acl_file."
                        );
                        // Failures are logged by each reload, naming the
                        // file; what failed to load stays as it was.
                        let _ = server.reload_tls();
                        let _ = server.reload_auth();
                    }
                });
            }
            Err(e) => tracing::warn!(
                "Cannot handle SIGHUP ({e}); certificates reload only when their files change."
            ),
        }
    }
    #[cfg(not(unix))]
    let _ = server;
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Every connection is a file descriptor, and the usual soft limit (1024)
/// would cap the broker far below what the machine can hold: raise it to
/// the hard limit, as Mosquitto's packagers do with `LimitNOFILE`.
fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!("Open files limit: {n}."),
        Err(e) => tracing::warn!(
            "Could not raise the open files limit ({e}); connections beyond it will be refused."
        ),
    }
}
