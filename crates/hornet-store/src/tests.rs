//! Recovery from truncated and corrupted files, compaction and space
//! reclamation, and the disk-full path.

use std::fs;

use hornet_codec::{Protocol, Publish, QoS};
use hornet_core::persist::{RestoredOutbound, SessionRecord, Shape, StoreOp};

use super::*;

fn session(key: u64) -> StoreOp {
    StoreOp::Session(SessionRecord {
        key,
        client_id: format!("c{key}").into(),
        protocol: Protocol::V5,
        expiry: 3600,
        offline_since: 0,
        subscriptions: Vec::new(),
    })
}

fn message(id: u64, payload: &str) -> StoreOp {
    let mut p = Publish::new("t", payload.to_string());
    p.qos = QoS::AtLeastOnce;
    StoreOp::Message {
        id,
        publish: p,
        received_ms: 0,
    }
}

fn queued(key: u64, id: u64) -> StoreOp {
    StoreOp::Queued {
        session: key,
        message: id,
        shape: Shape {
            qos: QoS::AtLeastOnce,
            retain: false,
            identifiers: Vec::new(),
            group: None,
        },
    }
}

fn open(dir: &Path) -> (Store, Recovery) {
    Store::open(dir, StoreOptions::default()).expect("open")
}

fn payloads(r: &Recovery) -> Vec<String> {
    r.restored.sessions[0]
        .queue
        .iter()
        .map(|m| String::from_utf8(m.publish.payload.to_vec()).unwrap())
        .collect()
}

/// Writes session 1 with messages "m1".."m{n}", one commit each.
fn write_messages(dir: &Path, n: u64) {
    let (mut store, _) = open(dir);
    store.append([session(1)]);
    store.commit(true).unwrap();
    for i in 1..=n {
        store.append([message(i, &format!("m{i}")), queued(1, i)]);
        store.commit(true).unwrap();
    }
}

fn the_segment(dir: &Path) -> PathBuf {
    let segments = log::list_segments(dir).unwrap();
    assert_eq!(segments.len(), 1);
    segments[0].1.clone()
}

#[test]
fn what_was_committed_is_read_back() {
    let dir = tempfile::tempdir().unwrap();
    write_messages(dir.path(), 3);
    let (_, r) = open(dir.path());
    assert_eq!(r.bytes_dropped, 0);
    assert_eq!(payloads(&r), ["m1", "m2", "m3"]);
    assert_eq!(r.counts, (1, 3, 0));
}

#[test]
fn a_truncated_tail_is_cut_and_reported_and_the_prefix_survives() {
    let dir = tempfile::tempdir().unwrap();
    write_messages(dir.path(), 3);
    let path = the_segment(dir.path());
    let len = fs::metadata(&path).unwrap().len();
    // Every cut inside the last commit leaves the first two messages.
    let data = fs::read(&path).unwrap();
    for cut in [len - 1, len - 5, len - 20] {
        fs::write(&path, &data[..cut as usize]).unwrap();
        let (_, r) = open(dir.path());
        assert!(r.bytes_dropped > 0, "cut at {cut}");
        assert_eq!(r.cuts.len(), 1);
        assert_eq!(payloads(&r), ["m1", "m2"]);
        // The file was truncated to the good prefix: a second open is clean.
        let (_, again) = open(dir.path());
        assert_eq!(again.bytes_dropped, 0);
        fs::write(&path, &data).unwrap();
    }
}

#[test]
fn a_corrupt_byte_cuts_the_log_at_that_record() {
    let dir = tempfile::tempdir().unwrap();
    write_messages(dir.path(), 3);
    let path = the_segment(dir.path());
    let mut data = fs::read(&path).unwrap();
    // Flip a byte inside the payload of the last record ("m3" is in it).
    let at = data.windows(2).rposition(|w| w == b"m3").unwrap();
    data[at] ^= 0xFF;
    fs::write(&path, &data).unwrap();
    let (_, r) = open(dir.path());
    assert!(r.cuts[0].contains("checksum"), "{:?}", r.cuts);
    assert_eq!(payloads(&r), ["m1", "m2"]);
}

