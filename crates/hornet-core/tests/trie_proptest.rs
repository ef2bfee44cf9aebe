//! Property tests of the two topic tries of `hornet-core` against the
//! reference matcher `hornet_codec::topic::matches`.
//!
//! * `SubscriptionTree`: after a random sequence of subscribes and
//!   unsubscribes, `for_each_match` on any topic name visits exactly the
//!   (filter, key) subscriptions a brute-force scan with `matches` finds,
//!   `get` and `len` agree with a model map, and removing everything left
//!   leaves the tree empty.
//! * `RetainedStore`: after a random sequence of stores and deletes,
//!   `for_each_match` with any filter visits exactly the retained messages
//!   whose names `matches` accepts, and `iter`, `get` and `len` agree with a
//!   model map.
//!
//! Levels come from small alphabets so that collisions are frequent: empty
//! levels, `$`-prefixed levels (first or not), `+` and a trailing `#`.
//! Set `PROPTEST_CASES` to run more cases.

use std::collections::HashMap;

use hornet_codec::topic::{matches, validate_filter, validate_name};
use hornet_core::retained::RetainedStore;
use hornet_core::trie::SubscriptionTree;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

const NAME_LEVELS: &[&str] = &["a", "b", "", "$SYS", "$x"];
const FILTER_LEVELS: &[&str] = &["a", "b", "", "$SYS", "$x", "+", "+"];

/// A topic name of one to four levels.
fn topic_name() -> impl Strategy<Value = String> + Clone {
    vec(select(NAME_LEVELS), 1..=4).prop_map(|levels| non_empty(levels.join("/")))
}

/// A topic filter of up to four levels, maybe ending in `#`.
fn topic_filter() -> impl Strategy<Value = String> + Clone {
    (vec(select(FILTER_LEVELS), 0..=4), any::<bool>()).prop_map(|(mut levels, hash)| {
        if hash || levels.is_empty() {
            levels.push("#");
        }
        non_empty(levels.join("/"))
    })
}

/// A single empty level would be the empty string, which is invalid
/// ([MQTT-4.7.3-1]): make it two empty levels instead.
fn non_empty(topic: String) -> String {
    if topic.is_empty() {
        "/".to_owned()
    } else {
        topic
    }
}

#[derive(Debug, Clone)]
enum Op<T> {
    Insert(T, u64, u32),
    Remove(T, u64),
}

fn ops<T: std::fmt::Debug + Clone>(
    target: impl Strategy<Value = T> + Clone,
) -> impl Strategy<Value = Vec<Op<T>>> {
    vec(
        prop_oneof![
            3 => (target.clone(), 0..4u64, any::<u32>()).prop_map(|(t, k, v)| Op::Insert(t, k, v)),
            2 => (target, 0..4u64).prop_map(|(t, k)| Op::Remove(t, k)),
        ],
        0..60,
    )
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(512),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// The subscription trie visits exactly what a brute-force scan finds.
    #[test]
    fn subscription_tree_matches_reference(
        ops in ops(topic_filter()),
        topics in vec(topic_name(), 1..20),
    ) {
        let mut tree: SubscriptionTree<u64, (String, u32)> = SubscriptionTree::new();
        let mut model: HashMap<(String, u64), u32> = HashMap::new();
        for op in &ops {
            match op {
                Op::Insert(filter, key, value) => {
                    prop_assert!(validate_filter(filter).is_ok(), "{filter}");
                    let old = tree.insert(filter, *key, (filter.clone(), *value));
                    let expected = model.insert((filter.clone(), *key), *value);
                    prop_assert_eq!(old.map(|(_, v)| v), expected);
                }
                Op::Remove(filter, key) => {
                    let old = tree.remove(filter, *key);
                    let expected = model.remove(&(filter.clone(), *key));
                    prop_assert_eq!(old.map(|(_, v)| v), expected);
                }
            }
            prop_assert_eq!(tree.len(), model.len());
        }
        prop_assert_eq!(tree.is_empty(), model.is_empty());
        for ((filter, key), value) in &model {
            prop_assert_eq!(tree.get(filter, *key), Some(&(filter.clone(), *value)));
        }
        for topic in &topics {
            let mut visited = Vec::new();
            tree.for_each_match(topic, |key, (filter, value)| {
                visited.push((filter.clone(), key, *value));
            });
            visited.sort();
            let mut expected: Vec<_> = model
                .iter()
                .filter(|((filter, _), _)| matches(filter, topic))
                .map(|((filter, key), value)| (filter.clone(), *key, *value))
                .collect();
            expected.sort();
            prop_assert_eq!(visited, expected, "topic {:?}", topic);
        }
        // Removing what is left empties the tree.
        for (filter, key) in model.keys() {
            prop_assert!(tree.remove(filter, *key).is_some());
        }
        prop_assert!(tree.is_empty());
        let mut any = false;
        for topic in &topics {
            tree.for_each_match(topic, |_, _| any = true);
        }
        prop_assert!(!any);
    }

    /// The retained store visits exactly what a brute-force scan finds.
    #[test]
    fn retained_store_matches_reference(
        ops in ops(topic_name()),
        filters in vec(topic_filter(), 1..20),
    ) {
        let mut store: RetainedStore<u32> = RetainedStore::new();
        let mut model: HashMap<String, u32> = HashMap::new();
        for op in &ops {
            match op {
                Op::Insert(name, _, value) => {
                    prop_assert!(validate_name(name).is_ok(), "{name}");
                    prop_assert_eq!(store.insert(name, *value), model.insert(name.clone(), *value));
                }
                Op::Remove(name, _) => {
                    prop_assert_eq!(store.remove(name), model.remove(name));
                }
            }
            prop_assert_eq!(store.len(), model.len());
        }
        prop_assert_eq!(store.is_empty(), model.is_empty());
        let mut all: Vec<_> = store.iter().map(|(name, value)| (name.to_owned(), *value)).collect();
        all.sort();
        let mut expected_all: Vec<_> = model.iter().map(|(n, v)| (n.clone(), *v)).collect();
        expected_all.sort();
        prop_assert_eq!(all, expected_all);
        for (name, value) in &model {
            prop_assert_eq!(store.get(name), Some(value));
        }
        for filter in &filters {
            prop_assert!(validate_filter(filter).is_ok(), "{filter}");
            let mut visited = Vec::new();
            store.for_each_match(filter, |name, value| visited.push((name.to_owned(), *value)));
            visited.sort();
            let mut expected: Vec<_> = model
                .iter()
                .filter(|(name, _)| matches(filter, name))
                .map(|(name, value)| (name.clone(), *value))
                .collect();
            expected.sort();
            prop_assert_eq!(visited, expected, "filter {:?}", filter);
        }
        for name in model.keys() {
            prop_assert!(store.remove(name).is_some());
        }
        prop_assert!(store.is_empty());
        prop_assert_eq!(store.iter().count(), 0);
    }
}
