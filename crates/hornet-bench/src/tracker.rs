//! Per-publisher sequence tracking at a subscriber: what arrived, what is
//! missing, what came twice and what came late.
//!
//! Each publisher numbers its messages 0, 1, 2, … A [`SeqTracker`] keeps the
//! next sequence it expects and the gaps (missing ranges) below it, so the
//! normal in-order case costs one comparison and no memory. A message below
//! the next expected one is either *late* (it fills a gap: out of order) or a
//! *duplicate* (it was already seen). Losses are counted at the end against
//! how many the publisher sent.

use std::collections::BTreeMap;

/// Sequence bookkeeping for one (subscriber, publisher) pair.
#[derive(Debug, Default, Clone)]
pub(crate) struct SeqTracker {
    /// The sequence after the highest one received.
    next: u64,
    /// Missing ranges below `next`: start -> end (exclusive).
    gaps: BTreeMap<u64, u64>,
    /// Distinct messages received.
    pub(crate) unique: u64,
    /// Messages received again, with the DUP flag set.
    pub(crate) dup_flagged: u64,
    /// Messages received again without the DUP flag.
    pub(crate) dup_unflagged: u64,
    /// Messages that arrived after a later one from the same publisher.
    pub(crate) out_of_order: u64,
}

impl SeqTracker {
    /// Records one received message.
    pub(crate) fn record(&mut self, seq: u64, dup_flag: bool) {
        if seq == self.next {
            self.next += 1;
            self.unique += 1;
        } else if seq > self.next {
            self.gaps.insert(self.next, seq);
            self.next = seq + 1;
            self.unique += 1;
        } else if self.fill_gap(seq) {
            self.unique += 1;
            self.out_of_order += 1;
        } else if dup_flag {
            self.dup_flagged += 1;
        } else {
            self.dup_unflagged += 1;
        }
    }

    /// Removes `seq` from the gap holding it; false when no gap holds it.
    fn fill_gap(&mut self, seq: u64) -> bool {
        let Some((&start, &end)) = self.gaps.range(..=seq).next_back() else {
            return false;
        };
        if seq >= end {
            return false;
        }
        self.gaps.remove(&start);
        if start < seq {
            self.gaps.insert(start, seq);
        }
        if seq + 1 < end {
            self.gaps.insert(seq + 1, end);
        }
        true
    }

    /// Messages lost out of `sent` (sequences 0..sent).
    pub(crate) fn lost(&self, sent: u64) -> u64 {
        sent.saturating_sub(self.unique)
    }
}

/// The trackers of one subscriber, one per publisher id.
#[derive(Debug, Default, Clone)]
pub(crate) struct Trackers {
    by_publisher: Vec<SeqTracker>,
}

impl Trackers {
    /// Records a message of `publisher`.
    pub(crate) fn record(&mut self, publisher: u32, seq: u64, dup_flag: bool) {
        let i = publisher as usize;
        if i >= self.by_publisher.len() {
            self.by_publisher.resize_with(i + 1, SeqTracker::default);
        }
        self.by_publisher[i].record(seq, dup_flag);
    }

    /// The tracker of `publisher`, if anything of it arrived.
    pub(crate) fn get(&self, publisher: u32) -> Option<&SeqTracker> {
        self.by_publisher.get(publisher as usize)
    }

    /// Every tracker.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &SeqTracker> {
        self.by_publisher.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(seqs: &[u64]) -> SeqTracker {
        let mut t = SeqTracker::default();
        for &s in seqs {
            t.record(s, false);
        }
        t
    }

    #[test]
    fn in_order_stream_is_clean() {
        let t = feed(&[0, 1, 2, 3]);
        assert_eq!(
            (t.unique, t.dup_unflagged, t.out_of_order, t.lost(4)),
            (4, 0, 0, 0)
        );
        assert!(t.gaps.is_empty());
    }

    #[test]
    fn losses_are_what_never_arrived() {
        let t = feed(&[0, 3, 4]);
        assert_eq!(t.lost(5), 2);
        // Messages sent but never arriving at the tail are lost too.
        assert_eq!(t.lost(7), 4);
        assert_eq!(t.out_of_order, 0);
    }

    #[test]
    fn late_arrivals_fill_gaps_and_count_as_out_of_order() {
        let t = feed(&[0, 4, 2, 1, 3]);
        assert_eq!(
            (t.unique, t.out_of_order, t.dup_unflagged, t.lost(5)),
            (5, 3, 0, 0)
        );
        assert!(t.gaps.is_empty());
    }

    #[test]
    fn duplicates_are_split_by_the_dup_flag() {
        let mut t = feed(&[0, 1, 2]);
        t.record(1, true);
        t.record(2, false);
        t.record(5, false);
        t.record(5, false);
        t.record(3, false);
        t.record(3, true);
        assert_eq!((t.dup_flagged, t.dup_unflagged, t.out_of_order), (2, 2, 1));
        assert_eq!(t.unique, 5);
        assert_eq!(t.lost(6), 1);
    }

    #[test]
    fn trackers_grow_per_publisher() {
        let mut t = Trackers::default();
        t.record(3, 0, false);
        t.record(3, 1, false);
        t.record(0, 0, false);
        assert_eq!(t.get(3).map(|s| s.unique), Some(2));
        assert_eq!(t.get(1).map(|s| s.unique), Some(0));
        assert!(t.get(9).is_none());
        assert_eq!(t.iter().count(), 4);
    }
}
