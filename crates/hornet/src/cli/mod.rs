//! The `hornet` command line.
//!
//! Owns argument parsing (clap derive) and [`resolve`], which turns the
//! arguments into the [`Config`](crate::config::Config) the broker runs
//! from: the file given with `-c` (or the defaults), then `-p` and `-v`,
//! which override it as they do for `mosquitto`.
//!
//! `hornet` with no subcommand serves, exactly like `hornet serve`; the
//! options work in both places. The other subcommands each have their
//! files: [`pub_cmd`] and [`sub_cmd`] (MQTT clients with `mosquitto_pub` /
//! `mosquitto_sub`'s options), [`passwd`] (like `mosquitto_passwd`),
//! [`check_config`], [`completions`] (shell completion scripts) and
//! [`init`] (a new broker instance in a directory).

pub mod check_config;
mod client_args;
mod connect;
pub mod effective_toml;
pub(crate) mod format;
mod props;
pub mod pub_cmd;
pub mod sub_cmd;

pub use client_args::{ClientArgs, ProtocolArg};

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::config::{self, ConfigError, Loaded};

pub mod completions;
pub mod init;
pub mod passwd;

const EXAMPLES: &str = "\
Examples:
  hornet                                          serve on port 1883 with the defaults
  hornet -c /etc/hornet/hornet.toml               serve with a Hornet configuration file
  hornet -c /etc/mosquitto/mosquitto.conf -v      reuse a Mosquitto configuration, log packets
  hornet -p 1884                                  serve on port 1884
  hornet sub -t 'demo/#' -v                       print every message under demo/
  hornet pub -t demo/x -m hello                   publish one message
  hornet passwd -c /etc/hornet/passwd alice       create a password file with user alice
  hornet check-config /etc/mosquitto/mosquitto.conf
                                                  check a configuration without serving
  hornet init /srv/hornet/main                    make an instance: config, certificates, users, unit
  hornet completions bash > ~/.local/share/bash-completion/completions/hornet
                                                  tab completion for bash (or zsh, fish, ...)

By default anonymous clients may connect only from this machine (127.0.0.1 and ::1).
To let anonymous clients connect from the network, set `allow_anonymous = true`
(TOML) or `allow_anonymous true` (mosquitto.conf). See docs/configuration.md.";

/// `hornet pub --help`'s examples.
const PUB_EXAMPLES: &str = "\
Examples:
  hornet pub -t demo/x -m hello                   one message to localhost:1883
  hornet pub -h broker.lan -q 1 -r -t home/temp -m 21.5
                                                  QoS 1, retained, to another host
  hornet pub -t logs/app -l < app.log             one message per line of stdin
  hornet pub -t fw/image -f firmware.bin -q 2     a file as the payload
  hornet pub -t home/temp -r -n                   clear a retained message
  hornet pub -V mqttv5 -t req -m on -D publish response-topic resp -D publish user-property k v
                                                  MQTT 5 with properties
  hornet pub -L mqtts://alice:secret@broker.lan/demo/x --cafile ca.pem -m hi
                                                  TLS, user and topic in a URL
  hornet pub -L wss://broker.lan:8084/mqtt --cafile ca.pem -t demo/x -m hi
                                                  secure WebSocket (path /mqtt)

Exit codes are mosquitto_pub's: 0 sent, 1 an error, or the CONNACK return
code (5: not authorised; MQTT 5: the reason code, e.g. 135). See docs/cli.md.";

/// `hornet sub --help`'s examples.
const SUB_EXAMPLES: &str = "\
Examples:
  hornet sub -t 'demo/#' -v                       print topic and payload of each message
  hornet sub -t '$SYS/#' -v                       the broker's counters
  hornet sub -t home/temp -C 1 -W 5               wait up to 5 s for one message (exit 27 on timeout)
  hornet sub -t 'home/#' -v -R                    skip stale retained messages
  hornet sub -V mqttv5 -t 'a/#' -F '%t %q %r %p'  your own output format (see docs/cli.md)
  hornet sub -t 'a/#' -F %j                       one JSON object per message
  hornet sub -c -i meter-1 -q 1 -t 'meters/#'     a persistent session: messages wait while away
  hornet sub -t '$share/workers/jobs/#' -q 1      one of a group of shared subscribers
  hornet sub -L ws://127.0.0.1:8083/mqtt -t '#' -v
                                                  over WebSocket

