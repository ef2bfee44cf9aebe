//! The process as Mosquitto runs it: `-d` (run in the background, the
//! command returning once the broker serves), readiness (`NOTIFY_SOCKET`,
//! systemd's `sd_notify` protocol), `pid_file` and `user` (drop root once
//! the listeners are bound).
//!
//! `-d` starts the same command again without it, in its own process
//! group, with a `NOTIFY_SOCKET` of its own: the command forwards the
//! broker's output while it starts (so a start error reaches the
//! terminal), exits 0 when the broker says `READY=1`, and 1 when it ends
//! first. Afterwards the broker's standard output and error lead nowhere,
//! as Mosquitto's do after `-d`; `log_dest` says where the log goes.

use std::ffi::{CString, OsString};
use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use nix::unistd::{geteuid, initgroups, setgid, setuid, User};

/// The variable naming the socket readiness is reported to.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// How often the waiting command looks whether the broker ended.
const EXIT_CHECK: Duration = Duration::from_millis(100);

/// Why the process could not be set up as configured.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The background process could not be started.
    #[error("cannot run in the background: {0}")]
    Daemon(io::Error),
    /// The pid file could not be written.
    #[error("cannot write the pid_file {path}: {source}")]
    PidFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// `user` names no user of this system.
    #[error("user {0:?} does not exist on this system (the user setting)")]
    NoSuchUser(String),
    /// Switching to `user` failed.
    #[error("cannot switch to user {user:?}: {source}")]
    Switch {
        /// The user.
        user: String,
        /// Why.
        source: nix::Error,
    },
}

/// The arguments without `-d` / `--daemon` (also taken out of a cluster
/// of short flags such as `-vd`).
fn without_daemon_flag(args: impl Iterator<Item = OsString>) -> Vec<OsString> {
    args.filter_map(|a| {
        let Some(s) = a.to_str() else { return Some(a) };
        if s == "-d" || s == "--daemon" {
            return None;
        }
        let cluster = s.len() > 2
            && s.starts_with('-')
            && !s.starts_with("--")
            && s[1..].chars().all(|c| c == 'd' || c == 'v');
        if cluster {
            let rest: String = s[1..].chars().filter(|c| *c != 'd').collect();
            return Some(OsString::from(format!("-{rest}")));
        }
        Some(a)
    })
    .collect()
}

/// `-d`: runs the broker in the background and returns once it serves
/// (0) or has ended (1).
pub fn run_in_background() -> ExitCode {
    match background() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hornet: {}", ProcessError::Daemon(e));
            ExitCode::FAILURE
        }
    }
}

fn background() -> io::Result<ExitCode> {
    let dir = tempfile_dir()?;
    let path = dir.join("ready.sock");
    let socket = UnixDatagram::bind(&path)?;
    socket.set_read_timeout(Some(EXIT_CHECK))?;
    let result = (|| {
        let mut child = Command::new(std::env::current_exe()?)
            .args(without_daemon_flag(std::env::args_os().skip(1)))
            .env(NOTIFY_SOCKET, &path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()?;
        let out = forward(child.stdout.take(), io::stdout());
        let err = forward(child.stderr.take(), io::stderr());
        let mut buf = [0u8; 256];
        loop {
            match socket.recv(&mut buf) {
                Ok(n) if buf[..n].split(|b| *b == b'\n').any(|l| l == b"READY=1") => {
                    return Ok(ExitCode::SUCCESS);
                }
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e),
            }
            if child.try_wait()?.is_some() {
                // Its last words, then the verdict.
                for t in [out, err] {
                    let _ = t.join();
                }
                eprintln!("hornet: the broker did not start (see the messages above or its log)");
                return Ok(ExitCode::FAILURE);
            }
        }
    })();
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir(&dir);
    result
}

/// A fresh private directory for the readiness socket.
fn tempfile_dir() -> io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    for n in 0..100u32 {
        let dir = base.join(format!("hornet-start-{}-{n}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free directory name for the start socket",
    ))
}

/// Copies a child's output to ours, line by line, until it ends.
fn forward<R: io::Read + Send + 'static, W: Write + Send + 'static>(
    from: Option<R>,
    mut to: W,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Some(mut from) = from else { return };
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
            let _ = to.flush();
        }
    })
}

/// Reports `READY=1` (and the main pid) to `NOTIFY_SOCKET` when it is set:
/// to the `-d` command waiting for it, or to systemd (`Type=notify`).
pub fn notify_ready() {
    let Some(target) = std::env::var_os(NOTIFY_SOCKET) else {
        return;
    };
    let message = format!("READY=1\nMAINPID={}\n", std::process::id());
    let Ok(socket) = UnixDatagram::unbound() else {
        return;
    };
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(target.as_os_str());
    let sent = match bytes.strip_prefix(b"@") {
        // systemd may name a socket in the abstract namespace.
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name)
                .and_then(|addr| socket.send_to_addr(message.as_bytes(), &addr))
        }
        None => socket.send_to(message.as_bytes(), Path::new(&target)),
    };
    if let Err(e) = sent {
        tracing::warn!(
            "Cannot report readiness to {}: {e}",
            target.to_string_lossy()
        );
    }
}

/// The pid file, removed when dropped (at exit).
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes this process's id and a newline to `path`.
    pub fn write(path: &Path) -> Result<PidFile, ProcessError> {
        std::fs::write(path, format!("{}\n", std::process::id())).map_err(|source| {
            ProcessError::PidFile {
                path: path.to_path_buf(),
                source,
            }
        })?;
        Ok(PidFile {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // After dropping root the file may not be ours to remove, as with
        // Mosquitto; a stale pid file is harmless.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What [`drop_privileges`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Switched {
    /// Now running as the user, with these ids.
    To {
        /// User id.
        uid: u32,
        /// Group id.
        gid: u32,
    },
    /// Not started as root: the setting has nothing to do.
    NotRoot,
    /// That user is root.
    Already,
}

/// Switches every thread to `user` (its group and supplementary groups
/// first) when running as root, as Mosquitto does after binding.
pub fn drop_privileges(user: &str) -> Result<Switched, ProcessError> {
    if !geteuid().is_root() {
        return Ok(Switched::NotRoot);
    }
    let found = User::from_name(user)
        .ok()
        .flatten()
        .ok_or_else(|| ProcessError::NoSuchUser(user.into()))?;
    if found.uid.is_root() {
        return Ok(Switched::Already);
    }
    let fail = |source| ProcessError::Switch {
        user: user.into(),
        source,
    };
    let name = CString::new(user).map_err(|_| ProcessError::NoSuchUser(user.into()))?;
    // glibc applies each of these to every thread of the process.
    initgroups(&name, found.gid).map_err(fail)?;
    setgid(found.gid).map_err(fail)?;
    setuid(found.uid).map_err(fail)?;
    Ok(Switched::To {
        uid: found.uid.as_raw(),
        gid: found.gid.as_raw(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        without_daemon_flag(list.iter().map(OsString::from))
    }

    #[test]
    fn the_background_command_is_the_same_without_d() {
        assert_eq!(args(&["-c", "m.conf", "-d"]), args(&["-c", "m.conf"]));
        assert_eq!(args(&["--daemon", "serve", "-v"]), args(&["serve", "-v"]));
        assert_eq!(args(&["-vd"]), args(&["-v"]));
        assert_eq!(args(&["-c", "-d.conf"]), args(&["-c", "-d.conf"]));
    }
}
