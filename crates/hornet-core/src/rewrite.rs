//! Topic rewrite (EMQX's `rewrite` rules): a PUBLISH topic, or a SUBSCRIBE
//! or UNSUBSCRIBE filter, that matches a rule's source filter and regular
//! expression is replaced by the rule's destination before anything else
//! looks at it (the ACL, the limits, routing).
//!
//! Rules are tried in order and the first whose action covers the packet,
//! whose `source_topic` filter matches the topic (a filter is matched as
//! if it were a name: `+` matches a `+` level) and whose regular
//! expression matches decides. The destination may use the expression's
//! groups (`$1`, `${1}`, `$name`) and `%c` / `${clientid}`, `%u` /
//! `${username}` (the authenticated user name; a rule naming it does not
//! apply to a client without one, nor one naming a value that contains
//! `+`, `#` or `/`, which would widen a filter). A result that is not a valid topic
//! name (PUBLISH) or filter (SUBSCRIBE, UNSUBSCRIBE) is not used, and the
//! topic stays as it was.

use hornet_codec::topic;
use regex::Regex;

/// Which packets a rule rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewriteAction {
    /// PUBLISH topics.
    Publish,
    /// SUBSCRIBE and UNSUBSCRIBE filters.
    Subscribe,
    /// Both.
    All,
}

/// One rule as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewriteRule {
    /// Which packets it rewrites.
    pub action: RewriteAction,
    /// The topic filter a topic must match.
    pub source_topic: String,
    /// The regular expression the topic must match.
    pub re: String,
    /// The replacement.
    pub dest_topic: String,
}

/// What is being rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rewriting {
    /// A PUBLISH topic name.
    Publish,
    /// A SUBSCRIBE or UNSUBSCRIBE filter.
    Subscribe,
}

#[derive(Debug)]
struct Compiled {
    action: RewriteAction,
    source_topic: String,
    re: Regex,
    dest_topic: String,
}

/// The compiled rules.
#[derive(Debug, Default)]
pub(crate) struct Rewriter {
    rules: Vec<Compiled>,
}

impl Rewriter {
    /// Compiles `rules`; a rule whose expression does not compile is left
    /// out and logged (the shell refuses such a configuration first).
    pub(crate) fn new(rules: &[RewriteRule]) -> Rewriter {
        let rules = rules
            .iter()
            .filter_map(|r| match Regex::new(&r.re) {
                Ok(re) => Some(Compiled {
                    action: r.action,
                    source_topic: r.source_topic.clone(),
                    re,
                    dest_topic: r.dest_topic.clone(),
                }),
                Err(e) => {
                    tracing::error!("Topic rewrite rule {:?} left out: {e}", r.re);
                    None
                }
            })
            .collect();
        Rewriter { rules }
    }

    /// Whether there are no rules (then nothing is ever rewritten).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rewritten `name`, or `None` when no rule applies.
    pub(crate) fn rewrite(
        &self,
        what: Rewriting,
        name: &str,
        client_id: &str,
        username: Option<&str>,
    ) -> Option<String> {
        let rule = self.rules.iter().find(|r| {
            let covers = matches!(
                (r.action, what),
                (RewriteAction::All, _)
                    | (RewriteAction::Publish, Rewriting::Publish)
                    | (RewriteAction::Subscribe, Rewriting::Subscribe)
            );
            covers && topic::matches(&r.source_topic, name) && r.re.is_match(name)
        })?;
        let caps = rule.re.captures(name)?;
        // A value with `+`, `#` or `/` would widen a filter: not substituted.
        let safe = |v: &str| !v.contains(['+', '#', '/']);
        let mut dest = rule.dest_topic.clone();
        if dest.contains("%c") || dest.contains("${clientid}") {
            if !safe(client_id) {
                return None;
            }
            let id = escape(client_id);
            dest = dest.replace("%c", &id).replace("${clientid}", &id);
        }
        if dest.contains("%u") || dest.contains("${username}") {
            let user = username.filter(|u| safe(u))?;
            let user = escape(user);
            dest = dest.replace("%u", &user).replace("${username}", &user);
        }
        let mut out = String::new();
        caps.expand(&dest, &mut out);
        let valid = match what {
            Rewriting::Publish => topic::validate_name(&out).is_ok(),
            Rewriting::Subscribe => topic::validate_filter(&out).is_ok(),
        };
        if !valid {
            tracing::info!(
                "Topic rewrite of '{name}' for {client_id} gave '{out}', which is not valid; \
                 kept as it was."
            );
            return None;
        }
        Some(out)
    }
}

/// `value` with `$` doubled, so `Captures::expand` leaves it as it is.
fn escape(value: &str) -> String {
    value.replace('$', "$$")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(action: RewriteAction, source: &str, re: &str, dest: &str) -> RewriteRule {
        RewriteRule {
            action,
            source_topic: source.into(),
            re: re.into(),
            dest_topic: dest.into(),
        }
    }

    #[test]
    fn the_first_matching_rule_rewrites_with_groups_and_placeholders() {
        let r = Rewriter::new(&[
            rule(RewriteAction::All, "x/#", r"^x/y/(.+)$", "z/y/$1"),
            rule(RewriteAction::Publish, "x/#", r"^x/(.+)$", "own/%c/$1"),
            rule(
                RewriteAction::Subscribe,
                "my/#",
                r"^my/(.+)$",
                "users/${username}/$1",
            ),
        ]);
        let p = Rewriting::Publish;
        let s = Rewriting::Subscribe;
        assert_eq!(r.rewrite(p, "x/y/1", "c1", None).as_deref(), Some("z/y/1"));
        assert_eq!(r.rewrite(s, "x/y/+", "c1", None).as_deref(), Some("z/y/+"));
        assert_eq!(r.rewrite(p, "x/a", "c1", None).as_deref(), Some("own/c1/a"));
        assert_eq!(r.rewrite(s, "x/a", "c1", None), None, "publish only");
        assert_eq!(
            r.rewrite(s, "my/#", "c1", Some("ann")).as_deref(),
            Some("users/ann/#")
        );
        assert_eq!(r.rewrite(s, "my/#", "c1", None), None, "no user name");
        assert_eq!(r.rewrite(p, "other", "c1", None), None);
    }

    #[test]
    fn an_invalid_result_or_expression_rewrites_nothing() {
        let r = Rewriter::new(&[
            rule(RewriteAction::Publish, "a/#", r"^a/(.*)$", "b/$1/#"),
            rule(RewriteAction::All, "#", r"(", "never"),
        ]);
        assert_eq!(r.rules.len(), 1);
        assert_eq!(r.rewrite(Rewriting::Publish, "a/x", "c", None), None);
        // A `$` in a client id is not read as a group.
        let r = Rewriter::new(&[rule(RewriteAction::Publish, "#", "^(.*)$", "%c/$1")]);
        assert_eq!(
            r.rewrite(Rewriting::Publish, "t", "a$1", None).as_deref(),
            Some("a$1/t")
        );
        assert_eq!(r.rewrite(Rewriting::Publish, "t", "a/b", None), None);
        assert!(Rewriter::new(&[]).is_empty());
    }
}
