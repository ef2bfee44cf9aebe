//! A hand-driven MQTT client over a blocking std socket, built on
//! hornet-codec: send any packet, read the next one or EOF, each read
//! bounded by `common::TIMEOUT`.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use bytes::BytesMut;
use hornet_codec::{Connect, Decoder, Packet, Protocol};

use crate::common::TIMEOUT;

/// A hand-driven MQTT client over a std socket.
pub struct Raw {
    stream: TcpStream,
    decoder: Decoder,
    buf: BytesMut,
    protocol: Protocol,
}

impl Raw {
    /// Connects to `to`. Connecting to one of the machine's own
    /// non-loopback addresses makes that address the peer the broker sees.
    pub fn connect_to(to: SocketAddr, connect: Connect) -> Raw {
        let stream = TcpStream::connect(to).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let protocol = connect.protocol;
        let mut raw = Raw {
            stream,
            decoder: Decoder::with_protocol(protocol),
            buf: BytesMut::new(),
            protocol,
        };
        raw.send(connect.into());
        raw
    }

    /// Turns Nagle's algorithm off, for a client that measures latency.
    pub fn set_nodelay(&self) {
        self.stream.set_nodelay(true).unwrap();
    }

    pub fn send(&mut self, packet: Packet) {
        self.try_send(packet).unwrap();
    }

    /// As [`Raw::send`], for a connection the broker may have closed.
    pub fn try_send(&mut self, packet: Packet) -> std::io::Result<()> {
        let mut out = BytesMut::new();
        packet.encode(self.protocol, &mut out).unwrap();
        self.stream.write_all(&out)
    }

    /// Sends `packets` back to back in one write (a burst).
    pub fn send_all(&mut self, packets: &[Packet]) {
        let mut out = BytesMut::new();
        for packet in packets {
            packet.encode(self.protocol, &mut out).unwrap();
        }
        self.stream.write_all(&out).unwrap();
    }

    /// The next packet if one arrives within `wait` (`Err` when none
    /// did), or `Ok(None)` at EOF.
    pub fn recv_within(&mut self, wait: std::time::Duration) -> Result<Option<Packet>, ()> {
        if let Ok(Some(p)) = self.decoder.decode(&mut self.buf) {
            return Ok(Some(p));
        }
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let mut chunk = [0u8; 4096];
        let read = self.stream.read(&mut chunk);
        self.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        match read {
            Ok(0) => Ok(None),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                match self.decoder.decode(&mut self.buf) {
                    Ok(Some(p)) => Ok(Some(p)),
                    // The rest of the packet follows: read it as usual.
                    Ok(None) => Ok(self.recv()),
                    Err(e) => panic!("broker sent an invalid packet: {e}"),
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        // A signal to the test process (a child exiting).
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                Err(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(None),
            Err(e) => panic!("read: {e}"),
        }
    }

    /// The next packet, or `None` at EOF (or reset).
    pub fn recv(&mut self) -> Option<Packet> {
        loop {
            if let Some(p) = self
                .decoder
                .decode(&mut self.buf)
                .expect("broker sent a valid packet")
            {
                return Some(p);
            }
            let mut chunk = [0u8; 4096];
            let n = match self.stream.read(&mut chunk) {
                Ok(n) => n,
                // A reset is a close too (the peer closed with our bytes unread).
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
                Err(e) => panic!("read within {TIMEOUT:?}: {e}"),
            };
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}
