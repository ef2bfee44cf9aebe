//! One client's session: what outlives a connection.
//!
//! A session owns its subscriptions (by filter), the QoS 1/2 messages sent
//! and not yet acknowledged (the inflight window, keyed by packet id and
//! resent in send order on reconnect, [MQTT-4.4.0-1]), the messages waiting
//! behind that window or for the client to come back (the queue, bounded in
//! messages and bytes), and the packet ids of inbound QoS 2 messages held
//! until PUBREL so each is delivered once ([MQTT-4.3.3-10]).
//!
//! It holds plain data only (no connection handles, no clocks beyond the
//! instant it went offline), so the durability layer can persist it as is.

use std::collections::VecDeque;
use std::time::Instant;

use bytestring::ByteString;
use hornet_codec::{PacketId, Protocol, Publish, SubscriptionOptions};

pub(crate) use crate::ids::SessionKey;
use crate::ids::{ConnId, GroupId};
use crate::queue_policy::QueuePolicy;

/// Session Expiry Interval meaning "never" (MQTT 5 §3.1.2.11.2: 0xFFFFFFFF).
pub(crate) const NEVER_EXPIRES: u32 = u32::MAX;

/// A map keyed by packet id (or topic alias): a hash with fixed keys, so
/// the map carries no per-map random state (an empty one is 32 bytes
/// rather than 64; a session has four). The keys are 16-bit numbers a
/// client can pick at most 65,535 of, in its own session only.
pub(crate) type IdMap<V> = std::collections::HashMap<u16, V, IdHasher>;

/// A session's subscriptions by filter (see [`Session::subscriptions`]).
pub(crate) type Subscriptions = std::collections::HashMap<ByteString, Subscription, IdHasher>;

/// The set counterpart of [`IdMap`].
pub(crate) type IdSet = std::collections::HashSet<u16, IdHasher>;

/// The hasher of [`IdMap`] and [`IdSet`] (zero-sized).
pub(crate) type IdHasher = std::hash::BuildHasherDefault<ahash::AHasher>;

/// A collection a session rarely uses, on the heap only once written:
/// 8 bytes in every session rather than 32 while empty. Reads go to a
/// shared empty value; the first mutable use allocates.
#[derive(Debug, Default)]
pub(crate) struct Rare<T: 'static>(Option<Box<T>>);

/// The empty value a [`Rare`] reads as.
pub(crate) trait Empty: Default + 'static {
    fn empty() -> &'static Self;
}

impl Empty for IdMap<GroupId> {
    fn empty() -> &'static Self {
        static EMPTY: std::sync::OnceLock<IdMap<GroupId>> = std::sync::OnceLock::new();
        EMPTY.get_or_init(Default::default)
    }
}

impl Empty for IdMap<Instant> {
    fn empty() -> &'static Self {
        static EMPTY: std::sync::OnceLock<IdMap<Instant>> = std::sync::OnceLock::new();
        EMPTY.get_or_init(Default::default)
    }
}

impl Empty for IdMap<(u64, Outbound)> {
    fn empty() -> &'static Self {
        static EMPTY: std::sync::OnceLock<IdMap<(u64, Outbound)>> = std::sync::OnceLock::new();
        EMPTY.get_or_init(Default::default)
    }
}

impl Empty for Subscriptions {
    fn empty() -> &'static Self {
        static EMPTY: std::sync::OnceLock<Subscriptions> = std::sync::OnceLock::new();
        EMPTY.get_or_init(Default::default)
    }
}

impl Empty for IdSet {
    fn empty() -> &'static Self {
        static EMPTY: std::sync::OnceLock<IdSet> = std::sync::OnceLock::new();
        EMPTY.get_or_init(Default::default)
    }
}

impl Empty for VecDeque<u16> {
    fn empty() -> &'static Self {
        static EMPTY: std::sync::OnceLock<VecDeque<u16>> = std::sync::OnceLock::new();
        EMPTY.get_or_init(Default::default)
    }
}

impl<T> Rare<T> {
    /// Frees it (it reads as empty again).
    pub(crate) fn release(&mut self) {
        self.0 = None;
    }
}

impl<T: Empty> std::ops::Deref for Rare<T> {
    type Target = T;

