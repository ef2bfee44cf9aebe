//! Users, roles and topic rules managed at runtime (the admin API and the
//! dashboard), as data: a JSON document the shell keeps on disk, the
//! changes the API makes to it, and what it compiles to. Users become
//! password lines next to the `password_file`'s (the same checks, the same
//! `$argon2id$` hashes); each user's roles become its rules in the
//! `acl_file` engine ([`AclFile`]), so a check costs what an `acl_file`
//! check costs.
//!
//! A runtime user's access is decided by its roles' rules alone (nothing
//! matched: denied), so "a user may only publish and subscribe inside its
//! organisation" is one role with `readwrite org-a/#`. Everyone else (the
//! `password_file`'s users, anonymous clients) is decided by the
//! `acl_file` as before, or allowed when there is none: see
//! [`LayeredAuthorizer`].

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use hornet_core::{Access, Authorizer, Denied, Principal};
use serde::{Deserialize, Serialize};

use crate::acl::AclFile;

/// What a rule grants (the `acl_file` words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAccess {
    /// Subscribe and receive.
    Read,
    /// Publish.
    Write,
    /// Both.
    Readwrite,
    /// Neither (tried before the grants).
    Deny,
}

impl RuleAccess {
    fn word(self) -> &'static str {
        match self {
            RuleAccess::Read => "read",
            RuleAccess::Write => "write",
            RuleAccess::Readwrite => "readwrite",
            RuleAccess::Deny => "deny",
        }
    }
}

/// One topic rule of a role: `%c` and `%u` stand for the client id and the
/// user name, as in `acl_file` patterns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicRule {
    /// What it grants.
    pub access: RuleAccess,
    /// The topic filter (`+`, `#`, `%c`, `%u` allowed).
    pub filter: String,
}

/// A named set of rules users are given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// In order; deny rules are tried first.
    #[serde(default)]
    pub rules: Vec<TopicRule>,
}

/// A runtime user: its password hash and its roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeUser {
    /// The PHC hash (`$argon2id$...`), never the password.
    pub password: String,
    /// Role names, in order.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// The whole runtime store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeAuth {
    /// Users by name.
    #[serde(default)]
    pub users: BTreeMap<String, RuntimeUser>,
    /// Roles by name.
    #[serde(default)]
    pub roles: BTreeMap<String, Role>,
}

/// A change the store refuses, with the reason for the API's answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// Bad input (400).
    #[error("{0}")]
    Invalid(String),
    /// No such user or role (404).
    #[error("{0}")]
    NotFound(String),
    /// It clashes with what exists (409).
    #[error("{0}")]
    Conflict(String),
}

/// Names of users and roles: one word of printable characters, without
/// `:` (the password line separator), `+` or `#` (rules could not hold
/// them safely).
fn check_name(what: &str, name: &str) -> Result<(), RuntimeError> {
    let bad = name.is_empty()
        || name.len() > 128
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ':' | '+' | '#'));
    if bad {
        return Err(RuntimeError::Invalid(format!(
            "{what} name {name:?} is not allowed: 1 to 128 characters, no spaces, ':', '+' or '#'"
        )));
    }
    Ok(())
}

impl RuntimeAuth {
    /// Reads the stored document.
    pub fn parse(json: &str) -> Result<RuntimeAuth, String> {
        let auth: RuntimeAuth = serde_json::from_str(json).map_err(|e| e.to_string())?;
        for (name, user) in &auth.users {
            check_name("user", name).map_err(|e| e.to_string())?;
            if let Some(missing) = user.roles.iter().find(|r| !auth.roles.contains_key(*r)) {
                return Err(format!("user '{name}' has the unknown role '{missing}'"));
            }
        }
        auth.acl().map_err(|e| e.to_string())?;
        Ok(auth)
    }