#[test]
fn appending_after_a_cut_tail_works() {
    let dir = tempfile::tempdir().unwrap();
    write_messages(dir.path(), 2);
    let path = the_segment(dir.path());
    let len = fs::metadata(&path).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let (mut store, r) = open(dir.path());
    assert_eq!(payloads(&r), ["m1"]);
    store.append([message(9, "m9"), queued(1, 9)]);
    store.commit(true).unwrap();
    drop(store);
    let (_, r) = open(dir.path());
    assert_eq!(r.bytes_dropped, 0);
    assert_eq!(payloads(&r), ["m1", "m9"]);
}

#[test]
fn an_empty_or_headerless_file_is_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(log::segment_path(dir.path(), 1), b"").unwrap();
    let (_, r) = open(dir.path());
    assert!(r.restored.sessions.is_empty());
    fs::write(log::segment_path(dir.path(), 1), b"garbage garbage").unwrap();
    let (_, r) = open(dir.path());
    assert_eq!(r.bytes_dropped, 15);
}

#[test]
fn inflight_state_and_qos2_ids_survive() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut store, _) = open(dir.path());
        store.append([
            session(1),
            message(1, "a"),
            queued(1, 1),
            StoreOp::Sent {
                session: 1,
                message: 1,
                packet_id: 10,
            },
            message(2, "b"),
            queued(1, 2),
            StoreOp::Sent {
                session: 1,
                message: 2,
                packet_id: 11,
            },
            StoreOp::Released {
                session: 1,
                packet_id: 11,
            },
            StoreOp::Qos2Received {
                session: 1,
                packet_id: 5,
            },
        ]);
        store.commit(true).unwrap();
    }
    let (mut store, r) = open(dir.path());
    let s = &r.restored.sessions[0];
    assert_eq!(s.inflight.len(), 2);
    assert_eq!(s.inflight[0].0, 10);
    assert!(
        matches!(&s.inflight[0].1, RestoredOutbound::Publish(m) if &m.publish.payload[..] == b"a")
    );
    assert_eq!(s.inflight[1], (11, RestoredOutbound::Released));
    assert_eq!(s.incoming_qos2, vec![5]);
    // The same after a compaction (the snapshot says the same thing).
    store.compact().unwrap();
    drop(store);
    let (_, again) = open(dir.path());
    assert_eq!(again.restored.sessions, r.restored.sessions);
}

/// [Issue 7] Space is reclaimed: after a million messages delivered, the
/// log holds only what is still owed.
#[test]
fn a_million_delivered_messages_leave_the_directory_small() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        compact_min_bytes: 4 * 1024 * 1024,
    };
    let (mut store, _) = Store::open(dir.path(), options.clone()).unwrap();
    store.append([session(1)]);
    let payload = "x".repeat(32);
    let mut max_bytes = 0;
    for i in 1..=1_000_000u64 {
        store.append([
            message(i, &payload),
            queued(1, i),
            StoreOp::Sent {
                session: 1,
                message: i,
                packet_id: (i % 60000 + 1) as u16,
            },
        ]);
        // Acknowledged 100 messages later: at most 100 owed at any time.
        if i > 100 {
            store.append([StoreOp::Settled {
                session: 1,
                packet_id: ((i - 100) % 60000 + 1) as u16,
            }]);
        }
        if i % 256 == 0 {
            store.commit(false).unwrap();
            max_bytes = max_bytes.max(dir_size(dir.path()));
        }
    }
    store.commit(true).unwrap();
    assert!(store.stats().compactions > 10, "{:?}", store.stats());
    assert!(
        max_bytes < 16 * 1024 * 1024,
        "the directory grew to {max_bytes}"
    );
    store.compact().unwrap();
    let size = dir_size(dir.path());
    assert!(
        size < 64 * 1024,
        "after compaction the directory holds {size} bytes"
    );
    drop(store);
    let (_, r) = Store::open(dir.path(), options).unwrap();
    assert_eq!(r.counts, (1, 100, 0));
}

