//! Mosquitto's `acl_file`: who may publish, subscribe to and receive which
//! topics, as the core's [`Authorizer`].
//!
//! The syntax, line by line (Mosquitto's `mosquitto.conf(5)`):
//!
//! ```text
//! # a comment (also after leading blanks); blank lines are skipped
//! topic [read|write|readwrite|deny] FILTER   # no access word: readwrite
//! user USERNAME                              # the rules below are this user's
//! pattern [read|write|readwrite|deny] FILTER # every client; %c = client id, %u = user
//! ```
//!
//! - `topic` lines before the first `user` line apply to anonymous
//!   clients (no user name); after it, to that user only. A user without
//!   a section has only the patterns.
//! - `pattern` lines apply to every client wherever they stand. `%c` and
//!   `%u` stand for a whole level (`devices/%c/#`); a pattern with `%u` is
//!   skipped for anonymous clients; a client whose id or user contains `+`
//!   or `#` is denied when patterns exist (it could otherwise match other
//!   clients' topics).
//! - FILTER is a topic filter (`+` and `#` allowed) and may contain spaces.
//! - Decision, as Mosquitto makes it: first the client's own `topic` rules
//!   (its user's, or the anonymous ones), `deny` rules first, then the
//!   rules in file order; the first rule whose filter matches and that
//!   grants the access (or denies) decides. Then the patterns the same
//!   way. Nothing matched: denied.
//! - A `$` topic matches only rules that start with `$` ([MQTT-4.7.2-1]).
//!
//! SUBSCRIBE (Mosquitto 2.0's file ACL grants every subscription and
//! filters at delivery; Hornet also answers the SUBSCRIBE): a filter is
//! granted when a `read` rule's filter covers it (every topic the filter
//! can match is matched by the rule: `sensors/#` covers `sensors/+/temp`,
//! not `#`) and no `deny` rule covers it. Messages are still checked for
//! `read` one by one at delivery, so `topic read #` with `topic deny
//! secret/#` grants a subscription to `#` but never delivers `secret/x`.
//!
//! Errors name the line. Rules are compiled once into levels, so a check
//! is a walk over the topic's levels per rule without allocating.

use std::collections::HashMap;
use std::fmt;

use hornet_core::{Access, Authorizer, Denied, Principal};

const READ: u8 = 1;
const WRITE: u8 = 2;
const DENY: u8 = 0;

/// One level of a compiled rule filter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Level {
    Literal(Box<str>),
    Plus,
    Hash,
    ClientId,
    Username,
}

/// One `topic` or `pattern` line.
#[derive(Debug, Clone)]
struct Rule {
    /// Where it was written, for log lines: `acl_file line 3`.
    origin: Box<str>,
    /// `topic read a/b`, as written, for log lines.
    text: Box<str>,
    /// READ | WRITE, or DENY.
    access: u8,
    levels: Vec<Level>,
    /// The filter has `%u`: skipped for anonymous clients.
    needs_user: bool,
}

impl Rule {
    fn describe(&self) -> String {
        format!("{}: `{}`", self.origin, self.text)
    }
}

/// A line of an ACL file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for AclError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for AclError {}

/// A parsed ACL file (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct AclFile {
    /// `topic` rules before any `user` line: anonymous clients'.
    anonymous: Vec<Rule>,
    /// Each user's `topic` rules.
    users: HashMap<String, Vec<Rule>>,
    /// `pattern` rules, for everyone.
    patterns: Vec<Rule>,
    /// Things Mosquitto warns about too (a pattern without `%c` or `%u`).
    warnings: Vec<String>,
    /// What the rules are, for log lines (`None`: the acl_file).
    source: Option<Box<str>>,
}

impl AclFile {
    /// Parses the text of an ACL file.
    pub fn parse(text: &str) -> Result<AclFile, AclError> {
        Self::parse_from(text, None, false, |line| format!("acl_file line {line}"))
    }