    /// The document to store.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plain data serializes")
    }

    /// Creates or replaces `name` with `password` (hashed here, `$argon2id$`)
    /// and `roles`; `None` keeps the current password of an existing user.
    /// `taken` is true when the password_file already has the name.
    pub fn set_user(
        &mut self,
        name: &str,
        password: Option<&[u8]>,
        roles: Vec<String>,
        taken: bool,
    ) -> Result<(), RuntimeError> {
        check_name("user", name)?;
        if taken {
            return Err(RuntimeError::Conflict(format!(
                "user '{name}' is in the password_file; change it there"
            )));
        }
        if let Some(missing) = roles.iter().find(|r| !self.roles.contains_key(*r)) {
            return Err(RuntimeError::Invalid(format!("no role '{missing}'")));
        }
        let password = match (password, self.users.get(name)) {
            (Some([]), _) => return Err(RuntimeError::Invalid("the password is empty".into())),
            (Some(p), _) => {
                let line = crate::argon2id_line(name, p).map_err(RuntimeError::Invalid)?;
                line[name.len() + 1..].to_string()
            }
            (None, Some(existing)) => existing.password.clone(),
            (None, None) => {
                return Err(RuntimeError::Invalid(format!(
                    "a new user needs a password ('{name}' does not exist)"
                )))
            }
        };
        self.users
            .insert(name.to_string(), RuntimeUser { password, roles });
        Ok(())
    }

    /// Deletes user `name`.
    pub fn delete_user(&mut self, name: &str) -> Result<(), RuntimeError> {
        self.users
            .remove(name)
            .map(drop)
            .ok_or_else(|| RuntimeError::NotFound(format!("no user '{name}'")))
    }

    /// Creates or replaces role `name`; every filter is checked as the
    /// `acl_file` would read it.
    pub fn set_role(&mut self, name: &str, rules: Vec<TopicRule>) -> Result<(), RuntimeError> {
        check_name("role", name)?;
        for (i, rule) in rules.iter().enumerate() {
            let line = format!("topic {} {}", rule.access.word(), rule.filter);
            if rule.filter.contains(['\n', '\r']) || rule.filter.trim() != rule.filter {
                return Err(RuntimeError::Invalid(format!(
                    "rule {}: the filter {:?} has surrounding blanks or a line break",
                    i + 1,
                    rule.filter
                )));
            }
            AclFile::parse(&line)
                .map_err(|e| RuntimeError::Invalid(format!("rule {}: {}", i + 1, e.reason)))?;
        }
        self.roles.insert(name.to_string(), Role { rules });
        Ok(())
    }

    /// Deletes role `name`, unless a user still has it.
    pub fn delete_role(&mut self, name: &str) -> Result<(), RuntimeError> {
        if !self.roles.contains_key(name) {
            return Err(RuntimeError::NotFound(format!("no role '{name}'")));
        }
        let users: Vec<&str> = self
            .users
            .iter()
            .filter(|(_, u)| u.roles.iter().any(|r| r == name))
            .map(|(n, _)| n.as_str())
            .collect();
        if !users.is_empty() {
            return Err(RuntimeError::Conflict(format!(
                "role '{name}' is still given to {}",
                users.join(", ")
            )));
        }
        self.roles.remove(name);
        Ok(())
    }

    /// The users as password file lines (`name:$argon2id$...`).
    pub fn password_lines(&self) -> String {
        let mut text = String::new();
        for (name, user) in &self.users {
            text.push_str(name);
            text.push(':');
            text.push_str(&user.password);
            text.push('\n');
        }
        text
    }

    /// Each user's rules (its roles' rules, in order) in the `acl_file`
    /// engine; a denial names the role and the rule.
    pub fn acl(&self) -> Result<AclFile, crate::acl::AclError> {
        let mut text = String::new();
        let mut origins = vec![String::new()];
        for (name, user) in &self.users {
            text.push_str(&format!("user {name}\n"));
            origins.push(String::new());
            for role in &user.roles {
                let Some(r) = self.roles.get(role) else {
                    continue;
                };
                for (i, rule) in r.rules.iter().enumerate() {
                    text.push_str(&format!("topic {} {}\n", rule.access.word(), rule.filter));
                    origins.push(format!("role '{role}' rule {}", i + 1));
                }
            }
        }
        AclFile::parse_from(&text, Some("role"), true, |line| {
            origins.get(line).cloned().unwrap_or_default()
        })
    }

    /// The authorizer for the broker: runtime users by their roles, the
    /// others by `file` (or allowed when there is no acl_file).
    pub fn authorizer(
        &self,
        file: Option<AclFile>,
    ) -> Result<LayeredAuthorizer, crate::acl::AclError> {
        Ok(LayeredAuthorizer {
            users: self.users.keys().cloned().collect(),
            runtime: self.acl()?,
            file,
        })
    }
}

/// Runtime users decided by their roles, everyone else by the acl_file
/// (allowed when there is none), as one [`Authorizer`].
pub struct LayeredAuthorizer {
    users: HashSet<String>,
    runtime: AclFile,
    file: Option<AclFile>,
}

impl fmt::Debug for LayeredAuthorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayeredAuthorizer")
            .field("runtime_users", &self.users.len())
            .field("acl_file", &self.file.is_some())
            .finish()
    }
}