    fn deref(&self) -> &T {
        match &self.0 {
            Some(value) => value,
            None => T::empty(),
        }
    }
}

impl<T: Empty> std::ops::DerefMut for Rare<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Box::default)
    }
}

/// One subscription of a session, as stored in the session and the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Subscription {
    /// The options the client asked for (QoS granted is `options.qos`).
    pub(crate) options: SubscriptionOptions,
    /// MQTT 5 Subscription Identifier, if the SUBSCRIBE carried one.
    pub(crate) identifier: Option<u32>,
}

/// A QoS 1/2 message towards the client that is not finished yet, named
/// after the acknowledgement it waits for.
#[derive(Debug, Clone)]
pub(crate) enum Outbound {
    /// QoS 1 PUBLISH sent, waiting for PUBACK.
    Qos1(Publish),
    /// QoS 2 PUBLISH sent, waiting for PUBREC.
    Qos2Sent(Publish),
    /// PUBREL sent, waiting for PUBCOMP.
    Qos2Released,
}

/// A message in a session's queue, with the instant its Message Expiry
/// Interval ends (MQTT 5 §3.3.2.3.3), if it has one. Reads as the message.
///
/// What only some messages have (a store id, an expiry, a shared group) is
/// boxed and absent for a plain one: a flooded subscriber's queue holds an
/// entry per message, 80 bytes rather than 128 (docs/benchmarks.md,
/// "Memory under QoS 0 floods").
#[derive(Debug, Clone)]
pub(crate) struct Queued {
    pub(crate) msg: Publish,
    extra: Option<Box<QueuedExtra>>,
}

/// The rarely set part of a [`Queued`].
#[derive(Debug, Clone)]
struct QueuedExtra {
    /// The id it is stored under (`persist`), 0 when it is not stored.
    mid: u64,
    expires: Option<Instant>,
    /// The shared subscription group it came through, if any (it goes to
    /// another member if this session leaves before it is delivered).
    group: Option<GroupId>,
}

impl Queued {
    /// `msg`, stored under `mid` (0: not stored), expiring at `expires`,
    /// through shared subscription group `group`.
    pub(crate) fn new(
        mid: u64,
        msg: Publish,
        expires: Option<Instant>,
        group: Option<GroupId>,
    ) -> Queued {
        let extra = (mid != 0 || expires.is_some() || group.is_some()).then(|| {
            Box::new(QueuedExtra {
                mid,
                expires,
                group,
            })
        });
        Queued { msg, extra }
    }

    /// The id it is stored under (`persist`), 0 when it is not stored.
    pub(crate) fn mid(&self) -> u64 {
        self.extra.as_ref().map_or(0, |e| e.mid)
    }

    /// When its Message Expiry Interval ends, if it has one.
    pub(crate) fn expires(&self) -> Option<Instant> {
        self.extra.as_ref().and_then(|e| e.expires)
    }

    /// The shared subscription group it came through, if any.
    pub(crate) fn group(&self) -> Option<GroupId> {
        self.extra.as_ref().and_then(|e| e.group)
    }
}

impl std::ops::Deref for Queued {
    type Target = Publish;

    fn deref(&self) -> &Publish {
        &self.msg
    }
}

/// Below this capacity a draining queue keeps its buffer.
const MIN_QUEUE_CAPACITY: usize = 64;

