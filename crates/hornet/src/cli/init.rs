//! `hornet init DIR`: a ready-to-run broker instance, as Apollo's
//! `apollo create` makes one. Owns the options, the order of the steps and
//! what is printed; the certificates are [`pki`], the files' text
//! [`templates`].
//!
//! DIR gets a commented `hornet.toml` with TCP, TLS, WebSocket and secure
//! WebSocket listeners, a fresh CA and server certificate (`certs/`), a
//! password file with an `admin` user whose generated password is
//! printed once (and stored only as a hash), the data directory, a
//! systemd unit for this instance and a README with the exact commands to
//! connect on each listener. `hornet -c DIR/hornet.toml` then serves all
//! four. An existing non-empty DIR is refused: nothing is overwritten.

mod pki;
mod templates;

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

const EXAMPLES: &str = "\
Examples:
  hornet init /srv/hornet/main                    an instance with the default ports
  hornet init ~/b2 --tcp-port 1884 --tls-port 8884 --ws-port 8085 --wss-port 8086 --admin-port 18084
                                                  a second instance beside the first
  hornet init /srv/hornet/edge --host broker.example.com
                                                  a certificate also valid for that name

Then: hornet -c DIR/hornet.toml (DIR/README.md says how to connect and add users).";

/// `hornet init`: where, and the listeners' ports.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
#[command(after_help = EXAMPLES)]
pub struct InitArgs {
    /// The instance directory to create (must not exist, or be empty).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Port of the plain MQTT listener.
    #[arg(long, value_name = "PORT", default_value_t = 1883)]
    pub tcp_port: u16,
    /// Port of the MQTT over TLS listener.
    #[arg(long, value_name = "PORT", default_value_t = 8883)]
    pub tls_port: u16,
    /// Port of the WebSocket listener.
    #[arg(long, value_name = "PORT", default_value_t = 8083)]
    pub ws_port: u16,
    /// Port of the secure WebSocket listener.
    #[arg(long, value_name = "PORT", default_value_t = 8084)]
    pub wss_port: u16,
    /// Port of the admin API and dashboard (on 127.0.0.1).
    #[arg(long, value_name = "PORT", default_value_t = 18083)]
    pub admin_port: u16,
    /// Another name (or IP address) the server certificate is valid for;
    /// may be repeated. localhost, 127.0.0.1, ::1 and this machine's host
    /// name always are.
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,
}

/// The listeners' ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ports {
    pub(crate) tcp: u16,
    pub(crate) tls: u16,
    pub(crate) ws: u16,
    pub(crate) wss: u16,
    pub(crate) admin: u16,
}

/// Why an instance could not be made.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// DIR exists and holds files.
    #[error("{0} exists and is not empty: choose a new directory (nothing was changed)")]
    NotEmpty(PathBuf),
    /// A file or directory could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The certificates could not be made.
    #[error("cannot make the certificates: {0}")]
    Certificates(String),
    /// The password could not be generated or hashed.
    #[error("cannot make the admin password: {0}")]
    Password(String),
    /// Two listeners on one port.
    #[error("the ports must differ: {0}")]
    Ports(String),
}

/// What was made, for the summary.
#[derive(Debug)]
pub struct Made {
    /// The instance directory (absolute).
    pub dir: PathBuf,
    /// The admin user's password (shown once, stored hashed).
    pub password: String,
}

