//! The `hornet` binary: `hornet [serve] [-c FILE] [-p PORT] [-v]`, and the
//! tools `hornet pub`, `hornet sub`, `hornet check-config`, `hornet passwd`
//! and `hornet completions`, which run before (and without) binding or
//! broker logging.
//!
//! Reads the configuration (native TOML or a Mosquitto `.conf`), detaches
//! with `-d`, sets up logging as Mosquitto's `log_dest` says, binds, writes
//! the `pid_file`, drops root for `user`, prints the startup banner and
//! serves until SIGINT or SIGTERM (then logs its last line and removes the
//! pid file). SIGHUP reloads the TLS certificates, password_file and
//! acl_file, reopens the log files, and reads the configuration file again
//! for its bridges (added, removed or changed ones; the others untouched).

use std::process::ExitCode;

use hornet::cli::{self, Cli, Command};
use hornet::config::{self, Config};
use hornet::describe::{AclCounts, UserCounts};
use hornet::logging::Logging;
use hornet::process::{self, PidFile, Switched};
use hornet::server::Server;
use hornet_auth::PasswordFile;

/// jemalloc rather than glibc's malloc (feature `jemalloc`, on by default):
/// its size classes carry no per-block header, and the 128-byte aligned
/// blocks tokio allocates per connection (the task cell, the socket
/// registration), freed when an idle connection parks, go back to a slab
/// of their class instead of leaving 272-byte holes glibc 2.36 never reuses
/// for the next aligned block (docs/benchmarks.md, "Memory per idle
/// connection").
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    // Tools that are not the broker: nothing bound, no broker logging.
    match &cli.command {
        Some(Command::Pub(args)) => return cli::pub_cmd::run(args.clone()),
        Some(Command::Sub(args)) => return cli::sub_cmd::run(args.clone()),
        Some(Command::CheckConfig(args)) => return cli::check_config::run(args),
        Some(Command::Passwd(args)) => return cli::passwd::run(args),
        Some(Command::Completions(args)) => return cli::completions::run(args),
        Some(Command::Init(args)) => return cli::init::run(args),
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
    // The command returns once the broker it starts in the background
    // serves (process.rs).
    if cli.daemon() {
        return process::run_in_background();
    }
    let logging = match hornet::logging::init(&config.log, config.log.verbose) {
        Ok(logging) => logging,
        Err(e) => {
            eprintln!("hornet: configuration error: {e}");
            return ExitCode::from(3);
        }
    };
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
    let config_path = cli.config_path().map(std::path::Path::to_path_buf);
    let code = runtime.block_on(serve(config, config_path, users, acl, logging.clone()));
    // The last lines, unless a destination does not take them.
    logging.flush(LAST_LINES_WAIT);
    code
}

/// How long the exit waits for the log's last lines to be written.
const LAST_LINES_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

async fn serve(
    config: Config,
    config_path: Option<std::path::PathBuf>,
    users: Option<PasswordFile>,
    acl: Option<AclCounts>,
    logging: Logging,
) -> ExitCode {
    let mut signals = match Signals::install() {
        Ok(signals) => signals,
        Err(e) => {
            tracing::error!("Cannot handle SIGTERM and SIGINT: {e}");
            return ExitCode::FAILURE;
        }
    };
    let user_counts = users.as_ref().map(|u| UserCounts {
        users: u.len(),
        scram: u.scram_len(),
    });
    let mut server = match Server::start_with(&config, users).await {
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
    if let Some(feed) = logging.topic_feed() {
        server.publish_log(feed);
    }
    // As Mosquitto: the pid file is written as started (root may write
    // /run), then root is dropped; the listeners are bound already.
    let pid_file = match config
        .pid_file
        .as_deref()
        .map(|p| PidFile::write(p.as_ref()))
    {
        Some(Err(e)) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
        Some(Ok(p)) => Some(p),
        None => None,
    };
    if let Some(user) = &config.user {
        match process::drop_privileges(user) {
            Ok(Switched::To { uid, gid }) => {
                tracing::info!("Running as user {user} (uid {uid}, gid {gid}).")
            }
            Ok(Switched::NotRoot) => {
                tracing::debug!("Not started as root: the user setting ({user}) has nothing to do.")
            }
            Ok(Switched::Already) => {}
            Err(e) => {
                tracing::error!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    hornet::banner::log(&config, &server, user_counts, acl);
    process::notify_ready();
    let server = std::sync::Arc::new(server);
    signals.reload_on_sighup(server.clone(), config_path, logging);
    let started = std::time::Instant::now();
    signals.stop().await;
    server.stop_bridges().await;
    server.leave_cluster().await;
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
    drop(pid_file);
    ExitCode::SUCCESS
}

/// The signals the broker answers, handled from before it binds (a
/// signal sent as soon as the banner shows is never the default action).
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        let hup = signal(SignalKind::hangup())
            .map_err(|e| {
                tracing::warn!(
                    "Cannot handle SIGHUP ({e}); certificates reload only when their files change."
                )
            })
            .ok();
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup,
        })
    }

    /// Reloads TLS certificates (and the user and ACL files), reopens
    /// the log files and reloads the bridges from the configuration file
    /// on each SIGHUP, until the process ends.
    fn reload_on_sighup(
        &mut self,
        server: std::sync::Arc<Server>,
        config_path: Option<std::path::PathBuf>,
        logging: Logging,
    ) {
        let Some(mut hup) = self.hup.take() else {
            return;
        };
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                logging.reopen();
                tracing::info!(
                    "SIGHUP received: reloading TLS certificates, password_file and acl_file; \
                     reopening the log files."
                );
                // Failures are logged by each reload, naming the file; what
                // failed to load stays as it was.
                let _ = server.reload_tls();
                let _ = server.reload_auth();
                reload_bridges(&server, config_path.as_deref()).await;
            }
        });
    }

    /// Until SIGTERM or SIGINT.
    async fn stop(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

/// Reads the configuration file again and makes its bridges the running
/// ones; a file with an error keeps the bridges as they are, and the log
/// says where the error is (`file:line: reason`).
async fn reload_bridges(server: &Server, path: Option<&std::path::Path>) {
    let Some(path) = path else {
        return;
    };
    match config::load(path) {
        Ok(loaded) => {
            let s = server.reload_bridges(&loaded.config.bridges).await;
            if s == hornet::bridge::ReloadSummary::default() {
                return; // no bridges before or after
            }
            tracing::info!(
                "Bridges reloaded from {}: {} kept, {} changed, {} removed, {} added.",
                path.display(),
                s.kept.len(),
                s.changed.len(),
                s.removed.len(),
                s.added.len()
            );
        }
        Err(e) => tracing::error!("Reload: {e}; the bridges stay as they are."),
    }
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