/// One client's session.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) client_id: ByteString,
    /// The user of the latest connection (authenticated, else `None`), for
    /// the ACL's read check on every delivery, online or not.
    pub(crate) username: Option<ByteString>,
    pub(crate) protocol: Protocol,
    /// The connection currently attached, if any.
    pub(crate) conn: Option<ConnId>,
    /// Seconds the session outlives its connection; `NEVER_EXPIRES` for a
    /// 3.x persistent session, 0 for a clean one.
    pub(crate) expiry_interval: u32,
    /// When the last connection ended (for expiry).
    pub(crate) disconnected_at: Option<Instant>,
    /// A zero-sized fixed-key hasher, as for packet ids: `AHashMap`'s
    /// random state is 32 bytes in every session. (The keys are the
    /// client's own filters, at most `max_subscriptions_per_client`; a
    /// client crafting collisions slows only its own map.) `Rare`: an idle
    /// device or a publisher has none.
    pub(crate) subscriptions: Rare<Subscriptions>,
    /// Inflight packet ids of messages that came through a shared
    /// subscription group, with the group (entries may be stale: check
    /// `inflight`).
    pub(crate) shared_inflight: Rare<IdMap<GroupId>>,
    /// Inflight messages by packet id, with the order they were sent in
    /// (`Rare`: a client that only ever gets QoS 0 never has one).
    pub(crate) inflight: Rare<IdMap<(u64, Outbound)>>,
    next_packet_id: u16,
    next_seq: u64,
    /// Inflight packet ids to resend on this connection, oldest first;
    /// they count as inflight and go out as the window allows.
    pub(crate) pending_resend: Rare<VecDeque<u16>>,
    /// Messages waiting for the window or for the client to return.
    pub(crate) queue: VecDeque<Queued>,
    /// When each inflight message with a Message Expiry Interval expires,
    /// by packet id (set or cleared by `track`).
    pub(crate) inflight_expiry: Rare<IdMap<Instant>>,
    /// Payload bytes in `queue`.
    pub(crate) queued_bytes: usize,
    /// Messages dropped for this session because its queue was full.
    pub(crate) dropped: u64,
    /// While a drop episode lasts, the dropped count at its start plus one
    /// (a `NonZeroU64`: 8 bytes rather than 16; see
    /// [`Session::drop_episode`]).
    dropping: Option<std::num::NonZeroU64>,
    /// Inbound QoS 2 packet ids received and not yet released.
    pub(crate) incoming_qos2: Rare<IdSet>,
    /// Its record was written to the store (`persist`).
    pub(crate) persisted: bool,
}

impl Session {
    pub(crate) fn new(client_id: ByteString, protocol: Protocol, expiry_interval: u32) -> Self {
        Session {
            client_id,
            username: None,
            protocol,
            conn: None,
            expiry_interval,
            disconnected_at: None,
            subscriptions: Default::default(),
            inflight: Rare::default(),
            shared_inflight: Rare::default(),
            next_packet_id: 1,
            next_seq: 0,
            pending_resend: Rare::default(),
            queue: VecDeque::new(),
            inflight_expiry: Rare::default(),
            queued_bytes: 0,
            dropped: 0,
            dropping: None,
            incoming_qos2: Rare::default(),
            persisted: false,
        }
    }

    /// `Some(dropped count at its start)` while a drop episode lasts.
    pub(crate) fn drop_episode(&self) -> Option<u64> {
        self.dropping.map(|n| n.get() - 1)
    }

    /// Starts (`Some(dropped count now)`) or ends a drop episode.
    pub(crate) fn set_drop_episode(&mut self, since: Option<u64>) {
        self.dropping = since.and_then(|n| std::num::NonZeroU64::new(n.saturating_add(1)));
    }

    /// A packet id not in use by an inflight message ([MQTT-2.2.1-3]).
    /// The caller guarantees the window is below 65535.
    pub(crate) fn allocate_packet_id(&mut self) -> PacketId {
        loop {
            let id = self.next_packet_id;
            self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
            if !self.inflight.contains_key(&id) {
                return PacketId::new(id).expect("packet ids start at 1");
            }
        }
    }

    /// Records an outbound message as inflight under `id`, expiring at
    /// `expires` (for a resend after a reconnect).
    pub(crate) fn track(&mut self, id: PacketId, state: Outbound, expires: Option<Instant>) {
        match expires {
            Some(at) => self.inflight_expiry.insert(id.get(), at),
            None => self.inflight_expiry.remove(&id.get()),
        };
        self.next_seq += 1;
        self.inflight.insert(id.get(), (self.next_seq, state));
    }

    /// The inflight messages in the order they were first sent.
    pub(crate) fn inflight_in_order(&self) -> Vec<(u16, Outbound)> {
        let mut all: Vec<(u64, u16, Outbound)> = self
            .inflight
            .iter()
            .map(|(id, (seq, o))| (*seq, *id, o.clone()))
            .collect();
        all.sort_unstable_by_key(|(seq, _, _)| *seq);
        all.into_iter().map(|(_, id, o)| (id, o)).collect()
    }