    /// Parses rules in the ACL file syntax that come from elsewhere (the
    /// runtime users' roles): `source` names them in a denial ("no rule of
    /// SOURCE grants ..."), `origin(line)` names one rule; with
    /// `substitute`, `topic` lines take `%c` and `%u` as patterns do.
    pub fn parse_from(
        text: &str,
        source: Option<&str>,
        substitute: bool,
        origin: impl Fn(usize) -> String,
    ) -> Result<AclFile, AclError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut acl = AclFile {
            source: source.map(Into::into),
            ..AclFile::default()
        };
        let mut user: Option<String> = None;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.trim();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let fail = |reason: String| AclError { line, reason };
            let (keyword, rest) = match content.split_once(char::is_whitespace) {
                Some((k, r)) => (k, r.trim()),
                None => (content, ""),
            };
            match keyword {
                "user" => {
                    if rest.is_empty() {
                        return Err(fail("`user` needs a user name".into()));
                    }
                    user = Some(rest.to_string());
                    acl.users.entry(rest.to_string()).or_default();
                }
                "topic" | "pattern" => {
                    let pattern = keyword == "pattern";
                    let (access, filter) = parse_access(rest).map_err(&fail)?;
                    let (levels, needs_user, has_subst) =
                        compile(filter, pattern || substitute).map_err(&fail)?;
                    if pattern && !has_subst {
                        acl.warnings.push(format!(
                            "line {line}: pattern '{filter}' has neither %c nor %u, so it \
                             applies to every client like a topic line"
                        ));
                    }
                    let rule = Rule {
                        origin: origin(line).into(),
                        text: content.into(),
                        access,
                        levels,
                        needs_user,
                    };
                    let list = if pattern {
                        &mut acl.patterns
                    } else if let Some(u) = &user {
                        acl.users.get_mut(u).expect("entry made at `user`")
                    } else {
                        &mut acl.anonymous
                    };
                    list.push(rule);
                }
                other => {
                    return Err(fail(format!(
                        "unknown keyword '{other}' (expected topic, pattern or user)"
                    )))
                }
            }
        }
        // Deny rules are tried first, then the others in file order.
        let order = |rules: &mut Vec<Rule>| rules.sort_by_key(|r| r.access != DENY);
        order(&mut acl.anonymous);
        order(&mut acl.patterns);
        acl.users.values_mut().for_each(order);
        Ok(acl)
    }

    /// Rules in the file (`topic` and `pattern` lines).
    pub fn len(&self) -> usize {
        self.anonymous.len()
            + self.patterns.len()
            + self.users.values().map(Vec::len).sum::<usize>()
    }

    /// Whether the file has no rules (everything is denied).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Users with a `user` section.
    pub fn users(&self) -> usize {
        self.users.len()
    }

    /// What Mosquitto would warn about (not errors), for the log.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The decision for `who` on `topic` (see the module doc).
    pub fn check(&self, who: Principal<'_>, topic: &str, access: Access) -> Result<(), Denied> {
        let want = match access {
            Access::Read | Access::Subscribe => READ,
            Access::Write => WRITE,
        };
        let own = match who.username {
            Some(u) => self.users.get(u).map(Vec::as_slice).unwrap_or_default(),
            None => &self.anonymous,
        };
        if let Some(decision) = decide(own, who, topic, access, want) {
            return decision;
        }
        if !self.patterns.is_empty() {
            if let Some(u) = who.username.filter(|u| u.contains(['+', '#'])) {
                return Err(Denied(format!(
                    "the user name '{u}' contains + or #, which patterns cannot hold safely"
                )));
            }
            if who.client_id.contains(['+', '#']) {
                return Err(Denied(format!(
                    "the client id '{}' contains + or #, which patterns cannot hold safely",
                    who.client_id
                )));
            }
            if let Some(decision) = decide(&self.patterns, who, topic, access, want) {
                return decision;
            }
        }
        Err(Denied(format!(
            "no {} rule grants {} {access} access",
            self.source.as_deref().unwrap_or("acl_file"),
            match who.username {
                Some(u) => format!("user '{u}'"),
                None => "anonymous clients".to_string(),
            }
        )))
    }
}