Exit codes are mosquitto_sub's: 0 (also after -C N messages), 1 an error,
27 when -W runs out, or the CONNACK return code. See docs/cli.md.";

/// Hornet, an MQTT broker for MQTT 3.1, 3.1.1 and 5.0.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(name = "hornet", version, about, after_help = EXAMPLES)]
pub struct Cli {
    /// Options for serving, when given without a subcommand.
    #[command(flatten)]
    pub serve: ServeArgs,
    /// What to do; serving when absent.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Run the broker (the default when no subcommand is given).
    #[command(after_help = EXAMPLES)]
    Serve(ServeArgs),
    /// Publish a message and exit, like mosquitto_pub (same options).
    #[command(
        name = "pub",
        disable_help_flag = true,
        disable_version_flag = true,
        after_help = PUB_EXAMPLES
    )]
    Pub(pub_cmd::PubArgs),
    /// Subscribe and print messages, like mosquitto_sub (same options).
    #[command(
        name = "sub",
        disable_help_flag = true,
        disable_version_flag = true,
        after_help = SUB_EXAMPLES
    )]
    Sub(sub_cmd::SubArgs),
    /// Add, change or delete users of a password file (like mosquitto_passwd).
    Passwd(passwd::PasswdArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Check a configuration file (TOML or mosquitto.conf) without starting
    /// the broker: print the effective settings and every ignored key; exit
    /// 3 with `file:line: reason` on errors.
    #[command(name = "check-config", after_help = check_config::EXAMPLES)]
    CheckConfig(check_config::CheckConfigArgs),
    /// Make a broker instance in a new directory: a commented hornet.toml
    /// with TCP, TLS, WebSocket and secure WebSocket listeners, a CA and
    /// server certificate, a password file with an admin user, the data
    /// directory, a systemd unit and a README (like `apollo create`).
    Init(init::InitArgs),
}

/// Options of the broker, usable as `hornet [OPTIONS]` or `hornet serve [OPTIONS]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct ServeArgs {
    /// Configuration file: `*.toml` is Hornet's format, anything else
    /// (e.g. mosquitto.conf) is read as a Mosquitto configuration.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Port to listen on, replacing the port of the first listener in the
    /// configuration (like `mosquitto -p`).
    #[arg(short, long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// Verbose: log every packet (like `log_type all`).
    #[arg(short, long)]
    pub verbose: bool,
    /// Run in the background (like `mosquitto -d`): returns once the
    /// broker serves; the log goes where `log_dest` says.
    #[arg(short, long)]
    pub daemon: bool,
}

impl Cli {
    /// Parses the process arguments; on `--help`, `--version` or a usage
    /// error, prints and exits as clap does.
    pub fn parse_args() -> Cli {
        match Cli::try_parse() {
            Ok(cli) => cli,
            // mosquitto_pub, mosquitto_sub and mosquitto_passwd exit 1 on a
            // usage error; clap would say 2.
            Err(e) if e.use_stderr() && mosquitto_tool(std::env::args_os()) => {
                let _ = e.print();
                std::process::exit(1)
            }
            Err(e) => e.exit(),
        }
    }

    /// Options given after `serve` win over those given before it.
    fn serve_args(&self) -> Option<&ServeArgs> {
        match &self.command {
            Some(Command::Serve(args)) => Some(args),
            _ => None,
        }
    }

    /// The configuration file given with `-c`, if any.
    pub fn config_path(&self) -> Option<&Path> {
        self.serve_args()
            .and_then(|a| a.config.as_deref())
            .or(self.serve.config.as_deref())
    }

