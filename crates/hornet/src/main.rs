//! The `hornet` binary: `hornet [serve] [-c FILE] [-p PORT] [-v]`, and the
//! tools `hornet pub`, `hornet sub`, `hornet check-config`, `hornet passwd`
//! and `hornet completions`, which run before (and without) binding or
//! broker logging.
//!
//! Reads the configuration (native TOML or a Mosquitto `.conf`), sets up
//! logging in Mosquitto's words, prints the startup banner and serves until
//! SIGINT or SIGTERM. SIGHUP reloads the TLS certificates.

use std::process::ExitCode;

use hornet::cli::{self, Cli, Command};
use hornet::config::{self, Config};
use hornet::describe::{AclCounts, UserCounts};
use hornet::server::Server;
use hornet_auth::PasswordFile;

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    // Tools that are not the broker: nothing bound, no broker logging.
    match &cli.command {
        Some(Command::Pub(args)) => return cli::pub_cmd::run(args.clone()),
        Some(Command::Sub(args)) => return cli::sub_cmd::run(args.clone()),
        Some(Command::CheckConfig(args)) => return cli::check_config::run(args),
        Some(Command::Passwd(args)) => return cli::passwd::run(args),
        Some(Command::Completions(args)) => return cli::completions::run(args),
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
    config.apply_binary_defaults();
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
    let acl = match config.acl_file.as_deref().map(config::load_acl_file) {
        Some(Ok(acl)) => Some(AclCounts {
            rules: acl.len(),
            users: acl.users(),
        }),
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
    runtime.block_on(serve(config, users, acl))
}

async fn serve(config: Config, users: Option<PasswordFile>, acl: Option<AclCounts>) -> ExitCode {
    let user_counts = users.as_ref().map(|u| UserCounts {
        users: u.len(),
        scram: u.scram_len(),
    });
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
    hornet::banner::log(&config, &server, user_counts, acl);
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
