//! # hornet-client
//!
//! A sans-IO MQTT client session, the client half of what `hornet-core` is
//! for the broker: packets and `now` go in, packets to send and events come
//! out. It never touches a socket, a thread or a clock, so every rule is
//! tested on a virtual clock. Hornet's outgoing bridges
//! (`crates/hornet/src/bridge/`) and its `hornet pub` / `hornet sub`
//! commands (`crates/hornet/src/client/`) drive it, each over its own
//! transport; [`Options`] says which of a bridge's or a command-line
//! client's ways it follows (QoS 2 handed on at PUBREL, the remote's
//! limits applied or left to the remote, topic aliases).
//!
//! What it owns:
//! - packet identifiers ([`ids`]), never 0, never two in use at once;
//! - the outgoing inflight window, bounded by the remote's Receive Maximum
//!   and our own limit; messages beyond it wait in order;
//! - the QoS 1 and QoS 2 sender state machines, and their resend after a
//!   reconnect (PUBLISH with DUP, PUBREL for messages already PUBRECed);
//! - the QoS 1 and QoS 2 receiver side (PUBACK, PUBREC / PUBREL / PUBCOMP,
//!   a QoS 2 message handed on once);
//! - keep-alive: PINGREQ after `keep_alive` of silence on our side, and a
//!   timeout when no PINGRESP arrives within another `keep_alive`;
//! - the remote's CONNACK limits ([`limits`]): Maximum Packet Size,
//!   Maximum QoS, Retain Available, Topic Alias Maximum;
//! - the remote's topic aliases, up to what our CONNECT allowed.
//!
//! ```
//! use std::time::Instant;
//! use hornet_client::{Event, Options, Session};
//! use hornet_codec::{ConnAck, Packet, Protocol, Publish, QoS, ReasonCode};
//!
//! let now = Instant::now();
//! let mut session = Session::new(Options::new(Protocol::V5, "bridge-1"));
//! session.connect(now);
//! assert!(matches!(session.poll_transmit(now), Some(Packet::Connect(_))));
//! session.handle(Packet::ConnAck(ConnAck::new(ReasonCode::Success, false))).unwrap();
//! assert!(matches!(session.poll_event(), Some(Event::Connected { .. })));
//! let mut message = Publish::new("a/b", "hello");
//! message.qos = QoS::AtLeastOnce;
//! session.publish(message).unwrap();
//! let Some(Packet::Publish(sent)) = session.poll_transmit(now) else { panic!() };
//! assert_eq!(sent.packet_id.map(|id| id.get()), Some(1));
//! ```

#![forbid(unsafe_code)]

mod error;
pub mod ids;
mod inflight;
mod keepalive;
pub mod limits;
mod options;
mod session;

pub use error::{ClientError, PublishError};
pub use inflight::Stage;
pub use limits::ServerLimits;
pub use options::Options;
pub use session::{Event, Session, State};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_cli;
