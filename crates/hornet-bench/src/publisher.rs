//! A publisher task: stamps and sends PUBLISH packets on one connection,
//! either as fast as the broker takes them (`Pace::Flood`) or at a fixed
//! rate in small bursts on a 1 ms tick (`Pace::Rate`).
//!
//! QoS 0: batches of [`BATCH`] frames per write (at most
//! [`MAX_WRITE_PAYLOAD`] of payload per write), or, like a device
//! (`Plan::device`), one frame per write: the same messages at the same
//! pace, each in a syscall (and over WebSocket a frame) of its own. QoS 1 and 2: a window of
//! unacknowledged messages (PUBLISH → PUBACK, or PUBLISH → PUBREC → PUBREL
//! → PUBCOMP), refilled as acknowledgements arrive. When told to stop it
//! sends nothing more and waits (at most [`DRAIN_TIMEOUT`]) for the
//! outstanding flows to complete, then reports how many it sent.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use hornet_codec::{peek_frame, QoS};
use tokio::io::AsyncReadExt;
use tokio::time::MissedTickBehavior;

use crate::client::Conn;
use crate::payload::Stamp;
use crate::shared::Shared;
use crate::wire::{self, kind};

/// PUBLISH packets per write at QoS 0 when flooding.
pub(crate) const BATCH: usize = 64;
/// Most PUBLISH packets one rate tick may send at QoS 0.
const RATE_BURST: usize = 1024;
/// How long outstanding flows may take to complete after stop.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// A QoS 1/2 publisher with messages outstanding errs after this silence.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on one write.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most payload bytes in one write: 64 messages of 16 KiB, or one 1 MB
/// message. A WebSocket message holds one write, and brokers bound the
/// size of a WebSocket message (Hornet: `max_packet_size` + 64 KiB), so a
/// rate publisher catching up after a stall must not put several 1 MB
/// messages into one.
const MAX_WRITE_PAYLOAD: usize = 1 << 20;

/// How fast a publisher sends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Pace {
    /// As fast as the window and [`Shared::too_far_ahead`] allow.
    Flood,
    /// This many messages per second.
    Rate(f64),
}

/// What one publisher does.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Publisher id (carried in every payload).
    pub(crate) id: u32,
    /// Topic to publish to.
    pub(crate) topic: String,
    /// QoS of every message.
    pub(crate) qos: QoS,
    /// True for MQTT 5 framing.
    pub(crate) v5: bool,
    /// Payload size in bytes.
    pub(crate) payload: usize,
    /// How fast.
    pub(crate) pace: Pace,
    /// Most unacknowledged messages at QoS 1/2.
    pub(crate) window: usize,
    /// One message per write, as devices send.
    pub(crate) device: bool,
}

/// Runs the publisher until stopped or failed; returns how many messages
/// it sent (sequences `0..sent`). Errors go to [`Shared::error`].
pub(crate) async fn run(mut conn: Conn, plan: Plan, shared: Arc<Shared>) -> u64 {
    let mut state = State::default();
    if let Err(e) = drive(&mut conn, &plan, &shared, &mut state).await {
        shared.error(&format!("publisher {}", plan.id), e);
    }
    state.sent
}

#[derive(Debug, Default)]
struct State {
    sent: u64,
    inflight: usize,
    next_id: u16,
}

