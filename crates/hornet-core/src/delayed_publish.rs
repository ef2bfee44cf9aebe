//! Delayed publish as the broker's rules (EMQX's `$delayed/{seconds}/{topic}`):
//! which PUBLISH is held and which refused, the records that make a held
//! message survive a restart, publishing it when due (on the virtual
//! clock: [`Broker::next_deadline`] includes the earliest), restoring the
//! held messages, and what the admin API lists and cancels.
//!
//! A held message is acknowledged like any other (after its record is
//! durable, `durable.rs`) and published as if its client sent it at the
//! due time: to the topic after the seconds, with its QoS, RETAIN flag and
//! properties (a Message Expiry Interval counts from then). The ACL and
//! the `$SYS` rule apply to that topic when the message arrives. Refused:
//! a malformed `$delayed/` topic (0x90 Topic Name invalid), a delay over
//! `max_delayed_interval` (0x83 Implementation specific error), and a
//! message over `max_delayed_messages` (0x97 Quota exceeded); MQTT 3.x
//! cannot be told, the message is dropped and logged. `$delayed/0/t` is
//! published at once.

use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;
use hornet_codec::{Ack, Packet, Properties, Publish, QoS, ReasonCode};

use crate::broker::{Broker, ConnId};
use crate::delayed::Held;
use crate::persist::{RestoredDelayed, StoreOp};
use crate::session::SessionKey;
use crate::settings::Settings;

/// A message held for delayed publish, for the admin API.
#[derive(Debug, Clone, PartialEq)]
pub struct DelayedRow {
    /// Its id (for cancelling).
    pub id: u64,
    /// The topic it will be published to.
    pub topic: String,
    /// Its QoS.
    pub qos: QoS,
    /// Its RETAIN flag.
    pub retain: bool,
    /// The payload.
    pub payload: Bytes,
    /// Its MQTT 5 properties.
    pub properties: Properties,
    /// The client that published it (empty: the broker).
    pub from: String,
    /// When it is due.
    pub due: Instant,
}

/// Reads the delay of a PUBLISH to `$delayed/...`: `Ok(None)` when the
/// topic is not a delayed one (or delayed publish is off), `Ok(Some)`
/// with the seconds after the topic was set to the final one, or the
/// refusal's reason code and text.
pub(crate) fn delay_of(
    settings: &Settings,
    held: usize,
    publish: &mut Publish,
) -> Result<Option<u32>, (ReasonCode, String)> {
    if !settings.delayed_publish {
        return Ok(None);
    }
    let (secs, target) = match crate::delayed::parse(&publish.topic) {
        None => return Ok(None),
        Some(Err(bad)) => return Err((ReasonCode::TopicNameInvalid, bad.text().to_string())),
        Some(Ok(parsed)) => parsed,
    };
    let max = settings.max_delayed_interval;
    if secs > u64::from(max) {
        return Err((
            ReasonCode::ImplementationSpecificError,
            format!("a delay of {secs} s is over max_delayed_interval ({max} s)"),
        ));
    }
    let most = settings.max_delayed_messages;
    if secs > 0 && held >= most {
        return Err((
            ReasonCode::QuotaExceeded,
            format!("{most} messages are held already (max_delayed_messages)"),
        ));
    }
    let target = publish.topic.slice_ref(target);
    publish.topic = target;
    Ok(Some(secs as u32))
}

impl Broker {
    /// Logs and answers a refused delayed PUBLISH on `id`.
    pub(crate) fn refuse_delayed(
        &mut self,
        id: ConnId,
        publish: &Publish,
        reason: ReasonCode,
        text: &str,
    ) {
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        tracing::info!(
            "Refused PUBLISH from {} to '{}': {text}.",
            conn.name(),
            publish.topic
        );
        let ack = match (publish.qos, publish.packet_id) {
            (QoS::AtLeastOnce, Some(pid)) => Packet::PubAck(Ack::with_reason(pid, reason)),
            (QoS::ExactlyOnce, Some(pid)) => Packet::PubRec(Ack::with_reason(pid, reason)),
            _ => return,
        };
        self.send_explained(id, ack, text);
    }