/// Runs `hornet init`: makes the instance and prints where everything is
/// and the admin password.
pub fn run(args: &InitArgs) -> ExitCode {
    match create(args) {
        Ok(made) => {
            let dir = made.dir.display();
            println!("Created the Hornet instance {dir}:");
            println!("  {dir}/hornet.toml     configuration (TCP {}, TLS {}, WebSocket {}, secure WebSocket {})",
                args.tcp_port, args.tls_port, args.ws_port, args.wss_port);
            println!("  {dir}/passwd          users: admin");
            println!("  {dir}/certs/          CA (ca.crt, ca.key) and server certificate");
            println!("  {dir}/data/           sessions and retained messages");
            println!(
                "  {dir}/hornet-{}.service  systemd unit",
                instance_name(&made.dir)
            );
            println!("  {dir}/README.md       how to start, connect and add users");
            println!();
            println!("The admin user's password (shown only now; `hornet passwd {dir}/passwd admin` changes it):");
            println!();
            println!("  {}", made.password);
            println!();
            println!("Start the broker: hornet -c {dir}/hornet.toml");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hornet init: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Makes the instance described by `args`.
pub fn create(args: &InitArgs) -> Result<Made, InitError> {
    let ports = Ports {
        tcp: args.tcp_port,
        tls: args.tls_port,
        ws: args.ws_port,
        wss: args.wss_port,
        admin: args.admin_port,
    };
    let all = [ports.tcp, ports.tls, ports.ws, ports.wss, ports.admin];
    if let Some(p) = all
        .iter()
        .enumerate()
        .find(|(i, p)| all[..*i].contains(p))
        .map(|(_, p)| p)
    {
        return Err(InitError::Ports(format!("{p} is given twice")));
    }
    let dir = &args.dir;
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(InitError::NotEmpty(dir.clone()));
    }
    mkdir(dir, 0o755)?;
    let dir = std::fs::canonicalize(dir).map_err(|source| InitError::Write {
        path: dir.clone(),
        source,
    })?;
    let name = instance_name(&dir);
    mkdir(&dir.join("certs"), 0o755)?;
    mkdir(&dir.join("data"), 0o700)?;
    let names = pki::server_names(&args.hosts);
    pki::create(&dir.join("certs"), &name, &names)?;
    let password = generate_password()?;
    let line = hornet_auth::pbkdf2_line(
        "admin",
        password.as_bytes(),
        super::passwd::PBKDF2_DEFAULT_ITERATIONS,
    )
    .map_err(InitError::Password)?;
    write(&dir.join("passwd"), &format!("{line}\n"), 0o600)?;
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| std::fs::canonicalize(p).ok())
        .unwrap_or_else(|| PathBuf::from("/usr/bin/hornet"));
    let user = current_user();
    let instance = templates::Instance {
        dir: &dir,
        name: &name,
        ports,
        binary: &binary,
        user: user.as_deref(),
        names: &names,
    };
    write(
        &dir.join("hornet.toml"),
        &templates::hornet_toml(&instance),
        0o644,
    )?;
    write(
        &dir.join(format!("hornet-{name}.service")),
        &templates::systemd_unit(&instance),
        0o644,
    )?;
    write(&dir.join("README.md"), &templates::readme(&instance), 0o644)?;
    Ok(Made { dir, password })
}

/// The instance's name: its directory's name, reduced to what a systemd
/// unit name may hold.
fn instance_name(dir: &Path) -> String {
    let name: String = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if name.is_empty() {
        "main".into()
    } else {
        name
    }
}

/// 24 random letters and digits (about 143 bits).
fn generate_password() -> Result<String, InitError> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut out = String::with_capacity(24);
    while out.len() < 24 {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| InitError::Password(e.to_string()))?;
        // Rejection sampling: no bias towards the first letters.
        let limit = 256 - 256 % ALPHABET.len();
        for b in bytes {
            if (b as usize) < limit && out.len() < 24 {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

/// The user running `hornet init`, unless root (the unit then names none).
fn current_user() -> Option<String> {
    let uid = nix::unistd::Uid::current();
    if uid.is_root() {
        return None;
    }
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
}

fn mkdir(path: &Path, mode: u32) -> Result<(), InitError> {
    let fail = |source| InitError::Write {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(path).map_err(fail)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(fail)
}

/// Writes a new file with `mode` (created with it: a key is never
/// readable by others, even for a moment).
pub(crate) fn write(path: &Path, text: &str, mode: u32) -> Result<(), InitError> {
    let fail = |source| InitError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_24_unambiguous_characters_and_differ() {
        let a = generate_password().unwrap();
        let b = generate_password().unwrap();
        assert_eq!(a.len(), 24);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() && !"0O1lI".contains(c)));
        assert_ne!(a, b);
    }

    #[test]
    fn instance_names_fit_a_unit_name() {
        assert_eq!(instance_name(Path::new("/srv/my broker")), "my-broker");
        assert_eq!(instance_name(Path::new("/srv/edge_1")), "edge_1");
    }

    #[test]
    fn a_non_empty_directory_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keep"), "x").unwrap();
        let args = InitArgs {
            dir: dir.path().to_path_buf(),
            tcp_port: 1883,
            tls_port: 8883,
            ws_port: 8083,
            wss_port: 8084,
            admin_port: 18083,
            hosts: Vec::new(),
        };
        assert!(matches!(create(&args), Err(InitError::NotEmpty(_))));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let same = InitArgs {
            tls_port: 1883,
            ..args
        };
        assert!(matches!(create(&same), Err(InitError::Ports(_))));
    }

    #[test]
    fn the_configuration_written_loads() {
        let dir = tempfile::tempdir().unwrap();
        let args = InitArgs {
            dir: dir.path().join("inst"),
            tcp_port: 1883,
            tls_port: 8883,
            ws_port: 8083,
            wss_port: 8084,
            admin_port: 18083,
            hosts: vec!["broker.example".into()],
        };
        let made = create(&args).unwrap();
        let loaded = crate::config::load(&made.dir.join("hornet.toml")).unwrap();
        let kinds: Vec<_> = loaded
            .config
            .listeners
            .iter()
            .map(|l| l.kind.name())
            .collect();
        assert_eq!(kinds, ["tcp", "tls", "ws", "wss"]);
        let users = crate::config::load_password_file(&made.dir.join("passwd")).unwrap();
        assert_eq!(users.len(), 1);
        let mode = std::fs::metadata(made.dir.join("certs/server.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!std::fs::read_to_string(made.dir.join("README.md"))
            .unwrap()
            .contains(&made.password));
    }
}
