//! Drives the broker core (`hornet_core::Broker`) with event sequences
//! decoded from raw bytes and checks the invariants after every event.
//!
//! The world, the events and the checks are those of the property test
//! `crates/hornet-core/tests/event_sequences.rs`, included here as a module
//! (its proptest part is `#[cfg(test)]` and drops out), so the fuzzer and
//! `cargo test` share one oracle: a panic, in the broker or in a check, is a
//! crash.
//!
//! Input format (every byte read past the end is 0; decoding stops there):
//!
//! - 2 bytes of settings: byte 0 bits 0-1 `max_inflight_messages` (1, 2, 3,
//!   20), bits 2-4 `max_queued_messages` (0..=5, 1000, 1000), bits 5-7
//!   `max_unwritten_packets` (1..=5, 1024, 1024, 1024); byte 1 bit 0 `$SYS`
//!   every second, bit 1 `queue_qos0_messages`, bit 2 `max_packet_size` 64,
//!   bit 3 `max_keepalive` 2, bits 4-5 `topic_alias_maximum` (0, 2, 64, 64);
//! - then events, one opcode byte each (`(op & 15) % 14` picks the event,
//!   `op >> 4` the slot) followed by the event's argument bytes, see `event`
//!   below.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code, unreachable_pub)]
#[path = "../../crates/hornet-core/tests/event_sequences.rs"]
mod event_sequences;

use std::time::Duration;

use event_sequences::{ConnectSpec, Event, PublishSpec, World};
use hornet_codec::Protocol;
use hornet_core::Settings;

/// Longest event sequence taken from one input.
const MAX_EVENTS: usize = 256;

/// Reads bytes; past the end it yields zeros and remembers it did.
struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// `None` when the low bit is clear, else `Some(f(rest))`.
    fn option<T>(&mut self, f: impl FnOnce(u8) -> T) -> Option<T> {
        let b = self.byte();
        (b & 1 == 1).then(|| f(b >> 1))
    }
}

fn settings(input: &mut Input) -> Settings {
    let (a, b) = (input.byte(), input.byte());
    Settings {
        max_inflight_messages: [1, 2, 3, 20][usize::from(a & 3)],
        max_queued_messages: [0, 1, 2, 3, 4, 5, 1000, 1000][usize::from((a >> 2) & 7)],
        max_unwritten_packets: [1, 2, 3, 4, 5, 1024, 1024, 1024][usize::from(a >> 5)],
        sys_interval: (b & 1 == 1).then_some(Duration::from_secs(1)),
        queue_qos0_messages: b & 2 != 0,
        max_packet_size: if b & 4 != 0 { 64 } else { 1024 * 1024 },
        max_keepalive: if b & 8 != 0 { 2 } else { u16::MAX },
        topic_alias_maximum: [0, 2, 64, 64][usize::from((b >> 4) & 3)],
        connect_timeout: Duration::from_secs(5),
        connection_messages: false,
        ..Settings::default()
    }
}

fn event(input: &mut Input) -> Event {
    let op = input.byte();
    let slot = op >> 4;
    match (op & 15) % 14 {
        0 => Event::Open {
            slot,
            remote: input.byte() & 7 == 0,
        },
        1 => {
            let a = input.byte();
            Event::Connect {
                slot,
                connect: ConnectSpec {
                    protocol: [Protocol::V3_1, Protocol::V3_1_1, Protocol::V5, Protocol::V5]
                        [usize::from(a & 3)],
                    client: (a >> 2) & 3,
                    clean: a & 16 != 0,
                    keep_alive: u16::from(a >> 5) % 4,
                    will: input.option(|w| (w & 3, ((w >> 2) & 3) % 3, w & 16 != 0, (w >> 5) % 3)),
                    session_expiry: input.option(|e| [0, 1, 10, u32::MAX][usize::from(e & 3)]),
                    receive_maximum: input.option(|r| u16::from(r % 3) + 1),
                    max_packet: input.option(|m| m % 3),
                },
            }
        }
        2 | 3 => {
            let (a, b) = (input.byte(), input.byte());
            Event::Publish {
                slot,
                publish: PublishSpec {
                    topic: a & 3,
                    qos: ((a >> 2) & 3) % 3,
                    retain: a & 16 != 0,
                    dup: a & 32 != 0 && b & 64 != 0,
                    packet_id: u16::from(b & 3) + 1,
                    alias: (a & 64 != 0).then(|| [1, 2, 0, 100][usize::from((b >> 2) & 3)]),
                    payload: (a >> 7) + (b >> 7),
                },
            }
        }
        4 => {
            let a = input.byte();
            Event::Ack {
                slot,
                kind: a & 3,
                packet_id: u16::from((a >> 2) & 3) + 1,
                error: a & 16 != 0,
            }
        }
        5 => {
            let a = input.byte();
            Event::Subscribe {
                slot,
                filter: a & 3,
                qos: ((a >> 2) & 3) % 3,
                no_local: a & 16 != 0,
                rap: a & 32 != 0,
                rh: (a >> 6) % 3,
                identifier: input.option(|i| u32::from(i % 3) + 1),
            }
        }
        6 => Event::Unsubscribe {
            slot,
            filter: input.byte() & 3,
        },
        7 => Event::PingReq { slot },
        8 => {
            let a = input.byte();
            Event::Disconnect {
                slot,
                reason: a % 3,
                expiry: (a & 4 != 0).then(|| [0, 5, u32::MAX][usize::from(a >> 3) % 3]),
            }
        }
        9 => Event::Auth { slot },
        10 => Event::ServerPacket {
            slot,
            kind: input.byte() & 3,
        },
        11 => {
            let a = input.byte();
            if a & 1 == 0 {
                Event::DecodeFailed {
                    slot,
                    error: a >> 1,
                }
            } else {
                Event::Closed {
                    slot,
                    cause: (a >> 1) % 3,
                }
            }
        }
        12 => Event::Written {
            slot,
            count: input.byte() % 6,
        },
        _ => {
            let a = input.byte();
            Event::Tick {
                millis: if a & 128 != 0 {
                    u32::from(a & 127) * 160
                } else {
                    u32::from(a) * 8
                },
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input { data, pos: 0 };
    let settings = settings(&mut input);
    let mut events = Vec::new();
    while !input.done() && events.len() < MAX_EVENTS {
        events.push(event(&mut input));
    }
    World::run(settings, &events);
});
