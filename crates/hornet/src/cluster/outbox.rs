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

use bytes::{Buf, Bytes, BytesMut};

use super::codec::Frame;

/// The sender's side of one peer's stream.
#[derive(Debug)]
pub(crate) struct Outbox {
    stream: u64,
    next: u64,
    /// Frames written and not acknowledged, as the batches they were
    /// written in: the bytes kept are the bytes sent (one allocation, no
    /// copy and no re-encoding for a resend).
    unacked: VecDeque<Batch>,
    /// Frames in `unacked`.
    held: u64,
    limit: u64,
}

/// Consecutive frames written together, numbered from `first`.
#[derive(Debug)]
struct Batch {
    first: u64,
    count: u64,
    /// The encoded frames: `gone` frames no longer held (acknowledged, or
    /// dropped by the limit), then the `count` held. An Ack only counts
    /// the frames it covers; their bytes are skipped when the batch is
    /// next read (a resend), not on every Ack (walking frames written long
    /// ago costs cache misses on the hot path).
    bytes: Bytes,
    gone: u64,
    /// (number, the core's token) of the frames something waits for (see
    /// `Action::Forward`), in order.
    tokens: VecDeque<(u64, u64)>,
}

impl Batch {
    /// Forgets its first `n` frames (fewer than `count`), adding their
    /// tokens to `tokens` if given.
    fn trim(&mut self, n: u64, mut tokens: Option<&mut Vec<u64>>) {
        self.first += n;
        self.count -= n;
        self.gone += n;
        while self.tokens.front().is_some_and(|t| t.0 < self.first) {
            let (_, token) = self.tokens.pop_front().expect("front");
            if let Some(tokens) = tokens.as_deref_mut() {
                tokens.push(token);
            }
        }
    }
}