    /// The port given with `-p`, if any.
    pub fn port(&self) -> Option<u16> {
        self.serve_args().and_then(|a| a.port).or(self.serve.port)
    }

    /// Whether `-v` was given.
    pub fn verbose(&self) -> bool {
        self.serve.verbose || self.serve_args().is_some_and(|a| a.verbose)
    }

    /// Whether `-d` was given.
    pub fn daemon(&self) -> bool {
        self.serve.daemon || self.serve_args().is_some_and(|a| a.daemon)
    }
}

/// Whether the arguments name one of the subcommands that stand in for
/// Mosquitto's tools (`pub`, `sub`, `passwd`): their usage errors exit 1,
/// as `mosquitto_pub`, `mosquitto_sub` and `mosquitto_passwd` do, instead
/// of clap's 2. The subcommand is the first argument; a file named
/// `passwd` given to `-c` is not it.
fn mosquitto_tool(args: impl IntoIterator<Item = std::ffi::OsString>) -> bool {
    args.into_iter()
        .nth(1)
        .is_some_and(|a| a == "pub" || a == "sub" || a == "passwd")
}

/// Builds the Config from the CLI: loads the file if given (else
/// `Config::default()`), applies `-p` (replacing the first listener's port)
/// and `-v`.
pub fn resolve(cli: &Cli) -> Result<Loaded, ConfigError> {
    let mut loaded = match cli.config_path() {
        Some(path) => config::load(path)?,
        None => Loaded {
            config: config::Config::default(),
            warnings: Vec::new(),
        },
    };
    if let Some(port) = cli.port() {
        match loaded.config.listeners.first_mut() {
            Some(first) => first.port = port,
            None => loaded
                .config
                .listeners
                .push(config::Listener::tcp(port, None)),
        }
    }
    if cli.verbose() {
        loaded.config.log.verbose = true;
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Listener};
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(args).unwrap()
    }

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_arguments_serves_with_defaults() {
        let cli = parse(&["hornet"]);
        assert_eq!(cli.command, None);
        assert_eq!(cli.config_path(), None);
        assert_eq!(cli.port(), None);
        assert!(!cli.verbose());
        let loaded = resolve(&cli).unwrap();
        assert_eq!(loaded.config, Config::default());
        assert!(loaded.warnings.is_empty());
    }

    #[test]
    fn config_and_verbose_without_subcommand() {
        let cli = parse(&["hornet", "-c", "x", "-v"]);
        assert_eq!(cli.config_path(), Some(Path::new("x")));
        assert!(cli.verbose());
        assert_eq!(cli.port(), None);
        let cli = parse(&[
            "hornet",
            "--config",
            "x.toml",
            "--verbose",
            "--port",
            "1999",
        ]);
        assert_eq!(cli.config_path(), Some(Path::new("x.toml")));
        assert_eq!(cli.port(), Some(1999));
        assert!(cli.verbose());
    }

    #[test]
    fn serve_subcommand() {
        let cli = parse(&["hornet", "serve", "-p", "1884"]);
        assert!(matches!(cli.command, Some(Command::Serve(_))));
        assert_eq!(cli.port(), Some(1884));
        assert_eq!(cli.config_path(), None);
        assert!(!cli.verbose());
        let cli = parse(&["hornet", "-c", "a.conf", "serve", "-v"]);
        assert_eq!(cli.config_path(), Some(Path::new("a.conf")));
        assert!(cli.verbose());
        let cli = parse(&["hornet", "-p", "1000", "serve", "-p", "2000"]);
        assert_eq!(cli.port(), Some(2000));
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(Cli::try_parse_from(["hornet", "-p", "0"]).is_err());
        assert!(Cli::try_parse_from(["hornet", "-p", "65536"]).is_err());
        assert!(Cli::try_parse_from(["hornet", "-p", "x"]).is_err());
        assert!(Cli::try_parse_from(["hornet", "frobnicate"]).is_err());
        assert!(Cli::try_parse_from(["hornet", "-c"]).is_err());
    }

    #[test]
    fn help_and_version() {
        let err = Cli::try_parse_from(["hornet", "--help"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp);
        let help = err.to_string();
        assert!(
            help.contains("hornet -c /etc/mosquitto/mosquitto.conf -v"),
            "{help}"
        );
        assert!(help.contains("--config <FILE>"), "{help}");
        let err = Cli::try_parse_from(["hornet", "--version"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayVersion);
    }

    #[test]
    fn passwd_and_completions_subcommands() {
        let cli = parse(&["hornet", "passwd", "-c", "-H", "argon2id", "f", "alice"]);
        let Some(Command::Passwd(args)) = &cli.command else {
            panic!("{cli:?}");
        };
        assert!(args.create && !args.batch);
        assert_eq!(args.hash, passwd::HashKind::Argon2id);
        assert_eq!(args.file, Path::new("f"));
        assert_eq!(args.username.as_deref(), Some("alice"));
        // Not a serving command: no config, no port.
        assert_eq!(cli.config_path(), None);
        let cli = parse(&["hornet", "completions", "zsh"]);
        assert!(matches!(
            cli.command,
            Some(Command::Completions(completions::CompletionsArgs {
                shell: clap_complete::Shell::Zsh
            }))
        ));
        assert!(Cli::try_parse_from(["hornet", "completions", "tcsh"]).is_err());
    }

    #[test]
    fn mosquitto_tools_are_named_by_the_first_argument() {
        let args = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        for tool in ["pub", "sub", "passwd"] {
            assert!(mosquitto_tool(args(&["hornet", tool, "-x"])), "{tool}");
        }
        assert!(!mosquitto_tool(args(&["hornet", "-x"])));
        assert!(!mosquitto_tool(args(&["hornet", "-c", "passwd", "-x"])));
        assert!(!mosquitto_tool(args(&["hornet", "check-config"])));
        assert!(!mosquitto_tool(args(&["passwd"])));
    }

    #[test]
    fn help_lists_every_subcommand_with_an_example() {
        let help = Cli::command().render_long_help().to_string();
        for sub in Cli::command().get_subcommands() {
            let name = sub.get_name();
            assert!(
                help.contains(&format!("  {name} ")),
                "{name} not listed:\n{help}"
            );
            if name != "help" {
                assert!(
                    help.contains(&format!("hornet {name}")) || name == "serve",
                    "no example for {name}:\n{help}"
                );
            }
        }
    }

    #[test]
    fn port_replaces_the_first_listener() {
        let cli = parse(&["hornet", "-p", "1884"]);
        let loaded = resolve(&cli).unwrap();
        assert_eq!(loaded.config.listeners, vec![Listener::tcp(1884, None)]);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mosquitto.conf");
        std::fs::write(
            &path,
            "listener 1000 127.0.0.1\nlistener 2000\nmax_queued_messages 5\nfrobnicate /x\n",
        )
        .unwrap();
        let path_arg = path.to_str().unwrap();
        let cli = parse(&["hornet", "serve", "-c", path_arg, "-p", "1884", "-v"]);
        let loaded = resolve(&cli).unwrap();
        assert_eq!(
            loaded.config.listeners,
            vec![
                Listener::tcp(1884, Some("127.0.0.1".parse().unwrap())),
                Listener::tcp(2000, None),
            ]
        );
        assert_eq!(loaded.config.limits.max_queued_messages, 5);
        assert!(loaded.config.log.verbose);
        assert_eq!(loaded.config.source.as_deref(), Some(path.as_path()));
        assert_eq!(loaded.warnings.len(), 1);
    }

    #[test]
    fn resolve_reports_file_errors() {
        let cli = parse(&["hornet", "-c", "/nonexistent/hornet.toml"]);
        let err = resolve(&cli).unwrap_err();
        assert_eq!(err.file, Path::new("/nonexistent/hornet.toml"));
    }
}
