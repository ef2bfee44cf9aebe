//! What a link resends after a reconnect, and what its receiver skips.
//!
//! Every frame a node takes off its queue for another node gets a
//! sequence number of the node's outgoing stream (one per dialer, so per
//! peer and per life of this process) and stays in the [`Outbox`] until
//! the receiver acknowledges it (an `Ack` frame written back on the same
//! TCP connection). When a link breaks, what was written into it but not
//! acknowledged is resent first on the next link, after its snapshot:
//! frames lost with a broken connection are not lost for the cluster.
//!
//! The receiver numbers a link's frames after a `Resume` frame (which says
//! the stream and the next frame's number; a [`Cursor`] per link) and its
//! [`Inbox`] for the peer (one, shared by that peer's links: an old
//! connection still being read when the new one starts) skips any frame
//! already applied (one whose acknowledgement was lost with the link), so
//! each frame is applied once. Frames before the first `Resume` are the
//! link's snapshot, which is never numbered.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use super::codec::Frame;

/// The sender's side of one peer's stream.
#[derive(Debug)]
pub(crate) struct Outbox {
    stream: u64,
    next: u64,
    /// Frames written and not acknowledged, with their number and the
    /// core's token (0: nothing waits for it; see `Action::Forward`).
    unacked: VecDeque<(u64, Frame, u64)>,
    limit: usize,
}

impl Outbox {
    /// A new stream, keeping at most `limit` unacknowledged frames.
    pub(crate) fn new(limit: usize) -> Outbox {
        // Unique per dialer: the receiver resets its count on a new one.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Outbox {
            stream: nanos ^ u64::from(std::process::id()).rotate_left(40),
            next: 1,
            unacked: VecDeque::new(),
            limit,
        }
    }

    /// Numbers `frame` (about to be written), carrying the core's `token`;
    /// returns how many old frames were dropped to stay under the limit (0
    /// or 1; a dropped frame's token is never reported).
    pub(crate) fn push(&mut self, frame: &Frame, token: u64) -> u64 {
        let seq = self.next;
        self.next += 1;
        self.unacked.push_back((seq, frame.clone(), token));
        if self.unacked.len() > self.limit {
            self.unacked.pop_front();
            return 1;
        }
        0
    }

    /// The receiver applied everything up to `seq`: adds the tokens of
    /// those frames (the core's `node_acked`) to `tokens`.
    pub(crate) fn ack(&mut self, seq: u64, tokens: &mut Vec<u64>) {
        while self.unacked.front().is_some_and(|(s, _, _)| *s <= seq) {
            let (_, _, token) = self.unacked.pop_front().expect("front");
            if token != 0 {
                tokens.push(token);
            }
        }
    }

    /// Frames written and not acknowledged.
    pub(crate) fn unacked(&self) -> usize {
        self.unacked.len()
    }

    /// Encodes, for a new link after its snapshot: `Resume` and every
    /// unacknowledged frame, in order (a gap the limit made gets its own
    /// `Resume`). Returns how many frames it resends.
    pub(crate) fn resend(&self, out: &mut bytes::BytesMut) -> usize {
        let mut expect = None;
        for (seq, frame, _) in &self.unacked {
            if expect != Some(*seq) {
                Frame::Resume {
                    stream: self.stream,
                    next: *seq,
                }
                .encode(out);
            }
            frame.encode(out);
            expect = Some(seq + 1);
        }
        if expect != Some(self.next) {
            Frame::Resume {
                stream: self.stream,
                next: self.next,
            }
            .encode(out);
        }
        self.unacked.len()
    }
}

/// The receiver's side of one peer's stream (kept across its links).
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    stream: u64,
    /// The last frame applied.
    applied: u64,
}

/// Where one link is in its sender's stream.
#[derive(Debug, Default)]
pub(crate) struct Cursor {
    /// The number of the next frame, after a `Resume` (before it: the
    /// snapshot).
    next: Option<u64>,
}