fn dir_size(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

#[test]
fn a_full_disk_fails_the_commit_and_a_later_commit_recovers_everything() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path());
    store.append([session(1), message(1, "before"), queued(1, 1)]);
    store.commit(true).unwrap();
    store.faults().set_disk_full(true);
    store.append([message(2, "during"), queued(1, 2)]);
    let e = store.commit(true).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(28));
    assert!(store.is_broken());
    assert_eq!(store.stats().failures, 1);
    // Still full: the retry fails too, and nothing is lost meanwhile.
    assert!(store.commit(true).is_err());
    assert_eq!(store.stats().failures, 2);
    store.faults().set_disk_full(false);
    store.append([message(3, "after"), queued(1, 3)]);
    store.commit(true).unwrap();
    assert!(!store.is_broken());
    drop(store);
    let (_, r) = open(dir.path());
    assert_eq!(r.bytes_dropped, 0);
    assert_eq!(payloads(&r), ["before", "during", "after"]);
}

#[test]
fn a_compaction_cut_short_leaves_the_old_log_in_charge() {
    let dir = tempfile::tempdir().unwrap();
    write_messages(dir.path(), 2);
    // A snapshot that never got renamed into place.
    fs::write(dir.path().join("00000000000000000002.log.tmp"), b"partial").unwrap();
    let (_, r) = open(dir.path());
    assert_eq!(payloads(&r), ["m1", "m2"]);
    assert!(!dir.path().join("00000000000000000002.log.tmp").exists());
}

#[test]
fn a_second_store_on_the_same_directory_is_refused_while_the_first_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let (first, _) = open(dir.path());
    let e = Store::open(dir.path(), StoreOptions::default()).unwrap_err();
    assert!(e.to_string().contains("in use by another Hornet"), "{e}");
    drop(first);
    let _second = open(dir.path());
}

#[test]
fn every_sync_lands_in_the_latency_histogram() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path());
    let before = store.stats();
    for i in 1..=5 {
        store.append([message(i, "m")]);
        store.commit(true).unwrap();
    }
    store.append([message(6, "unsynced")]);
    store.commit(false).unwrap();
    let after = store.stats();
    assert_eq!(after.syncs - before.syncs, 5);
    assert_eq!(
        after.sync_latency.count() - before.sync_latency.count(),
        5,
        "{after:?}"
    );
    assert!(after.sync_latency.total_nanos > before.sync_latency.total_nanos);
    // Cumulative buckets never decrease and end at most at the count.
    let cumulative: Vec<u64> = after.sync_latency.cumulative().map(|(_, n)| n).collect();
    assert_eq!(cumulative.len(), SYNC_BUCKETS.len());
    assert!(cumulative.windows(2).all(|w| w[0] <= w[1]));
    assert!(*cumulative.last().unwrap() <= after.sync_latency.count());
    let mut h = SyncLatency::default();
    h.record(std::time::Duration::from_micros(700));
    h.record(std::time::Duration::from_secs(10));
    assert_eq!(h.counts[1], 1, "0.7 ms is in the le=0.001 bucket");
    assert_eq!(h.counts[SYNC_BUCKETS.len()], 1, "10 s is over every bound");
    assert_eq!(h.cumulative().last(), Some((2.5, 1)));
}

fn delayed(id: u64, topic: &str) -> StoreOp {
    StoreOp::DelayedSet {
        id,
        publish: Box::new(Publish::new(topic.to_string(), "later")),
        from: "c1".into(),
        delay: 60,
        due_ms: 1_795_470_482_125 + id,
    }
}