    /// The client answered `id`: it no longer waits to be resent (the
    /// answer may come for a message received on an earlier connection).
    pub(crate) fn settle_resend(&mut self, id: u16) {
        if !self.pending_resend.is_empty() {
            self.pending_resend.retain(|&p| p != id);
        }
    }

    /// Appends to the queue if the limits allow; returns false when the
    /// message had to be dropped (the newest message is the one dropped).
    pub(crate) fn enqueue(&mut self, msg: Queued, max_messages: usize, max_bytes: usize) -> bool {
        let size = msg.payload.len();
        if self.queue.len() >= max_messages || self.queued_bytes.saturating_add(size) > max_bytes {
            self.dropped += 1;
            return false;
        }
        self.queued_bytes += size;
        self.queue.push_back(msg);
        true
    }

    /// Appends to the queue as `policy` says (see `queue_policy`):
    /// `latest` first takes out queued messages on the same topic;
    /// `drop_oldest` and `latest` then take out the oldest while the
    /// limits need room (counted in `dropped`). What was taken out goes to
    /// `removed`, oldest first. Returns false when the message itself was
    /// dropped (`drop_newest` on a full queue, or a message larger than
    /// the byte limit).
    pub(crate) fn enqueue_with(
        &mut self,
        msg: Queued,
        max_messages: usize,
        max_bytes: usize,
        policy: QueuePolicy,
        removed: &mut Vec<Queued>,
    ) -> bool {
        match policy {
            QueuePolicy::DropNewest => return self.enqueue(msg, max_messages, max_bytes),
            QueuePolicy::Latest => {
                let mut i = 0;
                while i < self.queue.len() {
                    if self.queue[i].topic == msg.topic {
                        let old = self.queue.remove(i).expect("in range");
                        self.queued_bytes -= old.payload.len();
                        removed.push(old);
                    } else {
                        i += 1;
                    }
                }
            }
            QueuePolicy::DropOldest => {}
        }
        let size = msg.payload.len();
        if max_messages == 0 || size > max_bytes {
            self.dropped += 1;
            return false;
        }
        while self.queue.len() >= max_messages || self.queued_bytes.saturating_add(size) > max_bytes
        {
            let Some(old) = self.queue.pop_front() else {
                break;
            };
            self.queued_bytes -= old.payload.len();
            self.dropped += 1;
            removed.push(old);
        }
        self.queued_bytes += size;
        self.queue.push_back(msg);
        true
    }

    /// Takes the oldest queued message.
    ///
    /// The queue gives its memory back as it drains (half its capacity
    /// once a quarter is used): a `VecDeque` never shrinks by itself, so
    /// after a flood every session would keep the capacity of its own
    /// peak, and the broker the sum of all those peaks (about 1.4 MiB per
    /// subscriber in a QoS 0 flood, see docs/benchmarks.md).
    pub(crate) fn dequeue(&mut self) -> Option<Queued> {
        let msg = self.queue.pop_front()?;
        self.queued_bytes -= msg.payload.len();
        let capacity = self.queue.capacity();
        if self.queue.is_empty() {
            self.queue = VecDeque::new();
        } else if capacity > MIN_QUEUE_CAPACITY && self.queue.len() < capacity / 4 {
            self.queue.shrink_to(capacity / 2);
        }
        Some(msg)
    }