impl Authorizer for LayeredAuthorizer {
    fn authorize(&self, who: Principal<'_>, topic: &str, access: Access) -> Result<(), Denied> {
        match (who.username, &self.file) {
            (Some(user), _) if self.users.contains(user) => {
                // `%c` in a rule must stand for one level only.
                if who.client_id.contains(['+', '#']) {
                    return Err(Denied(format!(
                        "the client id '{}' contains + or #, which role rules cannot hold safely",
                        who.client_id
                    )));
                }
                self.runtime.check(who, topic, access)
            }
            (_, Some(file)) => file.check(who, topic, access),
            (_, None) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who<'a>(user: Option<&'a str>, client_id: &'a str) -> Principal<'a> {
        Principal {
            client_id,
            username: user,
        }
    }

    fn org_store() -> RuntimeAuth {
        let mut auth = RuntimeAuth::default();
        auth.set_role(
            "org-a",
            vec![
                TopicRule {
                    access: RuleAccess::Readwrite,
                    filter: "org-a/#".into(),
                },
                TopicRule {
                    access: RuleAccess::Deny,
                    filter: "org-a/secret/#".into(),
                },
                TopicRule {
                    access: RuleAccess::Write,
                    filter: "devices/%c/status".into(),
                },
            ],
        )
        .unwrap();
        auth.set_user("alice", Some(b"pw"), vec!["org-a".into()], false)
            .unwrap();
        auth
    }

    #[test]
    fn a_runtime_user_gets_exactly_its_roles_rules() {
        let authz = org_store().authorizer(None).unwrap();
        let alice = who(Some("alice"), "dev1");
        assert!(authz.authorize(alice, "org-a/x", Access::Write).is_ok());
        assert!(authz.authorize(alice, "org-a/x", Access::Read).is_ok());
        assert!(authz
            .authorize(alice, "devices/dev1/status", Access::Write)
            .is_ok());
        let denied = authz.authorize(alice, "org-a/secret/k", Access::Read);
        assert_eq!(
            denied.unwrap_err().0,
            "denied by role 'org-a' rule 2: `topic deny org-a/secret/#`"
        );
        let denied = authz
            .authorize(alice, "org-b/x", Access::Write)
            .unwrap_err();
        assert_eq!(denied.0, "no role rule grants user 'alice' write access");
        // Everyone else: no acl_file, allowed; with one, decided by it.
        assert!(authz
            .authorize(who(Some("bob"), "c"), "org-b/x", Access::Write)
            .is_ok());
        assert!(authz
            .authorize(who(None, "c"), "any", Access::Write)
            .is_ok());
        let file = AclFile::parse("user bob\ntopic read x\n").unwrap();
        let authz = org_store().authorizer(Some(file)).unwrap();
        assert!(authz
            .authorize(who(Some("bob"), "c"), "x", Access::Read)
            .is_ok());
        assert!(authz
            .authorize(who(Some("bob"), "c"), "y", Access::Read)
            .is_err());
        assert!(authz.authorize(alice, "org-a/x", Access::Write).is_ok());
    }

    #[test]
    fn passwords_are_hashed_and_checked_like_password_file_lines() {
        let auth = org_store();
        assert!(auth.users["alice"].password.starts_with("$argon2id$"));
        let users = crate::PasswordFile::parse(&auth.password_lines()).unwrap();
        assert!(users.verify_password("alice", b"pw"));
        assert!(!users.verify_password("alice", b"nope"));
    }

    #[test]
    fn the_store_round_trips_and_refuses_what_it_cannot_hold() {
        let mut auth = org_store();
        let back = RuntimeAuth::parse(&auth.to_json()).unwrap();
        assert_eq!(back, auth);
        // Keeping the password while changing roles.
        auth.set_role("empty", vec![]).unwrap();
        let hash = auth.users["alice"].password.clone();
        auth.set_user("alice", None, vec!["empty".into()], false)
            .unwrap();
        assert_eq!(auth.users["alice"].password, hash);
        let bad = [
            auth.set_user("a b", Some(b"x"), vec![], false),
            auth.set_user("a:b", Some(b"x"), vec![], false),
            auth.set_user("new", None, vec![], false),
            auth.set_user("new", Some(b""), vec![], false),
            auth.set_user("new", Some(b"x"), vec!["nope".into()], false),
        ];
        for result in bad {
            assert!(
                matches!(result, Err(RuntimeError::Invalid(_))),
                "{result:?}"
            );
        }
        assert!(matches!(
            auth.set_user("fileuser", Some(b"x"), vec![], true),
            Err(RuntimeError::Conflict(_))
        ));
        let bad_rule = TopicRule {
            access: RuleAccess::Read,
            filter: "a/#/b".into(),
        };
        assert!(matches!(
            auth.set_role("r", vec![bad_rule]),
            Err(RuntimeError::Invalid(_))
        ));
        assert!(matches!(
            auth.delete_role("empty"),
            Err(RuntimeError::Conflict(_))
        ));
        auth.delete_user("alice").unwrap();
        auth.delete_role("empty").unwrap();
        assert!(matches!(
            auth.delete_user("alice"),
            Err(RuntimeError::NotFound(_))
        ));
        assert!(
            RuntimeAuth::parse(r#"{"users":{"x":{"password":"h","roles":["none"]}}}"#).is_err()
        );
    }
}
