//! Reading and writing the password file for `hornet passwd`: reads it
//! whole into [`PasswdLines`]; writes it atomically (a temporary file
//! beside it, synced, renamed over it), mode 0600 when new, keeping an
//! existing file's mode, owner and group.

use std::io::Write;
use std::path::Path;

use super::edit::PasswdLines;
use super::{fail, Failure};

/// Reads `file`; `mosquitto_passwd`'s words when it cannot be opened.
pub(super) fn read_lines(file: &Path) -> Result<PasswdLines, Failure> {
    let text = std::fs::read_to_string(file).or_else(|e| {
        fail(format!(
            "Unable to open password file {}. {}.",
            file.display(),
            io_reason(&e)
        ))
    })?;
    PasswdLines::parse(&text).or_else(|e| fail(format!("{}: {e}", file.display())))
}

/// An I/O error without Rust's ` (os error N)` suffix, as `strerror` says it.
pub(super) fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Writes `text` to `file` atomically: a temporary file beside it, synced,
/// then renamed over it. A new file gets mode 0600; an existing one keeps
/// its mode, owner and group (when allowed). A symbolic link is followed,
/// so the link stays and its target is replaced.
pub(super) fn write_file(file: &Path, text: &str) -> Result<(), Failure> {
    let target = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let existing = std::fs::metadata(&target).ok();
    let cannot = |e: std::io::Error| Failure {
        code: 1,
        message: format!(
            "Unable to open file {} for writing. {}.",
            file.display(),
            io_reason(&e)
        ),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "passwd".into());
    let temp = target.with_file_name(format!(".{name}.hornet-{}.tmp", std::process::id()));
    let written =
        write_temp(&temp, text, existing.as_ref()).and_then(|()| std::fs::rename(&temp, &target));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(cannot(e));
    }
    #[cfg(unix)]
    if let Some(m) = &existing {
        use std::os::unix::fs::MetadataExt as _;
        if m.mode() & 0o004 != 0 {
            eprintln!(
                "Warning: {} is readable by every user of this machine (mode {:o}); \
                 `chmod 600` it, or `chmod 640` with the broker's group.",
                file.display(),
                m.mode() & 0o777
            );
        }
    }
    // The rename is durable once the directory is synced.
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

fn write_temp(
    temp: &Path,
    text: &str,
    existing: Option<&std::fs::Metadata>,
) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
        let mode = existing.map_or(0o600, |m| m.mode() & 0o7777);
        options.mode(mode);
        mode
    };
    let mut out = options.open(temp)?;
    out.write_all(text.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        // The umask may have taken bits off: set the mode exactly.
        out.set_permissions(std::fs::Permissions::from_mode(mode))?;
        if let Some(m) = existing {
            // Only root may give a file away; others keep their own.
            let _ = std::os::unix::fs::fchown(&out, Some(m.uid()), Some(m.gid()));
        }
    }
    #[cfg(not(unix))]
    let _ = existing;
    out.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_file_is_atomic_with_mode_0600_and_keeps_an_existing_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        write_file(&path, "a:1\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a:1\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
            write_file(&path, "a:2\n").unwrap();
            assert_eq!(mode(&path), 0o640);
            // A symbolic link stays a link; its target is replaced.
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(&path, &link).unwrap();
            write_file(&link, "a:3\n").unwrap();
            assert!(std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink());
            assert_eq!(std::fs::read_to_string(&path).unwrap(), "a:3\n");
        }
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), if cfg!(unix) { 2 } else { 1 }, "{names:?}");
        let err = write_file(&dir.path().join("no/such/dir"), "x").unwrap_err();
        assert!(
            err.message.starts_with("Unable to open file"),
            "{}",
            err.message
        );
    }
}
