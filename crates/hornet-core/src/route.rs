//! The subscription index and routing: [`Subscriptions`] owns the index of
//! plain (not shared) subscriptions by filter and the scratch space
//! routing reuses, and answers which sessions a topic reaches, with how
//! ([`Target`]).
//!
//! Overlapping subscriptions of one session ([MQTT-3.3.4-2]): every
//! matching subscription that carries a Subscription Identifier gets a
//! copy of its own, at its own QoS, with its own identifier
//! ([MQTT-3.3.4-5]), as Mosquitto does; the others together get one copy at
//! the highest QoS of them ([MQTT-3.3.5-1]), RETAIN kept when one asked for
//! Retain As Published. Node-RED (and Paho's MQTT 5 callbacks) rely on
//! this: each `mqtt in` node subscribes with its own identifier and drops a
//! message whose identifier is not exactly its own. With
//! `Settings::subscription_identifier_copies` off, a session gets one copy
//! carrying every matching identifier ([MQTT-3.3.4-4]), Hornet's earlier
//! behaviour. Shared subscription groups are `shared`'s.

use ahash::AHashMap;
use hornet_codec::{Property, Publish, QoS};

use crate::session::{SessionKey, Subscription};
use crate::trie::SubscriptionTree;

/// How one routed message reaches one session.
#[derive(Debug, Clone, Default)]
pub(crate) struct Target {
    qos: QoS,
    retain_as_published: bool,
    identifiers: Vec<u32>,
}

impl Target {
    /// The way `sub` alone takes a message (a shared group's member).
    pub(crate) fn of(sub: &Subscription) -> Target {
        Target {
            qos: sub.options.qos,
            retain_as_published: sub.options.retain_as_published,
            identifiers: sub.identifier.into_iter().collect(),
        }
    }

    /// The highest QoS of the subscriptions this copy is for.
    #[inline]
    pub(crate) fn qos(&self) -> QoS {
        self.qos
    }

    /// Whether this session's copy of `publish` is the message as it
    /// came, at QoS 0: no Subscription Identifier to add, RETAIN cleared
    /// (see [`Target::shape`]); such copies are the same for everyone.
    #[inline]
    pub(crate) fn is_plain(&self, publish: &Publish) -> bool {
        self.identifiers.is_empty() && !(publish.retain && self.retain_as_published)
    }

    /// The copy of `publish` this session gets, at `qos` (the published
    /// QoS capped by [`Target::qos`], or raised to it with
    /// `upgrade_outgoing_qos`: see `outgoing_qos`).
    #[inline]
    pub(crate) fn shape(&self, publish: &Publish, qos: QoS) -> Publish {
        let mut msg = publish.clone();
        msg.qos = qos;
        // [MQTT-3.3.1-9]/[MQTT-3.3.1-12]: live messages go out with RETAIN 0
        // unless the subscription asked for Retain As Published.
        msg.retain = msg.retain && self.retain_as_published;
        for &i in &self.identifiers {
            msg.properties.push(Property::SubscriptionIdentifier(i));
        }
        msg
    }
}

/// Every session's plain subscriptions, by filter, and routing's scratch.
#[derive(Debug)]
pub(crate) struct Subscriptions {
    index: SubscriptionTree<SessionKey, Subscription>,
    /// Scratch space for routing: one entry per matched session.
    targets: AHashMap<SessionKey, Target>,
    /// Scratch space for routing: the matched sessions in delivery order.
    list: Vec<(SessionKey, Target)>,
}

impl Subscriptions {
    /// No subscriptions.
    pub(crate) fn new() -> Subscriptions {
        Subscriptions {
            index: SubscriptionTree::new(),
            // Fixed seeds: the order sessions are served in is the same on
            // every run, so the core stays deterministic end to end.
            targets: AHashMap::with_hasher(ahash::RandomState::with_seeds(1, 2, 3, 4)),
            list: Vec::new(),
        }
    }

    /// Plain subscriptions across all sessions.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Adds (or replaces) `key`'s subscription to `filter`.
    pub(crate) fn insert(&mut self, filter: &str, key: SessionKey, sub: Subscription) {
        self.index.insert(filter, key, sub);
    }

    /// Removes `key`'s subscription to `filter`, if any.
    pub(crate) fn remove(&mut self, filter: &str, key: SessionKey) {
        self.index.remove(filter, key);
    }

    /// The copies a message on `topic` makes, by session, with how (see
    /// the module doc; `copies`: a copy per subscription with an
    /// identifier); `origin`'s No Local subscriptions are skipped
    /// ([MQTT-3.8.3-3]). Hand the list back with
    /// [`Subscriptions::recycle`]: routing then allocates nothing of its
    /// own once warm.
    #[inline]
    pub(crate) fn route(
        &mut self,
        topic: &str,
        origin: Option<SessionKey>,
        copies: bool,
    ) -> Vec<(SessionKey, Target)> {
        let targets = &mut self.targets;
        targets.clear();
        let mut list = std::mem::take(&mut self.list);
        // The common case, one matching filter (or all in one node): each
        // session is there once, so its copy is its subscription's own,
        // without merging through the map (a hash insert per subscriber
        // was 7% of a fan-out's instructions).
        let mut sets = [None; 2];
        let mut count = 0;
        self.index.for_each_matching_set(topic, |set| {
            if count < sets.len() {
                sets[count] = Some(set);
            }
            count += 1;
        });
        if let (1, Some(set)) = (count, sets[0]) {
            for (&key, sub) in set {
                if sub.options.no_local && Some(key) == origin {
                    continue; // [MQTT-3.8.3-3] No Local
                }
                list.push((key, Target::of(sub)));
            }
            // (In the set's order: fixed seeds, the same on every run.)
            return list;
        }
        if count == 0 {
            return list;
        }
        self.index.for_each_match(topic, |key, sub| {
            if sub.options.no_local && Some(key) == origin {
                return; // [MQTT-3.8.3-3] No Local
            }
            if copies && sub.identifier.is_some() {
                list.push((key, Target::of(sub)));
                return;
            }
            let t = targets.entry(key).or_default();
            t.qos = t.qos.max(sub.options.qos);
            t.retain_as_published |= sub.options.retain_as_published;
            if let Some(i) = sub.identifier {
                t.identifiers.push(i);
            }
        });
        list.extend(self.targets.drain());
        list
    }

    /// Takes back the (drained) list [`Subscriptions::route`] gave out.
    #[inline]
    pub(crate) fn recycle(&mut self, list: Vec<(SessionKey, Target)>) {
        self.list = list;
    }
}