impl Authorizer for AclFile {
    fn authorize(&self, who: Principal<'_>, topic: &str, access: Access) -> Result<(), Denied> {
        self.check(who, topic, access)
    }
}

/// The first rule of `rules` that decides, if any.
fn decide(
    rules: &[Rule],
    who: Principal<'_>,
    topic: &str,
    access: Access,
    want: u8,
) -> Option<Result<(), Denied>> {
    // The first level decides for most rules: compare it once per rule
    // instead of walking the topic.
    let first = topic.split('/').next().unwrap_or_default();
    for rule in rules {
        if rule.needs_user && who.username.is_none() {
            continue;
        }
        if let Some(Level::Literal(l)) = rule.levels.first() {
            if **l != *first {
                continue;
            }
        }
        let hit = match access {
            Access::Subscribe => covers(&rule.levels, topic, who),
            Access::Read | Access::Write => matches(&rule.levels, topic, who),
        };
        if !hit {
            continue;
        }
        if rule.access == DENY {
            return Some(Err(Denied(format!("denied by {}", rule.describe()))));
        }
        if rule.access & want != 0 {
            return Some(Ok(()));
        }
    }
    None
}

/// `[read|write|readwrite|deny] FILTER` → access and filter. As in
/// Mosquitto, a single word is the filter with readwrite access.
fn parse_access(rest: &str) -> Result<(u8, &str), String> {
    if rest.is_empty() {
        return Err("a topic filter is missing".into());
    }
    let (first, filter) = match rest.split_once(char::is_whitespace) {
        Some((a, f)) => (a, f.trim()),
        None => return Ok((READ | WRITE, rest)),
    };
    let access = match first {
        "read" => READ,
        "write" => WRITE,
        "readwrite" => READ | WRITE,
        "deny" => DENY,
        other => {
            return Err(format!(
                "invalid access '{other}' (expected read, write, readwrite or deny)"
            ))
        }
    };
    Ok((access, filter))
}

/// Compiles a rule filter into levels; also says whether it has `%u` and
/// whether it has any substitution.
fn compile(filter: &str, pattern: bool) -> Result<(Vec<Level>, bool, bool), String> {
    hornet_codec::topic::validate_filter(filter)
        .map_err(|e| format!("invalid topic filter '{filter}': {e}"))?;
    let mut needs_user = false;
    let mut subst = false;
    let levels = filter
        .split('/')
        .map(|level| match level {
            "+" => Level::Plus,
            "#" => Level::Hash,
            "%c" if pattern => {
                subst = true;
                Level::ClientId
            }
            "%u" if pattern => {
                subst = true;
                needs_user = true;
                Level::Username
            }
            other => Level::Literal(other.into()),
        })
        .collect();
    Ok((levels, needs_user, subst))
}

/// Whether a rule level equals a literal topic (or filter) level.
fn level_is(level: &Level, text: &str, who: Principal<'_>) -> bool {
    match level {
        Level::Literal(l) => &**l == text,
        Level::ClientId => who.client_id == text,
        Level::Username => who.username == Some(text),
        Level::Plus | Level::Hash => true,
    }
}

/// Whether the rule filter matches the topic name ([MQTT-4.7.2-1]: a
/// wildcard first level does not match a `$` topic).
fn matches(rule: &[Level], topic: &str, who: Principal<'_>) -> bool {
    if topic.starts_with('$') && matches!(rule.first(), Some(Level::Plus | Level::Hash)) {
        return false;
    }
    let mut levels = topic.split('/');
    for r in rule {
        if *r == Level::Hash {
            return true;
        }
        match levels.next() {
            Some(t) => {
                if !level_is(r, t, who) {
                    return false;
                }
            }
            // The topic ended before the rule (`a/#` matching `a` returned
            // at the `#` above).
            None => return false,
        }
    }
    levels.next().is_none()
}

