//! A hand-encoded MQTT 3.1.1 client on a plain TCP socket.
//!
//! rumqttc always answers and pings; these tests need a client that sends a
//! CONNECT (with a will) and then goes silent or drops its socket.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::TIMEOUT;

/// A will message, as carried in CONNECT.
#[derive(Clone, Debug)]
pub struct Will<'a> {
    /// Will topic.
    pub topic: &'a str,
    /// Will payload.
    pub payload: &'a [u8],
    /// Will QoS (0, 1 or 2).
    pub qos: u8,
    /// Will retain flag.
    pub retain: bool,
}

fn put_str(buf: &mut Vec<u8>, s: &[u8]) {
    let len = u16::try_from(s.len()).expect("string fits in u16");
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(s);
}

fn put_remaining_length(buf: &mut Vec<u8>, mut len: usize) {
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        buf.push(byte);
        if len == 0 {
            break;
        }
    }
}

/// The bytes of an MQTT 3.1.1 CONNECT packet.
pub fn connect_v311(
    client_id: &str,
    keep_alive: u16,
    clean_session: bool,
    will: Option<&Will<'_>>,
) -> Vec<u8> {
    let mut body = Vec::new();
    put_str(&mut body, b"MQTT");
    body.push(4); // protocol level 3.1.1
    let mut flags = 0u8;
    if clean_session {
        flags |= 0x02;
    }
    if let Some(w) = will {
        flags |= 0x04 | (w.qos << 3);
        if w.retain {
            flags |= 0x20;
        }
    }
    body.push(flags);
    body.extend_from_slice(&keep_alive.to_be_bytes());
    put_str(&mut body, client_id.as_bytes());
    if let Some(w) = will {
        put_str(&mut body, w.topic.as_bytes());
        put_str(&mut body, w.payload);
    }
    let mut packet = vec![0x10];
    put_remaining_length(&mut packet, body.len());
    packet.extend_from_slice(&body);
    packet
}

/// A raw MQTT 3.1.1 connection.
pub struct RawClient {
    stream: TcpStream,
}

impl RawClient {
    /// Connects, sends CONNECT and checks the CONNACK accepts it.
    /// Returns the client and the CONNACK's session-present flag.
    pub async fn connect(
        addr: SocketAddr,
        client_id: &str,
        keep_alive: u16,
        will: Option<&Will<'_>>,
    ) -> RawClient {
        let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr))
            .await
            .expect("TCP connect in time")
            .expect("TCP connect");
        stream.set_nodelay(true).expect("nodelay");
        let mut client = RawClient { stream };
        client
            .send(&connect_v311(client_id, keep_alive, true, will))
            .await;
        let mut connack = [0u8; 4];
        tokio::time::timeout(TIMEOUT, client.stream.read_exact(&mut connack))
            .await
            .expect("CONNACK in time")
            .expect("read CONNACK");
        assert_eq!(
            connack,
            [0x20, 0x02, 0x00, 0x00],
            "CONNACK accepting {client_id}"
        );
        client
    }

    /// Writes raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write to broker");
    }

    /// Sends DISCONNECT and waits (bounded) until the broker closes the
    /// connection, so the broker has processed the DISCONNECT when this returns.
    pub async fn disconnect(mut self) {
        self.send(&[0xE0, 0x00]).await;
        let _ = self.stream.shutdown().await;
        self.wait_closed().await;
    }

    /// Reads (discarding anything received) until the broker closes the
    /// connection; returns how long that took. Panics after [`TIMEOUT`].
    pub async fn wait_closed(&mut self) -> Duration {
        let start = Instant::now();
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout_at((start + TIMEOUT).into(), self.stream.read(&mut buf))
                .await
            {
                Err(_) => panic!("broker did not close the connection within {TIMEOUT:?}"),
                Ok(Ok(0)) | Ok(Err(_)) => return start.elapsed(),
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Drops the socket without DISCONNECT: for the broker, the network
    /// connection closes abruptly.
    pub fn drop_abruptly(self) {
        drop(self.stream);
    }
}