/// Messages held for delayed publish come back until published or
/// cancelled, through the log and through a compaction's snapshot.
#[test]
fn delayed_messages_survive_a_restart_and_a_compaction_until_cleared() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut store, _) = open(dir.path());
        store.append([delayed(1, "a"), delayed(2, "b"), delayed(3, "c")]);
        store.append([StoreOp::DelayedCleared { id: 2 }]);
        store.commit(true).unwrap();
    }
    let topics = |r: &Recovery| -> Vec<(u64, String, u64)> {
        r.restored
            .delayed
            .iter()
            .map(|d| (d.id, d.publish.topic.to_string(), d.due_ms))
            .collect()
    };
    let base = 1_795_470_482_125;
    let (mut store, r) = open(dir.path());
    assert_eq!(
        topics(&r),
        [
            (1, "a".to_string(), base + 1),
            (3, "c".to_string(), base + 3)
        ]
    );
    store.compact().unwrap();
    store.append([StoreOp::DelayedCleared { id: 1 }]);
    store.commit(true).unwrap();
    drop(store);
    let (_, r) = open(dir.path());
    assert_eq!(topics(&r), [(3, "c".to_string(), base + 3)]);
    assert_eq!(r.restored.delayed[0].from, "c1");
    assert_eq!(r.restored.delayed[0].delay, 60);
}

fn stamp(ms: u64, node: &str) -> hornet_core::Stamp {
    hornet_core::Stamp {
        ms,
        counter: 0,
        node: node.into(),
    }
}

fn retained(topic: &str, ms: u64) -> StoreOp {
    let mut p = Publish::new(topic.to_string(), "v");
    p.retain = true;
    StoreOp::RetainSet {
        publish: p,
        received_ms: ms,
        stamp: Box::new(stamp(ms, "n1")),
    }
}

/// Retained messages keep their stamps, and a cluster's tombstones (the
/// deletes it remembers) come back until forgotten (`RetainCleared`) or
/// replaced by a new message, through the log and a compaction alike.
#[test]
fn retained_stamps_and_tombstones_survive_a_restart_and_a_compaction() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut store, _) = open(dir.path());
        store.append([retained("a", 10), retained("b", 11), retained("c", 12)]);
        store.append([
            StoreOp::RetainTombstone {
                topic: "b".into(),
                stamp: stamp(20, "n2"),
            },
            StoreOp::RetainTombstone {
                topic: "d".into(),
                stamp: stamp(21, "n1"),
            },
        ]);
        store.commit(true).unwrap();
    }
    let state = |r: &Recovery| {
        let mut retained: Vec<(String, u64)> = r
            .restored
            .retained
            .iter()
            .map(|(p, _, s)| (p.topic.to_string(), s.ms))
            .collect();
        retained.sort();
        let mut tombstones: Vec<(String, u64, String)> = r
            .restored
            .tombstones
            .iter()
            .map(|(t, s)| (t.to_string(), s.ms, s.node.to_string()))
            .collect();
        tombstones.sort();
        (retained, tombstones)
    };
    let (mut store, r) = open(dir.path());
    assert_eq!(
        state(&r),
        (
            vec![("a".into(), 10), ("c".into(), 12)],
            vec![("b".into(), 20, "n2".into()), ("d".into(), 21, "n1".into())]
        )
    );
    store.compact().unwrap();
    store.append([retained("b", 30), StoreOp::RetainCleared("d".into())]);
    store.commit(true).unwrap();
    drop(store);
    let (mut store, r) = open(dir.path());
    assert_eq!(
        state(&r),
        (
            vec![("a".into(), 10), ("b".into(), 30), ("c".into(), 12)],
            vec![]
        )
    );
    store.append([StoreOp::RetainTombstone {
        topic: "a".into(),
        stamp: stamp(40, "n1"),
    }]);
    store.commit(true).unwrap();
    store.compact().unwrap();
    drop(store);
    let (_, r) = open(dir.path());
    assert_eq!(
        state(&r),
        (
            vec![("b".into(), 30), ("c".into(), 12)],
            vec![("a".into(), 40, "n1".into())]
        )
    );
}
