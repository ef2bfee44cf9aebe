//! A small asynchronous MQTT client, for `hornet pub` and `hornet sub`.
//!
//! Built on `hornet-codec` (the same packet model the broker uses), so it
//! speaks MQTT 3.1 (`MQIsdp`, level 3), 3.1.1 and 5.0 with every property.
//!
//! - [`transport`]: the byte stream to the broker: TCP, TLS
//!   (tokio-rustls), WebSocket and secure WebSocket (tokio-tungstenite,
//!   subprotocol `mqtt`).
//! - [`tls`]: the rustls client configuration from `--cafile`,
//!   `--capath`, `--cert`/`--key`, `--insecure` and `--tls-version`.
//! - [`psk`]: the client side of TLS-PSK (OpenSSL), for bridges with
//!   `bridge_identity` / `bridge_psk`.
//! - [`session`]: one connection's MQTT conversation, the socket side of
//!   `hornet-client`'s sans-IO session (the one the bridges run too):
//!   CONNECT/CONNACK, the QoS 1 and 2 flows in both directions,
//!   keep-alive PINGREQ, DISCONNECT.
//! - [`debug`]: the `-d` lines, in `mosquitto_pub`/`mosquitto_sub`'s words.
//!
//! One task drives a session; there is no background task. Calls wait for
//! what they need (an acknowledgement, the next message) and meanwhile
//! answer whatever else arrives (acknowledge incoming messages, pings).

pub(crate) mod debug;
pub(crate) mod psk;
pub(crate) mod session;
pub(crate) mod tls;
pub(crate) mod transport;