async fn drive(
    conn: &mut Conn,
    plan: &Plan,
    shared: &Shared,
    st: &mut State,
) -> Result<(), String> {
    let qos0 = plan.qos == QoS::AtMostOnce;
    let window = if qos0 {
        match plan.pace {
            Pace::Flood => BATCH,
            Pace::Rate(_) => RATE_BURST,
        }
    } else {
        plan.window
            .clamp(1, usize::from(conn.server_receive_maximum).max(1))
    };
    let per_write = per_write(plan);
    let mut out = BytesMut::with_capacity(
        window.min(BATCH).min(per_write) * (plan.payload + plan.topic.len() + 16),
    );
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let paced_from = Instant::now();
    let mut stop_deadline: Option<tokio::time::Instant> = None;
    loop {
        if stop_deadline.is_none() && shared.stop.load(Ordering::Relaxed) {
            stop_deadline = Some(tokio::time::Instant::now() + DRAIN_TIMEOUT);
        }
        let stopping = stop_deadline.is_some();
        let mut n = if stopping { 0 } else { window - st.inflight };
        match plan.pace {
            Pace::Flood if shared.too_far_ahead() => n = 0,
            Pace::Flood => {}
            Pace::Rate(rate) => {
                let due = (paced_from.elapsed().as_secs_f64() * rate) as u64;
                n = n.min(due.saturating_sub(st.sent) as usize);
            }
        }
        if n > 0 {
            let sent_ns = shared.now_ns();
            for i in 0..n {
                if i > 0 && i % per_write == 0 {
                    // A write holds at most MAX_WRITE_PAYLOAD of payload.
                    write_out(conn, &mut out).await?;
                    shared
                        .published
                        .fetch_add(per_write as u64, Ordering::Relaxed);
                }
                let id = if qos0 {
                    0
                } else {
                    st.next_id = st.next_id.checked_add(1).unwrap_or(1);
                    st.inflight += 1;
                    st.next_id
                };
                let stamp = Stamp {
                    publisher: plan.id,
                    seq: st.sent,
                    sent_ns,
                };
                wire::put_publish(
                    &mut out,
                    plan.v5,
                    &plan.topic,
                    plan.qos,
                    id,
                    stamp,
                    plan.payload,
                );
                st.sent += 1;
            }
        }
        if !out.is_empty() {
            write_out(conn, &mut out).await?;
            if n > 0 {
                let last = n - (n - 1) / per_write * per_write;
                shared.published.fetch_add(last as u64, Ordering::Relaxed);
            }
        }
        if qos0 {
            if stopping {
                return Ok(());
            }
            match plan.pace {
                Pace::Rate(_) => {
                    ticker.tick().await;
                }
                Pace::Flood if n == 0 => tokio::time::sleep(Duration::from_millis(1)).await,
                Pace::Flood => {}
            }
            continue;
        }
        if stopping && st.inflight == 0 {
            return Ok(());
        }
        let until = stop_deadline.unwrap_or_else(|| tokio::time::Instant::now() + ACK_TIMEOUT);
        let rate_paced = matches!(plan.pace, Pace::Rate(_)) && !stopping;
        let held_back = plan.pace == Pace::Flood && n == 0 && !stopping;
        tokio::select! {
            read = tokio::time::timeout_at(until, conn.stream.read_buf(&mut conn.buf)) => match read {
                Err(_) if stopping => {
                    return Err(format!("{} flows still unacknowledged {DRAIN_TIMEOUT:?} after stop", st.inflight));
                }
                Err(_) if st.inflight > 0 => return Err(format!("no acknowledgement for {ACK_TIMEOUT:?}")),
                Err(_) => {}
                Ok(Ok(0)) => return Err("connection closed by the broker".to_string()),
                Ok(Err(e)) => return Err(format!("reading: {e}")),
                Ok(Ok(_)) => handle_acks(conn, &mut out, st, shared)?,
            },
            _ = ticker.tick(), if rate_paced => {}
            _ = tokio::time::sleep(Duration::from_millis(1)), if held_back => {}
        }
    }
}

/// Messages per write: one for a device, else as many as
/// [`MAX_WRITE_PAYLOAD`] allows.
fn per_write(plan: &Plan) -> usize {
    if plan.device {
        1
    } else {
        (MAX_WRITE_PAYLOAD / plan.payload.max(1)).max(1)
    }
}

/// Writes `out` in one call (over WebSocket: one binary message), then
/// clears it.
async fn write_out(conn: &mut Conn, out: &mut BytesMut) -> Result<(), String> {
    tokio::time::timeout(WRITE_TIMEOUT, crate::transport::send(&mut conn.stream, out))
        .await
        .map_err(|_| "timed out writing".to_string())?
        .map_err(|e| format!("writing: {e}"))?;
    out.clear();
    Ok(())
}

/// Processes every whole frame in the read buffer: PUBACK and PUBCOMP end
/// a flow, PUBREC is answered with PUBREL (queued in `out`).
fn handle_acks(
    conn: &mut Conn,
    out: &mut BytesMut,
    st: &mut State,
    shared: &Shared,
) -> Result<(), String> {
    let mut done = 0u64;
    while let Some(header) = peek_frame(&conn.buf, usize::MAX).map_err(|e| e.to_string())? {
        let total = header.total_len();
        if conn.buf.len() < total {
            conn.buf.reserve(total - conn.buf.len());
            break;
        }
        let frame = conn.buf.split_to(total);
        let body = &frame[header.header_len..];
        match header.first_byte >> 4 {
            kind::PUBACK | kind::PUBCOMP => {
                if body.get(2).is_some_and(|&reason| reason >= 0x80) {
                    return Err(format!(
                        "acknowledgement with error reason 0x{:02x}",
                        body[2]
                    ));
                }
                st.inflight = st.inflight.saturating_sub(1);
                done += 1;
            }
            kind::PUBREC => {
                let id = wire::ack_packet_id(body).ok_or("short PUBREC")?;
                if body.get(2).is_some_and(|&reason| reason >= 0x80) {
                    return Err(format!("PUBREC with error reason 0x{:02x}", body[2]));
                }
                wire::put_ack(out, kind::PUBREL, id);
            }
            14 => return Err("DISCONNECT from the broker".to_string()),
            _ => {}
        }
    }
    if done > 0 {
        shared.acked.fetch_add(done, Ordering::Relaxed);
    }
    if conn.buf.capacity() - conn.buf.len() < 1024 {
        conn.buf.reserve(16 * 1024);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(payload: usize, device: bool) -> Plan {
        Plan {
            id: 0,
            topic: "t".into(),
            qos: QoS::AtMostOnce,
            v5: false,
            payload,
            pace: Pace::Flood,
            window: 64,
            device,
        }
    }

    #[test]
    fn a_device_writes_one_message_per_syscall() {
        assert_eq!(per_write(&plan(64, true)), 1);
        assert_eq!(per_write(&plan(1_000_000, true)), 1);
        assert_eq!(per_write(&plan(64, false)), MAX_WRITE_PAYLOAD / 64);
        assert_eq!(per_write(&plan(2 << 20, false)), 1);
    }
}
