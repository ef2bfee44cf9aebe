//! The pure part of `hornet passwd`: a password file as its lines, edited
//! without I/O.
//!
//! [`PasswdLines`] keeps every line it does not change, in order: comments,
//! blank lines and the other users' lines (only a Windows line end `\r\n`
//! is written back as `\n`). Adding a user
//! replaces their line where it stands (dropping later duplicates, which
//! Mosquitto ignores and Hornet refuses) or appends one; deleting removes
//! every line of that user; [`PasswdLines::hash_plaintext`] (`-U`) hashes
//! plain-text `user:password` lines and leaves lines that already hold a
//! hash Hornet reads as they are, so running `-U` twice does not hash a
//! hash (which `mosquitto_passwd -U` does).
//!
//! A line that is neither a comment, blank, nor `user:...` makes the whole
//! file refused ([`CorruptLine`]), so nothing is written over a file this
//! tool does not understand (`mosquitto_passwd` 2.0 would drop the lines).

use std::fmt;

/// One line of the file, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    /// A blank line or a comment (first non-blank character `#`), kept as is.
    Other(String),
    /// `user:credential`, kept as is unless this user is changed.
    User {
        /// The text before the first `:`.
        name: String,
        /// The whole line.
        raw: String,
    },
}

/// A line that is not `user:...`, a comment or blank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorruptLine {
    /// Its number, from 1.
    pub line: usize,
}

impl fmt::Display for CorruptLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Corrupt password file at line {} (expected `username:hash`, a comment \
             starting with `#` or a blank line); the file is left unchanged.",
            self.line
        )
    }
}

impl std::error::Error for CorruptLine {}

/// What [`PasswdLines::set`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOutcome {
    /// The user was not in the file: their line was appended.
    Added,
    /// The user's line was replaced where it stood.
    Updated,
}

/// What [`PasswdLines::hash_plaintext`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Converted {
    /// Plain-text lines now hashed.
    pub hashed: usize,
    /// Lines that already held a hash, kept as they were.
    pub kept: usize,
}

/// A password file's lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswdLines {
    lines: Vec<Line>,
}

impl PasswdLines {
    /// An empty file (`-c`).
    pub fn new() -> PasswdLines {
        PasswdLines::default()
    }

    /// Splits the text of a password file into lines; refuses a line that is
    /// not `user:...`, a comment or blank. A leading byte order mark is
    /// dropped.
    pub fn parse(text: &str) -> Result<PasswdLines, CorruptLine> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                lines.push(Line::Other(raw.to_string()));
                continue;
            }
            match raw.split_once(':') {
                Some((name, _)) => lines.push(Line::User {
                    name: name.to_string(),
                    raw: raw.to_string(),
                }),
                None => return Err(CorruptLine { line: index + 1 }),
            }
        }
        Ok(PasswdLines { lines })
    }

    /// The text to write: every line followed by a line break.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for line in &self.lines {
            match line {
                Line::Other(raw) | Line::User { raw, .. } => text.push_str(raw),
            }
            text.push('\n');
        }
        text
    }

    /// The user names, in file order (duplicates included).
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().filter_map(|line| match line {
            Line::User { name, .. } => Some(name.as_str()),
            Line::Other(_) => None,
        })
    }

    /// Sets `user`'s line to `line` (a whole `user:hash` line): replaces
    /// the first line of that user and removes any later one, or appends.
    pub fn set(&mut self, user: &str, line: String) -> SetOutcome {
        let mut line = Some(line);
        self.lines.retain_mut(|l| match l {
            Line::User { name, raw } if name == user => match line.take() {
                Some(new) => {
                    *raw = new;
                    true
                }
                None => false,
            },
            _ => true,
        });
        match line {
            Some(new) => {
                self.lines.push(Line::User {
                    name: user.to_string(),
                    raw: new,
                });
                SetOutcome::Added
            }
            None => SetOutcome::Updated,
        }
    }

    /// Removes every line of `user`; false if there was none.
    pub fn delete(&mut self, user: &str) -> bool {
        let before = self.lines.len();
        self.lines
            .retain(|l| !matches!(l, Line::User { name, .. } if name == user));
        self.lines.len() != before
    }

    /// `-U`: replaces each plain-text `user:password` line with
    /// `hash(user, password)` (a whole line). Lines whose credential
    /// `is_hashed` are kept. Stops at the first error of `hash`, with the
    /// lines changed so far changed (the caller then writes nothing).
    pub fn hash_plaintext(
        &mut self,
        is_hashed: impl Fn(&str) -> bool,
        mut hash: impl FnMut(&str, &str) -> Result<String, String>,
    ) -> Result<Converted, String> {
        let mut done = Converted::default();
        for line in &mut self.lines {
            let Line::User { name, raw } = line else {
                continue;
            };
            let credential = raw[name.len() + 1..].trim_end_matches('\r');
            if is_hashed(credential) {
                done.kept += 1;
                continue;
            }
            *raw = hash(name, credential)?;
            done.hashed += 1;
        }
        Ok(done)
    }
}

