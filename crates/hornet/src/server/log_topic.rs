//! The task that publishes the broker's log lines (`log_dest topic`) on
//! `$SYS/broker/log/<level>`: it drains the logging layer's bounded queue
//! (`logging/topic.rs`) in batches into the core, inside
//! [`crate::logging::publishing`] so that whatever the core logs meanwhile
//! is not queued again, and says how many lines the queue dropped.

use std::sync::Arc;
use std::time::Instant;

use crate::logging::{publishing, TopicFeed};

use super::Shared;

/// Most lines published under one hold of the core.
const BATCH: usize = 64;

/// Publishes every queued line until the queue closes.
pub(crate) async fn run(shared: Arc<Shared>, feed: Arc<TopicFeed>) {
    let Some(mut rx) = feed.take_receiver() else {
        return;
    };
    let mut reported = 0;
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        publishing(|| {
            shared.with_core(|core| {
                let now = Instant::now();
                for line in batch.drain(..) {
                    core.publish_log(now, line.level, line.payload);
                }
            })
        });
        let dropped = feed.dropped();
        if dropped > reported {
            // Outside `publishing`: this line is published too.
            tracing::warn!(
                "{} log lines were not published on $SYS/broker/log: the broker logged \
                 faster than it could publish them.",
                dropped - reported
            );
            reported = dropped;
        }
    }
}
