//! The durability workload on three engines: Hornet's own log
//! (`hornet-store`), redb and fjall. Per message: store the body, add a
//! session queue entry, and, 100 messages later, delete both (the
//! subscriber acknowledged). Group commit: `batch` messages, then one
//! durable commit (fsync). Prints messages/s and fsyncs/s per engine and
//! batch size, as a Markdown table for `docs/durability.md`.
//!
//! Run: `cargo run --release --manifest-path crates/hornet-store/engine-bench/Cargo.toml -- [DIR]`
//! (DIR: where to put the files; default a temporary directory. Use a
//! directory on the disk you care about: tmpfs makes fsync free.)

use std::path::Path;
use std::time::{Duration, Instant};

use hornet_codec::{Publish, QoS};
use hornet_core::persist::{Shape, StoreOp};

const PAYLOAD: usize = 64;
const WINDOW: u64 = 100;
const RUN: Duration = Duration::from_secs(3);

trait Engine {
    fn name(&self) -> &'static str;
    /// Messages `first..first+n`: store each, and delete the one WINDOW before.
    fn batch(&mut self, first: u64, n: u64);
}

struct Log(hornet_store::Store);

impl Engine for Log {
    fn name(&self) -> &'static str {
        "hornet-store log"
    }
    fn batch(&mut self, first: u64, n: u64) {
        let mut ops = Vec::with_capacity(4 * n as usize);
        for id in first..first + n {
            let mut p = Publish::new("bench/topic/1", vec![b'x'; PAYLOAD]);
            p.qos = QoS::AtLeastOnce;
            ops.push(StoreOp::Message {
                id,
                publish: p,
                received_ms: 0,
            });
            ops.push(StoreOp::Queued {
                session: 1,
                message: id,
                shape: Shape {
                    qos: QoS::AtLeastOnce,
                    retain: false,
                    identifiers: Vec::new(),
                    group: None,
                },
            });
            ops.push(StoreOp::Sent {
                session: 1,
                message: id,
                packet_id: (id % 60000 + 1) as u16,
            });
            if id > WINDOW {
                ops.push(StoreOp::Settled {
                    session: 1,
                    packet_id: ((id - WINDOW) % 60000 + 1) as u16,
                });
            }
        }
        self.0.append(ops);
        self.0.commit(true).expect("commit");
    }
}

const MSGS: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("messages");
const QUEUE: redb::TableDefinition<(u64, u64), u16> = redb::TableDefinition::new("queue");

struct Redb(redb::Database);

impl Engine for Redb {
    fn name(&self) -> &'static str {
        "redb 2"
    }
    fn batch(&mut self, first: u64, n: u64) {
        let body = body();
        let mut tx = self.0.begin_write().unwrap();
        tx.set_durability(redb::Durability::Immediate);
        {
            let mut msgs = tx.open_table(MSGS).unwrap();
            let mut queue = tx.open_table(QUEUE).unwrap();
            for id in first..first + n {
                msgs.insert(id, &body[..]).unwrap();
                queue.insert((1, id), (id % 60000 + 1) as u16).unwrap();
                if id > WINDOW {
                    msgs.remove(id - WINDOW).unwrap();
                    queue.remove((1, id - WINDOW)).unwrap();
                }
            }
        }
        tx.commit().unwrap();
    }
}

struct Fjall {
    keyspace: fjall::Keyspace,
    msgs: fjall::PartitionHandle,
    queue: fjall::PartitionHandle,
}

impl Engine for Fjall {
    fn name(&self) -> &'static str {
        "fjall 2"
    }
    fn batch(&mut self, first: u64, n: u64) {
        let body = body();
        let mut batch = self.keyspace.batch();
        for id in first..first + n {
            batch.insert(&self.msgs, id.to_be_bytes(), &body[..]);
            let mut qk = [0u8; 16];
            qk[..8].copy_from_slice(&1u64.to_be_bytes());
            qk[8..].copy_from_slice(&id.to_be_bytes());
            batch.insert(&self.queue, qk, ((id % 60000 + 1) as u16).to_be_bytes());
            if id > WINDOW {
                batch.remove(&self.msgs, (id - WINDOW).to_be_bytes());
                qk[8..].copy_from_slice(&(id - WINDOW).to_be_bytes());
                batch.remove(&self.queue, qk);
            }
        }
        batch.commit().unwrap();
        self.keyspace.persist(fjall::PersistMode::SyncData).unwrap();
    }
}

/// A message body as stored: topic + payload, about what the log stores.
fn body() -> Vec<u8> {
    let mut b = b"bench/topic/1".to_vec();
    b.extend(std::iter::repeat_n(b'x', PAYLOAD));
    b
}

fn open(kind: &str, dir: &Path) -> Box<dyn Engine> {
    match kind {
        "log" => Box::new(Log(hornet_store::Store::open(
            dir,
            hornet_store::StoreOptions::default(),
        )
        .unwrap()
        .0)),
        "redb" => Box::new(Redb(
            redb::Database::create(dir.join("bench.redb")).unwrap(),
        )),
        "fjall" => {
            let keyspace = fjall::Config::new(dir).open().unwrap();
            let msgs = keyspace
                .open_partition("messages", Default::default())
                .unwrap();
            let queue = keyspace
                .open_partition("queue", Default::default())
                .unwrap();
            Box::new(Fjall {
                keyspace,
                msgs,
                queue,
            })
        }
        _ => unreachable!(),
    }
}

fn main() {
    let base = std::env::args().nth(1);
    let tmp = tempfile::tempdir_in(base.as_deref().unwrap_or(".")).unwrap();
    println!("| engine | batch (messages per fsync) | messages/s | fsyncs/s |");
    println!("| --- | ---: | ---: | ---: |");
    for kind in ["log", "redb", "fjall"] {
        for batch in [1u64, 16, 256] {
            let dir = tmp.path().join(format!("{kind}-{batch}"));
            std::fs::create_dir_all(&dir).unwrap();
            let mut engine = open(kind, &dir);
            let start = Instant::now();
            let mut next = 1;
            let mut commits = 0u64;
            while start.elapsed() < RUN {
                engine.batch(next, batch);
                next += batch;
                commits += 1;
            }
            let secs = start.elapsed().as_secs_f64();
            println!(
                "| {} | {batch} | {:.0} | {:.0} |",
                engine.name(),
                (next - 1) as f64 / secs,
                commits as f64 / secs
            );
        }
    }
}