impl Batch {
    /// The bytes of the frames held.
    fn held(&mut self) -> &Bytes {
        let mut at = 0;
        for _ in 0..std::mem::take(&mut self.gone) {
            // Our own encoding: each frame is a 4-byte length and its body.
            let Some(len) = self.bytes.get(at..at + 4) else {
                break;
            };
            at += 4 + u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        }
        self.bytes.advance(at.min(self.bytes.len()));
        &self.bytes
    }
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
            held: 0,
            limit: limit as u64,
        }
    }

    /// Numbers the `count` frames encoded in `bytes` (about to be written
    /// as they are), carrying the core's `tokens` (by index in the batch;
    /// only frames something waits for); returns how many old frames were
    /// dropped to stay under the limit (a dropped frame's token is never
    /// reported).
    pub(crate) fn push(&mut self, bytes: Bytes, count: usize, tokens: &[(u32, u64)]) -> u64 {
        if count == 0 {
            return 0;
        }
        let first = self.next;
        let count = count as u64;
        self.next += count;
        self.held += count;
        self.unacked.push_back(Batch {
            first,
            count,
            bytes,
            gone: 0,
            tokens: tokens
                .iter()
                .map(|&(i, token)| (first + u64::from(i), token))
                .collect(),
        });
        let mut dropped = 0;
        while self.held > self.limit {
            dropped += self.forget_front(self.held - self.limit, None);
        }
        dropped
    }

    /// Forgets up to `n` frames from the front (at most one batch's);
    /// returns how many.
    fn forget_front(&mut self, n: u64, tokens: Option<&mut Vec<u64>>) -> u64 {
        let Some(front) = self.unacked.front_mut() else {
            return 0;
        };
        let n = n.min(front.count);
        if n == front.count {
            let batch = self.unacked.pop_front().expect("front");
            if let Some(tokens) = tokens {
                tokens.extend(batch.tokens.iter().map(|t| t.1));
            }
        } else {
            front.trim(n, tokens);
        }
        self.held -= n;
        n
    }

    /// The receiver applied everything up to `seq`: adds the tokens of
    /// those frames (the core's `node_acked`) to `tokens`.
    pub(crate) fn ack(&mut self, seq: u64, tokens: &mut Vec<u64>) {
        while let Some(front) = self.unacked.front() {
            if front.first > seq {
                break;
            }
            let n = seq - front.first + 1;
            self.forget_front(n, Some(tokens));
        }
    }

    /// Frames written and not acknowledged.
    pub(crate) fn unacked(&self) -> usize {
        self.held as usize
    }

    /// Appends, for a new link after its snapshot: `Resume` and every
    /// unacknowledged frame, in order (a gap the limit made gets its own
    /// `Resume`). Returns how many frames it resends.
    pub(crate) fn resend(&mut self, out: &mut BytesMut) -> usize {
        let mut expect = None;
        for batch in &mut self.unacked {
            if expect != Some(batch.first) {
                Frame::Resume {
                    stream: self.stream,
                    next: batch.first,
                }
                .encode(out);
            }
            out.extend_from_slice(batch.held());
            expect = Some(batch.first + batch.count);
        }
        if expect != Some(self.next) {
            Frame::Resume {
                stream: self.stream,
                next: self.next,
            }
            .encode(out);
        }
        self.unacked()
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
            stamp: hornet_core::Stamp::default(),
        }
    }

    /// Writes `frames` (each with its token, 0: none) as one batch: into
    /// `out` and onto `wire`. Returns what `push` dropped.
    fn write(out: &mut Outbox, frames: &[(Frame, u64)], wire: &mut BytesMut) -> u64 {
        let mut batch = BytesMut::new();
        let mut tokens = Vec::new();
        for (i, (frame, token)) in frames.iter().enumerate() {
            frame.encode(&mut batch);
            if *token != 0 {
                tokens.push((i as u32, *token));
            }
        }
        wire.extend_from_slice(&batch);
        out.push(batch.freeze(), frames.len(), &tokens)
    }

    /// Every frame that reaches the receiver over a new link, through
    /// `inbox`, decoded.
    fn deliver(bytes: &mut BytesMut, inbox: &mut Inbox) -> Vec<Frame> {
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
        // Link 1: a, b, c written in one batch; the receiver applies a and
        // b, acks a.
        let mut wire = BytesMut::new();
        out.resend(&mut wire);
        let frames = [(take("a"), 1), (take("b"), 2), (take("c"), 3)];
        write(&mut out, &frames, &mut wire);
        let mut last = BytesMut::new();
        take("c").encode(&mut last);
        let mut first = wire.split_to(wire.len() - last.len());
        assert_eq!(deliver(&mut first, &mut inbox), vec![take("a"), take("b")]);
        let mut tokens = Vec::new();
        out.ack(1, &mut tokens);
        assert_eq!((out.unacked(), tokens), (2, vec![1]));
        // The link broke with c in it. Link 2 resends b and c (what is
        // left of the batch), then d.
        let mut wire = BytesMut::new();
        assert_eq!(out.resend(&mut wire), 2);
        write(&mut out, &[(take("d"), 0)], &mut wire);
        assert_eq!(
            deliver(&mut wire, &mut inbox),
            vec![take("c"), take("d")],
            "b was applied already; c and d once"
        );
        let mut tokens = Vec::new();
        out.ack(inbox.applied().1, &mut tokens);
        assert_eq!((out.unacked(), tokens), (0, vec![2, 3]), "d had no token");
        // Acknowledging again, or less, changes nothing.
        let mut tokens = Vec::new();
        out.ack(inbox.applied().1, &mut tokens);
        out.ack(1, &mut tokens);
        assert_eq!((out.unacked(), tokens.len()), (0, 0));
    }

    #[test]
    fn a_new_stream_starts_over_and_the_limit_drops_the_oldest() {
        let mut inbox = Inbox::default();
        let mut first = Outbox::new(2);
        let mut wire = BytesMut::new();
        first.resend(&mut wire);
        for c in ["a", "b", "c"] {
            assert_eq!(
                write(&mut first, &[(take(c), 0)], &mut wire),
                u64::from(c == "c")
            );
        }
        assert_eq!(deliver(&mut wire, &mut inbox).len(), 3);
        // The sender restarted: a new stream numbers from 1 again.
        let mut second = Outbox::new(2);
        second.stream = first.stream + 1;
        let mut wire = BytesMut::new();
        second.resend(&mut wire);
        write(&mut second, &[(take("x"), 0)], &mut wire);
        assert_eq!(deliver(&mut wire, &mut inbox), vec![take("x")]);
    }

    /// The limit drops single frames off the front of a batch, and their
    /// tokens are never reported; a resend starts after the gap.
    #[test]
    fn the_limit_trims_a_batch_frame_by_frame() {
        let mut out = Outbox::new(3);
        let mut wire = BytesMut::new();
        let frames = [(take("a"), 1), (take("b"), 2), (take("c"), 3)];
        assert_eq!(write(&mut out, &frames, &mut wire), 0);
        let frames = [(take("d"), 4), (take("e"), 5)];
        assert_eq!(write(&mut out, &frames, &mut wire), 2, "a and b dropped");
        assert_eq!(out.unacked(), 3);
        // A receiver that saw nothing of this stream gets c, d and e.
        let mut inbox = Inbox::default();
        let mut resent = BytesMut::new();
        assert_eq!(out.resend(&mut resent), 3);
        assert_eq!(
            deliver(&mut resent, &mut inbox),
            vec![take("c"), take("d"), take("e")]
        );
        let mut tokens = Vec::new();
        out.ack(4, &mut tokens);
        assert_eq!((out.unacked(), tokens), (1, vec![3, 4]));
    }
}
