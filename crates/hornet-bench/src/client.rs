//! Opening a benchmark connection: TCP connect (and TLS and the WebSocket
//! upgrade when the target's transport asks, see `transport`), CONNECT/CONNACK and, for a
//! subscriber, SUBSCRIBE/SUBACK, each step bounded by a timeout. After the
//! handshake the connection belongs to a publisher or subscriber task that
//! speaks the hot path by hand (see `wire`).

use std::num::NonZeroU16;
use std::time::Duration;

use bytes::BytesMut;
use hornet_codec::{Connect, Decoder, Packet, Properties, Property, Protocol, QoS, Subscribe};
use tokio::io::AsyncReadExt;

use crate::transport::{self, Carrier, Stream};

/// Bound on connecting and on each handshake step.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the broker is.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Host name or address.
    pub(crate) host: String,
    /// TCP port.
    pub(crate) port: u16,
    /// MQTT version to speak.
    pub(crate) protocol: Protocol,
    /// What carries MQTT (TCP, TLS, WebSocket).
    pub(crate) carrier: Carrier,
}

/// How one connection introduces itself.
#[derive(Debug, Clone)]
pub(crate) struct Hello {
    /// Client identifier.
    pub(crate) client_id: String,
    /// Keep alive in seconds.
    pub(crate) keep_alive: u16,
    /// MQTT 5 Receive Maximum to announce (subscribers: 65535 so the
    /// broker may pipeline); `None` sends no property.
    pub(crate) receive_maximum: Option<u16>,
    /// Topic filter to subscribe to after CONNACK, at this QoS.
    pub(crate) subscribe: Option<(String, QoS)>,
    /// Initial read buffer capacity.
    pub(crate) buffer: usize,
    /// Ask for a persistent session (3.x clean session 0, MQTT 5 Session
    /// Expiry Interval 1 hour).
    pub(crate) persistent: bool,
}

/// A connection past its handshake.
pub(crate) struct Conn {
    /// The stream (write with [`transport::send`], which flushes).
    pub(crate) stream: Stream,
    /// Bytes read past the handshake.
    pub(crate) buf: BytesMut,
    /// The broker's Receive Maximum (MQTT 5 CONNACK), 65535 when absent.
    pub(crate) server_receive_maximum: u16,
}

/// Connects and completes the handshake, or says which step failed.
pub(crate) async fn open(target: &Target, hello: &Hello) -> Result<Conn, String> {
    let stream = tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        transport::connect(&target.host, target.port, &target.carrier),
    )
    .await
    .map_err(|_| "timed out connecting".to_string())??;
    let mut conn = Conn {
        stream,
        buf: BytesMut::with_capacity(hello.buffer.max(64)),
        server_receive_maximum: u16::MAX,
    };
    let protocol = target.protocol;
    let mut decoder = Decoder::with_protocol(protocol);

    let mut connect = Connect::new(protocol, hello.client_id.as_str());
    connect.keep_alive = hello.keep_alive;
    if let (true, Some(max)) = (protocol.is_v5(), hello.receive_maximum) {
        connect.properties = Properties::new().with(Property::ReceiveMaximum(max));
    }
    if hello.persistent {
        connect.clean_start = false;
        if protocol.is_v5() {
            connect
                .properties
                .push(Property::SessionExpiryInterval(3600));
        }
    }
    send(&mut conn.stream, protocol, connect.into()).await?;
    match receive(&mut conn, &mut decoder, "CONNACK").await? {
        Packet::ConnAck(ack) if !ack.reason_code.is_error() => {
            if let Some(max) = ack.properties.receive_maximum() {
                conn.server_receive_maximum = max;
            }
        }
        Packet::ConnAck(ack) => return Err(format!("CONNACK refused: {:?}", ack.reason_code)),
        other => return Err(format!("expected CONNACK, got {:?}", other.packet_type())),
    }

    if let Some((filter, qos)) = &hello.subscribe {
        let id = NonZeroU16::MIN;
        send(
            &mut conn.stream,
            protocol,
            Subscribe::new(id, filter.as_str(), *qos).into(),
        )
        .await?;
        match receive(&mut conn, &mut decoder, "SUBACK").await? {
            Packet::SubAck(ack) if ack.reason_codes.iter().all(|c| !c.is_error()) => {}
            Packet::SubAck(ack) => return Err(format!("SUBACK refused: {:?}", ack.reason_codes)),
            other => return Err(format!("expected SUBACK, got {:?}", other.packet_type())),
        }
    }
    Ok(conn)
}

async fn send(stream: &mut Stream, protocol: Protocol, packet: Packet) -> Result<(), String> {
    let mut out = BytesMut::new();
    packet
        .encode(protocol, &mut out)
        .map_err(|e| format!("encoding {:?}: {e}", packet.packet_type()))?;
    tokio::time::timeout(HANDSHAKE_TIMEOUT, transport::send(stream, &out))
        .await
        .map_err(|_| "timed out writing".to_string())?
        .map_err(|e| format!("writing: {e}"))
}

/// Reads until one whole packet is decoded, within [`HANDSHAKE_TIMEOUT`].
async fn receive(conn: &mut Conn, decoder: &mut Decoder, what: &str) -> Result<Packet, String> {
    let step = async {
        loop {
            if let Some(packet) = decoder
                .decode(&mut conn.buf)
                .map_err(|e| format!("decoding {what}: {e}"))?
            {
                return Ok(packet);
            }
            match conn.stream.read_buf(&mut conn.buf).await {
                Ok(0) => return Err(format!("connection closed by the broker before {what}")),
                Ok(_) => {}
                Err(e) => return Err(format!("reading {what}: {e}")),
            }
        }
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, step)
        .await
        .map_err(|_| format!("timed out waiting for {what}"))?
}

/// Opens `hellos.len()` connections, at most `concurrency` handshakes at a
/// time. Results keep the order of `hellos`.
pub(crate) async fn open_many(
    target: &Target,
    hellos: Vec<Hello>,
    concurrency: usize,
) -> Vec<Result<Conn, String>> {
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = Vec::with_capacity(hellos.len());
    for hello in hellos {
        let target = target.clone();
        let semaphore = semaphore.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = semaphore.acquire().await.map_err(|e| e.to_string())?;
            open(&target, &hello).await
        }));
    }
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(
            task.await
                .unwrap_or_else(|e| Err(format!("connect task: {e}"))),
        );
    }
    out
}