    /// Routes `publish` now, or holds it for `delay` seconds; returns
    /// whether a subscription matched (a held message counts as matched:
    /// nobody can tell yet).
    pub(crate) fn accept_or_hold(
        &mut self,
        now: Instant,
        publish: Publish,
        origin: Option<SessionKey>,
        delay: Option<u32>,
        source: Option<Box<crate::retained::RetainSource>>,
    ) -> bool {
        match delay {
            None | Some(0) => self.accept_publish_from(now, publish, origin, source),
            Some(secs) => {
                self.hold_delayed(now, publish, origin, secs);
                true
            }
        }
    }

    /// Holds `publish` (final topic) for `secs` seconds.
    fn hold_delayed(
        &mut self,
        now: Instant,
        mut publish: Publish,
        origin: Option<SessionKey>,
        secs: u32,
    ) {
        publish.dup = false;
        publish.packet_id = None;
        // Kept for a while: its own bytes, not a slice of the read buffer.
        publish.detach();
        let from = origin
            .and_then(|k| self.sessions.get(&k))
            .map_or_else(ByteString::new, |s| s.client_id.clone());
        let due = now + Duration::from_secs(u64::from(secs));
        let record = self.journal.enabled().then(|| publish.clone());
        let id = self.delayed.hold(Held {
            publish,
            due,
            from: from.clone(),
        });
        tracing::debug!("Holding delayed message {id} from {from} for {secs} s.");
        if let Some(publish) = record {
            let due_ms = match self.journal.unix_ms(now) {
                0 => 0,
                ms => ms.saturating_add(u64::from(secs) * 1000),
            };
            self.journal.push(StoreOp::DelayedSet {
                id,
                publish: Box::new(publish),
                from,
                delay: secs,
                due_ms,
            });
        }
    }

    /// Publishes every held message due at `now`, earliest first.
    pub(crate) fn publish_due_delayed(&mut self, now: Instant) {
        while let Some((id, held)) = self.delayed.next_due(now) {
            self.journal.push(StoreOp::DelayedCleared { id });
            // No Local applies to the publisher's session, if it still has one.
            let origin = self.sessions.key_of(&held.from);
            self.accept_publish(now, held.publish, origin);
        }
    }

    /// Holds the messages the store recovered; time spent down counts.
    pub(crate) fn restore_delayed(&mut self, now: Instant, list: Vec<RestoredDelayed>) {
        let now_ms = self.journal.unix_ms(now);
        for d in list {
            let left = if d.due_ms == 0 || now_ms == 0 {
                Duration::from_secs(u64::from(d.delay))
            } else {
                Duration::from_millis(d.due_ms.saturating_sub(now_ms))
            };
            let held = Held {
                publish: d.publish,
                due: now + left,
                from: d.from,
            };
            self.delayed.insert(d.id, held);
        }
    }

    /// The messages held for delayed publish, by id.
    pub fn admin_delayed(&self) -> Vec<DelayedRow> {
        self.delayed
            .iter()
            .map(|(id, h)| DelayedRow {
                id,
                topic: h.publish.topic.to_string(),
                qos: h.publish.qos,
                retain: h.publish.retain,
                payload: h.publish.payload.clone(),
                properties: h.publish.properties.clone(),
                from: h.from.to_string(),
                due: h.due,
            })
            .collect()
    }

    /// Cancels held message `id`; returns whether there was one.
    pub fn admin_cancel_delayed(&mut self, id: u64) -> bool {
        if self.delayed.cancel(id).is_none() {
            return false;
        }
        self.journal.push(StoreOp::DelayedCleared { id });
        tracing::info!("Delayed message {id} cancelled.");
        true
    }
}