    /// Takes out every message of group `group` that the client has not
    /// acknowledged yet (sent and waiting for PUBACK or PUBREC, or still
    /// queued), oldest first, so another member can have it. `settled`
    /// receives the packet ids and stored message ids taken out.
    pub(crate) fn take_shared(
        &mut self,
        group: GroupId,
        settled: &mut Vec<(Option<u16>, u64)>,
    ) -> Vec<Publish> {
        let mut taken: Vec<(u64, Publish)> = Vec::new();
        let ids: Vec<u16> = self
            .shared_inflight
            .iter()
            .filter(|(_, g)| **g == group)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.shared_inflight.remove(&id);
            if let Some((seq, Outbound::Qos1(p) | Outbound::Qos2Sent(p))) = self.inflight.get(&id) {
                taken.push((*seq, p.clone()));
                settled.push((Some(id), 0));
                self.inflight.remove(&id);
                self.inflight_expiry.remove(&id);
                self.settle_resend(id);
            }
        }
        taken.sort_by_key(|(seq, _)| *seq);
        let mut out: Vec<Publish> = taken.into_iter().map(|(_, p)| p).collect();
        if self.queue.iter().any(|q| q.group() == Some(group)) {
            let (mine, keep): (VecDeque<Queued>, VecDeque<Queued>) =
                self.queue.drain(..).partition(|q| q.group() == Some(group));
            self.queue = keep;
            self.queued_bytes = self.queue.iter().map(|m| m.payload.len()).sum();
            settled.extend(
                mine.iter()
                    .filter(|q| q.mid() != 0)
                    .map(|q| (None, q.mid())),
            );
            out.extend(mine.into_iter().map(|q| q.msg));
        }
        out
    }

    /// The shared subscription groups this session holds undelivered
    /// messages of.
    pub(crate) fn shared_groups_pending(&self) -> Vec<GroupId> {
        let mut groups: Vec<GroupId> = self
            .shared_inflight
            .iter()
            .filter(|(id, _)| {
                matches!(
                    self.inflight.get(id),
                    Some((_, Outbound::Qos1(_) | Outbound::Qos2Sent(_)))
                )
            })
            .map(|(_, g)| *g)
            .chain(self.queue.iter().filter_map(|q| q.group()))
            .collect();
        groups.sort_unstable();
        groups.dedup();
        groups
    }

    /// Drops every queued QoS 0 message (they are not kept for an offline
    /// session unless `queue_qos0_messages` is set).
    pub(crate) fn discard_queued_qos0(&mut self) {
        let before = self.queue.len();
        self.queue
            .retain(|m| m.qos != hornet_codec::QoS::AtMostOnce);
        if self.queue.len() != before {
            self.queued_bytes = self.queue.iter().map(|m| m.payload.len()).sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_session_allocates_no_inflight_map_or_subscriptions() {
        // Its size is pinned with the connection's (`broker::size_tests`).
        let mut s = Session::new("c".into(), Protocol::V5, 0);
        assert!(s.inflight.0.is_none(), "no QoS 1/2 yet: nothing allocated");
        assert!(s.subscriptions.0.is_none());
        assert!(s.subscriptions.is_empty());
        let id = s.allocate_packet_id();
        s.track(id, Outbound::Qos2Released, None);
        assert_eq!(s.inflight.len(), 1);
    }

    #[test]
    fn a_plain_queued_message_costs_its_publish_and_one_pointer() {
        // A flooded subscriber's queue is an entry per message: the rare
        // parts stay out of line until set.
        assert_eq!(
            std::mem::size_of::<Queued>(),
            std::mem::size_of::<Publish>() + std::mem::size_of::<usize>()
        );
        assert!(
            std::mem::size_of::<Publish>() <= 80,
            "topic, payload, 8-byte properties, flags"
        );
        let plain = Queued::new(0, Publish::new("t", &b"x"[..]), None, None);
        assert!(plain.extra.is_none());
        assert_eq!(
            (plain.mid(), plain.expires(), plain.group()),
            (0, None, None)
        );
        let at = Instant::now();
        let rare = Queued::new(7, Publish::new("t", &b"x"[..]), Some(at), Some(3));
        assert_eq!(
            (rare.mid(), rare.expires(), rare.group()),
            (7, Some(at), Some(3))
        );
    }

    #[test]
    fn a_drained_queue_gives_its_memory_back() {
        let mut s = Session::new("c".into(), Protocol::V5, 0);
        let msg = Queued::new(0, Publish::new("t", &b"x"[..]), None, None);
        for _ in 0..10_000 {
            assert!(s.enqueue(msg.clone(), usize::MAX, usize::MAX));
        }
        assert!(s.queue.capacity() >= 10_000);
        // Half drained: at most twice what is left, not the peak.
        for _ in 0..9_000 {
            s.dequeue().unwrap();
        }
        assert!(s.queue.capacity() <= 4 * 1_000, "{}", s.queue.capacity());
        while s.dequeue().is_some() {}
        assert_eq!(s.queue.capacity(), 0);
        assert_eq!(s.queued_bytes, 0);
    }

    #[test]
    fn packet_ids_skip_those_in_flight_and_wrap_past_zero() {
        let mut s = Session::new("c".into(), Protocol::V5, 0);
        let a = s.allocate_packet_id();
        assert_eq!(a.get(), 1);
        s.track(a, Outbound::Qos2Released, None);
        s.next_packet_id = u16::MAX;
        assert_eq!(s.allocate_packet_id().get(), u16::MAX);
        // 0 is never used and 1 is inflight: next is 2 ([MQTT-2.2.1-3]).
        assert_eq!(s.allocate_packet_id().get(), 2);
    }

    #[test]
    fn queue_drops_the_newest_when_full_in_messages_or_bytes() {
        let mut s = Session::new("c".into(), Protocol::V5, 0);
        let q = |payload: &'static str| Queued::new(0, Publish::new("t", payload), None, None);
        assert!(s.enqueue(q("aaaa"), 2, 6));
        assert!(!s.enqueue(q("bbbb"), 2, 6), "bytes limit");
        assert!(s.enqueue(q("cc"), 2, 6));
        assert!(!s.enqueue(q(""), 2, 6), "message limit");
        assert_eq!(s.dropped, 2);
        assert_eq!(&s.dequeue().unwrap().payload[..], b"aaaa");
        assert_eq!(s.queued_bytes, 2);
    }

    #[test]
    fn drop_oldest_makes_room_and_latest_keeps_one_message_per_topic() {
        let q = |topic: &'static str, payload: &'static str| {
            Queued::new(0, Publish::new(topic, payload), None, None)
        };
        let texts = |s: &Session| -> Vec<String> {
            s.queue
                .iter()
                .map(|m| format!("{}={}", m.topic, String::from_utf8_lossy(&m.payload)))
                .collect()
        };
        let mut s = Session::new("c".into(), Protocol::V5, 0);
        let mut removed = Vec::new();
        for (t, p) in [("a", "1"), ("b", "2"), ("a", "3")] {
            assert!(s.enqueue_with(
                q(t, p),
                2,
                usize::MAX,
                QueuePolicy::DropOldest,
                &mut removed
            ));
        }
        assert_eq!(texts(&s), ["b=2", "a=3"]);
        assert_eq!(removed.len(), 1);
        assert_eq!(s.dropped, 1);

        let mut s = Session::new("c".into(), Protocol::V5, 0);
        let mut removed = Vec::new();
        for (t, p) in [("a", "1"), ("b", "2"), ("a", "3"), ("a", "4")] {
            assert!(s.enqueue_with(q(t, p), 3, usize::MAX, QueuePolicy::Latest, &mut removed));
        }
        assert_eq!(texts(&s), ["b=2", "a=4"]);
        assert_eq!((removed.len(), s.dropped), (2, 0), "replaced, not dropped");
        // Full of other topics: the oldest goes.
        assert!(s.enqueue_with(
            q("c", "5"),
            3,
            usize::MAX,
            QueuePolicy::Latest,
            &mut removed
        ));
        assert!(s.enqueue_with(
            q("d", "6"),
            3,
            usize::MAX,
            QueuePolicy::Latest,
            &mut removed
        ));
        assert_eq!(texts(&s), ["a=4", "c=5", "d=6"]);
        assert_eq!(s.dropped, 1);
        assert_eq!(s.queued_bytes, 3);
        // Larger than the byte limit: dropped whatever the policy.
        assert!(!s.enqueue_with(
            q("e", "toolong"),
            3,
            4,
            QueuePolicy::DropOldest,
            &mut removed
        ));
    }

    #[test]
    fn inflight_order_is_send_order_not_packet_id_order() {
        let mut s = Session::new("c".into(), Protocol::V5, 0);
        s.next_packet_id = 9;
        let first = s.allocate_packet_id();
        s.track(first, Outbound::Qos2Released, None);
        s.next_packet_id = 3;
        let second = s.allocate_packet_id();
        s.track(second, Outbound::Qos2Released, None);
        let order: Vec<u16> = s
            .inflight_in_order()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(order, vec![9, 3]);
    }
}