/// Checks that `user` can be stored in a password file, with
/// `mosquitto_passwd`'s words for the refusal.
pub fn check_user_name(user: &str) -> Result<(), &'static str> {
    if user.is_empty() {
        Err("Username must not be empty.")
    } else if user.contains(':') {
        Err("Username must not contain the ':' character.")
    } else if user.chars().any(char::is_control) {
        Err("Username must not contain control characters.")
    } else if user.trim_start().starts_with('#') {
        // Its line would read as a comment.
        Err("Username must not start with the '#' character.")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# users of the plant\n\
                        alice:$7$101$c2FsdA==$aGFzaA==\n\
                        \n\
                        bob:$6$c2FsdA==$aGFzaA==\n\
                        # end\n";

    #[test]
    fn unchanged_file_round_trips() {
        let lines = PasswdLines::parse(FILE).unwrap();
        assert_eq!(lines.to_text(), FILE);
        assert_eq!(lines.users().collect::<Vec<_>>(), ["alice", "bob"]);
        // A missing final line break is added; CRLF becomes LF.
        let lines = PasswdLines::parse("a:x\r\nb:y").unwrap();
        assert_eq!(lines.to_text(), "a:x\nb:y\n");
        assert_eq!(PasswdLines::parse("").unwrap().to_text(), "");
        let lines = PasswdLines::parse("\u{feff}a:x\n").unwrap();
        assert_eq!(lines.users().collect::<Vec<_>>(), ["a"]);
    }

    #[test]
    fn set_replaces_in_place_or_appends() {
        let mut lines = PasswdLines::parse(FILE).unwrap();
        assert_eq!(lines.set("alice", "alice:NEW".into()), SetOutcome::Updated);
        assert_eq!(
            lines.to_text(),
            FILE.replace("alice:$7$101$c2FsdA==$aGFzaA==", "alice:NEW")
        );
        assert_eq!(lines.set("carol", "carol:C".into()), SetOutcome::Added);
        assert!(lines.to_text().ends_with("# end\ncarol:C\n"));
        assert!(lines.to_text().contains("bob:$6$c2FsdA==$aGFzaA==\n"));
    }

    #[test]
    fn set_drops_later_duplicates() {
        let mut lines = PasswdLines::parse("a:1\nb:2\na:3\n").unwrap();
        assert_eq!(lines.set("a", "a:new".into()), SetOutcome::Updated);
        assert_eq!(lines.to_text(), "a:new\nb:2\n");
    }

    #[test]
    fn delete_removes_every_line_of_the_user() {
        let mut lines = PasswdLines::parse(FILE).unwrap();
        assert!(lines.delete("alice"));
        assert_eq!(
            lines.to_text(),
            "# users of the plant\n\nbob:$6$c2FsdA==$aGFzaA==\n# end\n"
        );
        assert!(!lines.delete("alice"));
        assert!(!lines.delete("carol"));
        let mut lines = PasswdLines::parse("a:1\nb:2\na:3\n").unwrap();
        assert!(lines.delete("a"));
        assert_eq!(lines.to_text(), "b:2\n");
    }

    #[test]
    fn corrupt_lines_are_refused_with_their_number() {
        let err = PasswdLines::parse("a:1\n# ok\n\nno colon here\n").unwrap_err();
        assert_eq!(err, CorruptLine { line: 4 });
        assert!(err.to_string().contains("line 4"), "{err}");
    }

    #[test]
    fn hash_plaintext_keeps_hashes_and_other_lines() {
        let mut lines =
            PasswdLines::parse("# plain\np:plain pw\nh:$7$hashed\n\nq:other:with:colons\r\n")
                .unwrap();
        let converted = lines
            .hash_plaintext(
                |c| c.starts_with("$7$"),
                |user, pw| Ok(format!("{user}:H({pw})")),
            )
            .unwrap();
        assert_eq!(converted, Converted { hashed: 2, kept: 1 });
        assert_eq!(
            lines.to_text(),
            "# plain\np:H(plain pw)\nh:$7$hashed\n\nq:H(other:with:colons)\n"
        );
    }

    #[test]
    fn hash_plaintext_reports_the_first_error() {
        let mut lines = PasswdLines::parse("a:1\nb:2\n").unwrap();
        let err = lines
            .hash_plaintext(|_| false, |user, _| Err(format!("cannot hash {user}")))
            .unwrap_err();
        assert_eq!(err, "cannot hash a");
    }

    #[test]
    fn user_names_the_file_cannot_hold() {
        assert!(check_user_name("alice").is_ok());
        assert!(check_user_name("élodie@site").is_ok());
        assert_eq!(
            check_user_name("a:b"),
            Err("Username must not contain the ':' character.")
        );
        assert_eq!(check_user_name(""), Err("Username must not be empty."));
        assert_eq!(
            check_user_name(" #root"),
            Err("Username must not start with the '#' character.")
        );
        assert!(check_user_name("a#b").is_ok());
        assert_eq!(
            check_user_name("a\nb"),
            Err("Username must not contain control characters.")
        );
    }
}