/// What to do with one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Apply it.
    Apply,
    /// Applied already (resent): skip it.
    Skip,
    /// A control frame (`Resume`): handled here.
    Control,
}

impl Inbox {
    /// Whether to apply `frame`, the next on the link at `cursor`.
    pub(crate) fn check(&mut self, cursor: &mut Cursor, frame: &Frame) -> Verdict {
        if let Frame::Resume { stream, next } = *frame {
            if stream != self.stream {
                self.stream = stream;
                self.applied = next.saturating_sub(1);
            }
            cursor.next = Some(next);
            return Verdict::Control;
        }
        let Some(seq) = cursor.next else {
            return Verdict::Apply;
        };
        cursor.next = Some(seq + 1);
        if seq <= self.applied {
            return Verdict::Skip;
        }
        self.applied = seq;
        Verdict::Apply
    }

    /// The stream and the last frame applied (what an `Ack` says, once the
    /// core lets it: `Action::Applied`).
    pub(crate) fn applied(&self) -> (u64, u64) {
        (self.stream, self.applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(c: &str) -> Frame {
        Frame::Takeover {
            client_id: c.into(),
        }
    }

    /// Every frame that reaches the receiver over a new link, through
    /// `inbox`, decoded.
    fn deliver(bytes: &mut bytes::BytesMut, inbox: &mut Inbox) -> Vec<Frame> {
        let mut applied = Vec::new();
        let mut cursor = Cursor::default();
        while let Some(f) = Frame::decode(bytes).unwrap() {
            if inbox.check(&mut cursor, &f) == Verdict::Apply {
                applied.push(f);
            }
        }
        applied
    }

    #[test]
    fn unacknowledged_frames_are_resent_and_applied_once() {
        let mut out = Outbox::new(100);
        let mut inbox = Inbox::default();
        // Link 1: a, b, c written; the receiver applies a and b, acks a.
        let mut wire = bytes::BytesMut::new();
        out.resend(&mut wire);
        for (t, c) in ["a", "b", "c"].into_iter().enumerate() {
            out.push(&take(c), t as u64 + 1);
            take(c).encode(&mut wire);
        }
        let mut first = wire.split_to(
            wire.len() - {
                let mut last = bytes::BytesMut::new();
                take("c").encode(&mut last);
                last.len()
            },
        );
        assert_eq!(deliver(&mut first, &mut inbox), vec![take("a"), take("b")]);
        let mut tokens = Vec::new();
        out.ack(1, &mut tokens);
        assert_eq!((out.unacked(), tokens), (2, vec![1]));
        // The link broke with c in it. Link 2 resends b and c, then d.
        let mut wire = bytes::BytesMut::new();
        assert_eq!(out.resend(&mut wire), 2);
        out.push(&take("d"), 0);
        take("d").encode(&mut wire);
        assert_eq!(
            deliver(&mut wire, &mut inbox),
            vec![take("c"), take("d")],
            "b was applied already; c and d once"
        );
        let mut tokens = Vec::new();
        out.ack(inbox.applied().1, &mut tokens);
        assert_eq!((out.unacked(), tokens), (0, vec![2, 3]), "d had no token");
    }

    #[test]
    fn a_new_stream_starts_over_and_the_limit_drops_the_oldest() {
        let mut inbox = Inbox::default();
        let mut first = Outbox::new(2);
        let mut wire = bytes::BytesMut::new();
        first.resend(&mut wire);
        for c in ["a", "b", "c"] {
            assert_eq!(first.push(&take(c), 0), u64::from(c == "c"));
            take(c).encode(&mut wire);
        }
        assert_eq!(deliver(&mut wire, &mut inbox).len(), 3);
        // The sender restarted: a new stream numbers from 1 again.
        let mut second = Outbox::new(2);
        second.stream = first.stream + 1;
        let mut wire = bytes::BytesMut::new();
        second.resend(&mut wire);
        second.push(&take("x"), 0);
        take("x").encode(&mut wire);
        assert_eq!(deliver(&mut wire, &mut inbox), vec![take("x")]);
    }
}
