//! The `hornet` binary: `hornet [serve] [-c FILE] [-p PORT] [-v]`.
//!
//! Reads the configuration (native TOML or a Mosquitto `.conf`), sets up
//! logging in Mosquitto's words, prints the startup banner and serves until
//! SIGINT or SIGTERM.

use std::process::ExitCode;

use hornet::cli::{self, Cli};
use hornet::config::{self, AllowAnonymous, Config};
use hornet::server::Server;
use hornet_auth::PasswordFile;

fn main() -> ExitCode {
    let cli = Cli::parse_args();
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
    server.shutdown();
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
    let auth = match config.allow_anonymous {
        AllowAnonymous::Loopback => {
            "anonymous clients from loopback only (set allow_anonymous to accept the network)"
        }
        AllowAnonymous::Always => "anonymous clients from anywhere (allow_anonymous true)",
        AllowAnonymous::Never => "no anonymous clients (allow_anonymous false)",
    };
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
    for addr in server.local_addrs() {
        let what = if addr.ip().is_unspecified() && addr.is_ipv6() {
            format!("all interfaces, IPv4 and IPv6, port {}", addr.port())
        } else if addr.ip().is_unspecified() {
            format!("all IPv4 interfaces, port {}", addr.port())
        } else {
            addr.to_string()
        };
        tracing::info!("Opening MQTT listener on {what}: {auth}.");
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