/// Whether every topic the subscription `filter` can match is matched by
/// the rule filter.
fn covers(rule: &[Level], filter: &str, who: Principal<'_>) -> bool {
    let mut levels = filter.split('/').peekable();
    // A literal `$` first level is matched only by a rule that names it.
    let dollar = levels.peek().is_some_and(|l| l.starts_with('$'));
    if dollar && matches!(rule.first(), Some(Level::Plus | Level::Hash)) {
        return false;
    }
    let mut rule_levels = rule.iter().peekable();
    loop {
        match (rule_levels.next(), levels.next()) {
            (Some(Level::Hash), _) => return true,
            (None, None) => return true,
            (Some(r), Some(f)) => {
                let ok = match (r, f) {
                    (_, "#") => false,
                    (Level::Plus, _) => true,
                    (_, "+") => false,
                    (r, f) => level_is(r, f, who),
                };
                if !ok {
                    return false;
                }
            }
            // The filter goes on where the rule ended, or the filter
            // ended where the rule goes on (only `a/#` ⊇ `a`).
            (None, Some(_)) => return false,
            (Some(_), None) => return false,
        }
        // `sensors/#` ⊇ `sensors`: the filter ended and only `#` is left.
        if levels.peek().is_none() && rule_levels.peek() == Some(&&Level::Hash) {
            return true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who<'a>(client_id: &'a str, username: Option<&'a str>) -> Principal<'a> {
        Principal {
            client_id,
            username,
        }
    }

    fn ok(acl: &AclFile, w: Principal<'_>, topic: &str, access: Access) -> bool {
        acl.check(w, topic, access).is_ok()
    }

    const FILE: &str = "\
# anonymous clients
topic read public/#
topic write public/in

user alice
topic readwrite alice/#
topic read sensors/+/temp
topic deny alice/secret
topic readwrite with spaces/x

user bob
topic write sensors/bob/#

pattern read devices/%c/#
pattern write users/%u/out
";

    #[test]
    fn users_anonymous_and_patterns() {
        let acl = AclFile::parse(FILE).unwrap();
        let anon = who("c1", None);
        let alice = who("a1", Some("alice"));
        let bob = who("b1", Some("bob"));
        assert!(ok(&acl, anon, "public/news", Access::Read));
        assert!(!ok(&acl, anon, "public/news", Access::Write));
        assert!(ok(&acl, anon, "public/in", Access::Write));
        assert!(!ok(&acl, anon, "alice/x", Access::Read));
        // Anonymous rules are not a default for users.
        assert!(!ok(&acl, alice, "public/news", Access::Read));
        assert!(ok(&acl, alice, "alice/x", Access::Write));
        assert!(ok(&acl, alice, "alice", Access::Read), "a/# matches a");
        assert!(!ok(&acl, alice, "alice/secret", Access::Read), "deny first");
        assert!(ok(&acl, alice, "sensors/k/temp", Access::Read));
        assert!(!ok(&acl, alice, "sensors/k/temp", Access::Write));
        assert!(ok(&acl, alice, "with spaces/x", Access::Write));
        assert!(ok(&acl, bob, "sensors/bob/t", Access::Write));
        assert!(!ok(&acl, bob, "sensors/bob/t", Access::Read));
        // Patterns for everyone; %u only for users.
        assert!(ok(&acl, anon, "devices/c1/state", Access::Read));
        assert!(!ok(&acl, anon, "devices/c2/state", Access::Read));
        assert!(ok(&acl, bob, "users/bob/out", Access::Write));
        assert!(!ok(&acl, bob, "users/alice/out", Access::Write));
        assert!(!ok(&acl, anon, "users//out", Access::Write));
        // A user without a section has only the patterns.
        let carol = who("c3", Some("carol"));
        assert!(ok(&acl, carol, "devices/c3/x", Access::Read));
        assert!(!ok(&acl, carol, "public/news", Access::Read));
    }

    #[test]
    fn denials_name_the_rule() {
        let acl = AclFile::parse(FILE).unwrap();
        let err = acl
            .check(who("a1", Some("alice")), "alice/secret", Access::Write)
            .unwrap_err();
        assert_eq!(
            err.0,
            "denied by acl_file line 8: `topic deny alice/secret`"
        );
        let err = acl
            .check(who("a1", Some("alice")), "nope", Access::Write)
            .unwrap_err();
        assert_eq!(err.0, "no acl_file rule grants user 'alice' write access");
    }

    #[test]
    fn dollar_topics_need_dollar_rules() {
        let acl = AclFile::parse("topic read #\ntopic read $SYS/broker/#\n").unwrap();
        let anon = who("c", None);
        assert!(ok(&acl, anon, "a/b", Access::Read));
        assert!(ok(&acl, anon, "$SYS/broker/uptime", Access::Read));
        assert!(!ok(&acl, anon, "$other/x", Access::Read));
        assert!(!ok(&acl, anon, "$other/#", Access::Subscribe));
        assert!(ok(&acl, anon, "$SYS/broker/+", Access::Subscribe));
    }

    #[test]
    fn wildcard_ids_are_denied_when_patterns_exist() {
        let acl = AclFile::parse("pattern readwrite devices/%c/#\n").unwrap();
        assert!(!ok(&acl, who("+", None), "devices/x/y", Access::Read));
        assert!(!ok(&acl, who("a", Some("#")), "devices/a/y", Access::Read));
        assert!(ok(&acl, who("a", Some("u")), "devices/a/y", Access::Read));
    }

    #[test]
    fn subscriptions_must_be_covered_by_a_read_rule() {
        let acl = AclFile::parse(
            "topic read sensors/#\ntopic write cmd/#\ntopic read a/+/c\ntopic deny sensors/secret/#\n\
             topic read all/#\ntopic deny all/private\npattern read dev/%c/+\n",
        )
        .unwrap();
        let w = who("d1", None);
        let sub = |f: &str| ok(&acl, w, f, Access::Subscribe);
        assert!(sub("sensors/#"));
        assert!(sub("sensors"));
        assert!(sub("sensors/+/temp"));
        assert!(!sub("#"), "wider than the rule");
        assert!(!sub("+/x"));
        assert!(!sub("cmd/x"), "write only");
        assert!(sub("a/b/c"));
        assert!(sub("a/+/c"));
        assert!(!sub("a/#"));
        assert!(!sub("a/b/c/d"));
        assert!(!sub("sensors/secret/x"), "covered by a deny rule");
        assert!(sub("all/#"), "a deny inside is filtered at delivery");
        assert!(!ok(&acl, w, "all/private", Access::Read));
        assert!(sub("dev/d1/+"));
        assert!(!sub("dev/d2/x"));
        assert!(!sub("dev/+/x"));
    }

    #[test]
    fn rule_filters_match_like_mqtt() {
        let acl = AclFile::parse("topic read a/#\ntopic read +/b\ntopic read x/+/z\n").unwrap();
        let w = who("c", None);
        let read = |t: &str| ok(&acl, w, t, Access::Read);
        assert!(read("a"));
        assert!(read("a/b/c"));
        assert!(read("q/b"));
        assert!(!read("q/b/c"));
        assert!(read("x/y/z"));
        assert!(!read("x/y"));
        assert!(!read("x/y/z/w"));
        assert!(read("/b"));
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("user", "needs a user name"),
            ("topic", "topic filter is missing"),
            ("topic readonly a/b", "invalid access 'readonly'"),
            ("topic read a/#/b", "invalid topic filter"),
            ("allow all", "unknown keyword 'allow'"),
        ];
        for (line, reason) in cases {
            let err = AclFile::parse(&format!("# header\ntopic read ok\n{line}\n")).unwrap_err();
            assert_eq!(err.line, 3, "{line}: {err}");
            assert!(err.reason.contains(reason), "{line}: {err}");
        }
    }

    #[test]
    fn a_single_word_is_a_readwrite_filter_and_patterns_warn() {
        let acl = AclFile::parse("topic read\npattern x/y\n").unwrap();
        assert!(ok(&acl, who("c", None), "read", Access::Write));
        assert_eq!(acl.warnings().len(), 1);
        assert_eq!(acl.len(), 2);
    }
}
