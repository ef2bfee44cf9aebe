//! A subscriber task: reads PUBLISH packets in place, answers PUBACK at
//! QoS 1, or PUBREC and then PUBCOMP for each PUBREL at QoS 2, feeds each
//! payload's stamp to the sequence trackers and, during the measurement
//! window, its end-to-end latency to a histogram (µs).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BytesMut;
use hdrhistogram::Histogram;
use hornet_codec::peek_frame;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use crate::client::Conn;
use crate::payload;
use crate::shared::Shared;
use crate::tracker::Trackers;
use crate::wire::{self, kind};

/// Read buffer growth step.
const READ_CHUNK: usize = 64 * 1024;

/// What a subscriber saw.
#[derive(Debug)]
pub(crate) struct Seen {
    /// Per publisher sequence bookkeeping.
    pub(crate) trackers: Trackers,
    /// End-to-end latency in µs, measurement window only.
    pub(crate) latency: Histogram<u64>,
    /// PUBLISH packets whose payload was not ours.
    pub(crate) foreign: u64,
}

/// A latency histogram: 1 µs to 1 hour, 3 significant digits.
pub(crate) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Runs until `stop` turns true or the connection fails (an error while
/// not stopped goes to [`Shared::error`]).
pub(crate) async fn run(
    mut conn: Conn,
    id: usize,
    v5: bool,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> Seen {
    let mut seen = Seen {
        trackers: Trackers::default(),
        latency: new_histogram(),
        foreign: 0,
    };
    let mut out = BytesMut::with_capacity(16 * 1024);
    loop {
        if let Err(e) = handle(&mut conn.buf, &mut out, v5, &shared, &mut seen) {
            shared.error(&format!("subscriber {id}"), e);
            return seen;
        }
        if !out.is_empty() {
            if let Err(e) = crate::transport::send(&mut conn.stream, &out).await {
                if !*stop.borrow() {
                    shared.error(&format!("subscriber {id}"), format!("writing: {e}"));
                }
                return seen;
            }
            out.clear();
        }
        if conn.buf.capacity() - conn.buf.len() < 4096 {
            conn.buf.reserve(READ_CHUNK);
        }
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return seen,
            read = conn.stream.read_buf(&mut conn.buf) => match read {
                Ok(0) => {
                    shared.error(&format!("subscriber {id}"), "connection closed by the broker");
                    return seen;
                }
                Ok(_) => {}
                Err(e) => {
                    shared.error(&format!("subscriber {id}"), format!("reading: {e}"));
                    return seen;
                }
            },
        }
    }
}

/// Processes every whole frame in `buf`, queueing answers in `out`.
fn handle(
    buf: &mut BytesMut,
    out: &mut BytesMut,
    v5: bool,
    shared: &Shared,
    seen: &mut Seen,
) -> Result<(), String> {
    let now_ns = shared.now_ns();
    let measuring = shared.measuring.load(Ordering::Relaxed);
    let mut count = 0u64;
    while let Some(header) = peek_frame(buf, usize::MAX).map_err(|e| e.to_string())? {
        let total = header.total_len();
        if buf.len() < total {
            buf.reserve(total - buf.len());
            break;
        }
        let frame = buf.split_to(total);
        let body = &frame[header.header_len..];
        match header.first_byte >> 4 {
            kind::PUBLISH => {
                let publish =
                    wire::parse_publish(header.first_byte, body, v5).ok_or("malformed PUBLISH")?;
                count += 1;
                match publish.qos {
                    1 => wire::put_ack(out, kind::PUBACK, publish.packet_id),
                    2 => wire::put_ack(out, kind::PUBREC, publish.packet_id),
                    _ => {}
                }
                match payload::read(publish.payload) {
                    Some(stamp) => {
                        seen.trackers
                            .record(stamp.publisher, stamp.seq, publish.dup);
                        if measuring {
                            let us = now_ns.saturating_sub(stamp.sent_ns) / 1000;
                            seen.latency.saturating_record(us.max(1));
                        }
                    }
                    None => seen.foreign += 1,
                }
            }
            kind::PUBREL => {
                let id = wire::ack_packet_id(body).ok_or("short PUBREL")?;
                wire::put_ack(out, kind::PUBCOMP, id);
            }
            14 => return Err("DISCONNECT from the broker".to_string()),
            _ => {}
        }
    }
    if count > 0 {
        shared.delivered.fetch_add(count, Ordering::Relaxed);
    }
    Ok(())
}
