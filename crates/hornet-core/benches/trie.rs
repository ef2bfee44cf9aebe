//! Topic index benchmarks: matching one topic name against 100,000
//! subscriptions (`SubscriptionTree::for_each_match`), fanning out to
//! 10,000 sessions on one filter, subscribe + unsubscribe, and searching
//! 100,000 retained messages with a filter (`RetainedStore::for_each_match`).
//!
//! The matching cost must depend on the matching branches only, not on the
//! number of subscriptions or retained messages.
//!
//! ```text
//! cargo bench -p hornet-core --bench trie -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hornet_core::retained::RetainedStore;
use hornet_core::trie::SubscriptionTree;

/// 100,000 subscriptions spread like a fleet of devices: one exact filter
/// and a few wildcard filters per device, plus a handful of catch-alls.
fn fleet() -> SubscriptionTree<u64, u8> {
    let mut tree = SubscriptionTree::new();
    let mut key = 0;
    for device in 0..25_000 {
        for filter in [
            format!("fleet/{device}/telemetry"),
            format!("fleet/{device}/cmd/+"),
            format!("fleet/{device}/#"),
            format!("fleet/+/telemetry/{device}"),
        ] {
            tree.insert(&filter, key, 1);
            key += 1;
        }
    }
    for filter in ["#", "fleet/+/telemetry", "+/+/telemetry", "$SYS/#"] {
        tree.insert(filter, key, 0);
        key += 1;
    }
    tree
}

fn subscriptions(c: &mut Criterion) {
    let mut group = c.benchmark_group("subscriptions");
    group.throughput(Throughput::Elements(1));
    let tree = fleet();
    group.bench_function("match 1 topic in 100k subs", |b| {
        b.iter(|| {
            let mut n = 0u32;
            tree.for_each_match(black_box("fleet/12345/telemetry"), |_, v| {
                n += u32::from(*v)
            });
            n
        })
    });
    group.bench_function("match $SYS topic in 100k subs", |b| {
        b.iter(|| {
            let mut n = 0u32;
            tree.for_each_match(black_box("$SYS/broker/uptime"), |_, v| n += u32::from(*v));
            n
        })
    });
    let mut tree = tree;
    group.bench_function("subscribe + unsubscribe", |b| {
        b.iter(|| {
            tree.insert(black_box("fleet/777/cmd/reboot"), 1 << 40, 2);
            tree.remove(black_box("fleet/777/cmd/reboot"), 1 << 40)
        })
    });

    let mut fan = SubscriptionTree::new();
    for key in 0..10_000u64 {
        fan.insert("news/#", key, 1u8);
    }
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("fan out to 10k sessions", |b| {
        b.iter(|| {
            let mut n = 0u32;
            fan.for_each_match(black_box("news/today"), |_, v| n += u32::from(*v));
            n
        })
    });
    group.finish();
}

fn retained(c: &mut Criterion) {
    let mut group = c.benchmark_group("retained");
    let mut store = RetainedStore::new();
    for device in 0..25_000 {
        for leaf in ["telemetry", "status", "cmd/last", "config"] {
            store.insert(&format!("fleet/{device}/{leaf}"), device);
        }
    }
    group.bench_function("literal filter in 100k", |b| {
        b.iter(|| {
            let mut n = 0;
            store.for_each_match(black_box("fleet/12345/status"), |_, m| n += m);
            n
        })
    });
    group.bench_function("subtree filter in 100k", |b| {
        b.iter(|| {
            let mut n = 0;
            store.for_each_match(black_box("fleet/12345/#"), |_, m| n += m);
            n
        })
    });
    group.finish();
}

criterion_group!(benches, subscriptions, retained);
criterion_main!(benches);
