//! Helpers for the rumqttc integration tests (`rumqttc_v4.rs`, `rumqttc_v5.rs`).
//!
//! - [`v4`] and [`v5`] wrap a rumqttc client and its event loop, and drive the
//!   event loop until the event a test waits for arrives, each wait bounded by
//!   [`crate::common::TIMEOUT`]: no test sleeps for a guessed time.
//! - [`raw`] is a hand-encoded MQTT 3.1.1 client over a plain `TcpStream`, for
//!   what rumqttc cannot do: go silent (keep-alive) or pin exact bytes.
//!
//! Absence ("the broker did not send X") is shown with a *sentinel*: the test
//! publishes a last message after the one that must not arrive, and collects
//! everything the subscriber receives up to the sentinel.

#![allow(dead_code, unreachable_pub)]

pub mod raw;
pub mod v4;
pub mod v5;
