//! Mosquitto's per-listener `mount_point`: the clients of a listener that
//! has one live under that topic prefix and never see it. On the way in
//! the prefix is put before every topic they name (PUBLISH and will
//! topics, SUBSCRIBE and UNSUBSCRIBE filters, inside `$share/{group}/`,
//! `$queue/` and `$local/`); on the way out it is taken off the PUBLISH
//! topics they receive. Everything they can subscribe to is under the
//! prefix, so nothing outside it reaches them; a copy whose topic is not
//! under it (a persistent session that subscribed through another
//! listener) is not sent, as Mosquitto drops it. ACLs, limits and the
//! log see the full topic, as in Mosquitto.

use bytestring::ByteString;
use hornet_codec::topic;

/// The prefixes of filters whose inner filter is mounted.
const FILTER_PREFIXES: &[&str] = &["$queue/", "$local/"];

/// `mount` + `name`.
pub(crate) fn mount_name(mount: &str, name: &str) -> ByteString {
    let mut full = String::with_capacity(mount.len() + name.len());
    full.push_str(mount);
    full.push_str(name);
    full.into()
}

/// `filter` with `mount` before its topic part (after `$share/{group}/`,
/// `$queue/` or `$local/`); `None` when the result is not a valid filter
/// (a mount point without a trailing `/` before a wildcard).
pub(crate) fn mount_filter(mount: &str, filter: &str) -> Option<ByteString> {
    let head_len = match topic::parse_shared(filter) {
        Ok(Some(shared)) => filter.len() - shared.filter.len(),
        _ => FILTER_PREFIXES
            .iter()
            .find(|p| filter.starts_with(*p))
            .map_or(0, |p| p.len()),
    };
    let (head, inner) = filter.split_at(head_len);
    let mounted = format!("{head}{mount}{inner}");
    topic::validate_filter(&mounted[head_len..]).ok()?;
    Some(mounted.into())
}

/// `name` without `mount`; `None` when it is not under it.
pub(crate) fn unmount(mount: &str, name: &ByteString) -> Option<ByteString> {
    let rest = name.strip_prefix(mount)?;
    if rest.is_empty() {
        return None;
    }
    Some(name.slice_ref(rest))
}

/// Whether `mount` can be a mount point: not empty, no wildcard, no NUL.
pub fn check_mount_point(mount: &str) -> Result<(), String> {
    if mount.is_empty() {
        return Err("mount_point must not be empty".into());
    }
    if mount.contains(['+', '#', '\0']) {
        return Err(format!(
            "mount_point {mount:?} must not contain the wildcards + or # (or NUL)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_filters_are_mounted() {
        assert_eq!(mount_name("org1/", "a/b"), "org1/a/b");
        assert_eq!(mount_filter("org1/", "#").unwrap(), "org1/#");
        assert_eq!(mount_filter("org1/", "$SYS/#").unwrap(), "org1/$SYS/#");
        assert_eq!(
            mount_filter("org1/", "$share/g/a/+").unwrap(),
            "$share/g/org1/a/+"
        );
        assert_eq!(mount_filter("org1/", "$queue/a").unwrap(), "$queue/org1/a");
        assert_eq!(
            mount_filter("org1/", "$local/a/#").unwrap(),
            "$local/org1/a/#"
        );
        // Without a trailing slash a leading wildcard would not be a level.
        assert_eq!(mount_filter("org1", "#"), None);
        assert_eq!(mount_filter("org1", "a").unwrap(), "org1a");
    }

    #[test]
    fn names_are_unmounted_or_not_sent() {
        let name = ByteString::from("org1/a/b");
        assert_eq!(unmount("org1/", &name).unwrap(), "a/b");
        assert_eq!(unmount("org2/", &name), None);
        assert_eq!(unmount("org1/a/b", &name), None);
    }

    #[test]
    fn mount_points_are_checked() {
        assert!(check_mount_point("org1/").is_ok());
        assert!(check_mount_point("").is_err());
        assert!(check_mount_point("a/+/").is_err());
        assert!(check_mount_point("a/#").is_err());
    }
}
