//! MQTT over WebSocket (RFC 6455, MQTT 5 §6) on the `ws` and `wss`
//! listeners, driven by a tungstenite client that controls every frame:
//! the upgrade and its subprotocol, a plain HTTP request's 426, a wrong
//! path's 404, MQTT packets split across frames and several in one frame,
//! ping/pong, the close handshake, text frames refused; and a 1 MB payload
//! over ws against tcp (timed, the ratio printed).
//!
//! Hornet-only: the suite's Mosquitto run has no WebSocket listener.

mod common;
#[path = "support/transports.rs"]
mod transports;

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use hornet::config::ListenerKind;
use hornet_codec::{Decoder, Packet, PacketId, Protocol, Publish, QoS, ReasonCode, Subscribe};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use common::TIMEOUT;
use transports::{connack_code, connect, listener, tls_connect, Broker, Mqtt, Pki};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// An MQTT client over a WebSocket, one binary frame per `send`.
struct WsClient<S> {
    ws: WebSocketStream<S>,
    decoder: Decoder,
    buf: BytesMut,
    /// The subprotocol the broker answered with.
    subprotocol: Option<String>,
}

/// Upgrades `stream` at `path` offering `protocols`.
async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    path: &str,
    protocols: &str,
) -> WsClient<S> {
    let mut request = format!("ws://localhost{path}")
        .into_client_request()
        .unwrap();
    if !protocols.is_empty() {
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(protocols).unwrap(),
        );
    }
    let (ws, response) =
        tokio::time::timeout(TIMEOUT, tokio_tungstenite::client_async(request, stream))
            .await
            .expect("upgrade within the timeout")
            .expect("upgrade");
    let subprotocol = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .map(|v| v.to_str().unwrap().to_string());
    WsClient {
        ws,
        decoder: Decoder::with_protocol(Protocol::V3_1_1),
        buf: BytesMut::new(),
        subprotocol,
    }
}

async fn ws_connect(broker: &Broker, i: usize) -> WsClient<TcpStream> {
    let tcp = TcpStream::connect(broker.addr(i)).await.unwrap();
    upgrade(tcp, "/mqtt", "mqtt").await
}

fn encode(packets: &[Packet]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for p in packets {
        p.clone().encode(Protocol::V3_1_1, &mut out).unwrap();
    }
    out.to_vec()
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsClient<S> {
    /// Sends `bytes` as one binary frame.
    async fn frame(&mut self, bytes: Vec<u8>) {
        self.ws.send(Message::Binary(bytes.into())).await.unwrap();
    }

    async fn send(&mut self, packet: Packet) {
        self.frame(encode(&[packet])).await;
    }

    /// The next MQTT packet (`None` when the WebSocket ends).
    async fn recv(&mut self) -> Option<Packet> {
        tokio::time::timeout(TIMEOUT, async {
            loop {
                if let Some(p) = self.decoder.decode(&mut self.buf).unwrap() {
                    return Some(p);
                }
                match self.ws.next().await {
                    Some(Ok(Message::Binary(b))) => self.buf.extend_from_slice(&b),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                    Some(Ok(_)) => {}
                }
            }
        })
        .await
        .expect("a packet or the end within the timeout")
    }

    /// The next WebSocket message of any kind.
    async fn message(&mut self) -> Option<Message> {
        tokio::time::timeout(TIMEOUT, self.ws.next())
            .await
            .expect("a message within the timeout")
            .and_then(Result::ok)
    }
}

/// Sends raw HTTP and returns the whole answer (the broker closes after it).
async fn http(broker: &Broker, request: &str) -> String {
    let mut tcp = TcpStream::connect(broker.addr(0)).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(TIMEOUT, tcp.read_to_end(&mut answer))
        .await
        .expect("the broker answers and closes")
        .unwrap();
    String::from_utf8(answer).unwrap()
}

/// A plain HTTP GET gets `426 Upgrade Required` saying what the endpoint
/// is; with a configured path, another path `404`; neither opens an MQTT
/// connection.
#[test]
fn plain_http_gets_a_clear_answer() {
    if common::hornet_only() {
        return;
    }
    let broker = Broker::start(
        vec![hornet::config::Listener {
            path: Some("/mqtt".into()),
            ..listener(ListenerKind::Ws, None)
        }],
        "",
    );
    runtime().block_on(async {
        let answer = http(&broker, "GET /mqtt HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
        assert!(
            answer.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
            "{answer}"
        );
        assert!(
            answer.contains("this is an MQTT WebSocket endpoint at /mqtt"),
            "{answer}"
        );
        let answer = http(
            &broker,
            "GET /index.html HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 404 Not Found\r\n"), "{answer}");
        assert!(
            answer.contains("the MQTT WebSocket endpoint is /mqtt"),
            "{answer}"
        );
    });
    // Counted just after the answer is sent.
    let deadline = Instant::now() + TIMEOUT;
    while broker.server().listener_stats()[0].failed_handshakes < 2 {
        assert!(Instant::now() < deadline, "both refusals counted");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(broker.server().inspect(|b| b.stats().connections_total), 0);
}

/// Without a configured path, any path upgrades, as Mosquitto accepts any:
/// an MQTT session works over each.
#[test]
fn any_path_is_accepted_unless_one_is_configured() {
    let broker = Broker::start(vec![listener(ListenerKind::Ws, None)], "");
    runtime().block_on(async {
        for (i, path) in ["/", "/mqtt", "/ws", "/some/deep/path"]
            .into_iter()
            .enumerate()
        {
            let tcp = TcpStream::connect(broker.addr(0)).await.unwrap();
            let mut client = upgrade(tcp, path, "mqtt").await;
            client.send(connect(&format!("any-path-{i}")).into()).await;
            match client.recv().await {
                Some(Packet::ConnAck(a)) => {
                    assert_eq!(a.reason_code, ReasonCode::Success, "{path}")
                }
                other => panic!("{path}: expected CONNACK, got {other:?}"),
            }
        }
    });
}

/// The broker echoes the MQTT subprotocol the client offers
/// ([MQTT-6.0.0-3], [MQTT-6.0.0-4]): `mqtt`, or `mqttv3.1` for old clients.
#[test]
fn subprotocol_is_echoed() {
    if common::hornet_only() {
        return;
    }
    let broker = Broker::start(vec![listener(ListenerKind::Ws, None)], "");
    runtime().block_on(async {
        for (offered, chosen) in [
            ("mqtt", "mqtt"),
            ("mqttv3.1", "mqttv3.1"),
            ("chat, mqtt", "mqtt"),
        ] {
            let tcp = TcpStream::connect(broker.addr(0)).await.unwrap();
            let mut client = upgrade(tcp, "/mqtt", offered).await;
            assert_eq!(client.subprotocol.as_deref(), Some(chosen), "{offered}");
            client.send(connect("sub").into()).await;
            assert_eq!(connack_code(client.recv().await), ReasonCode::Success);
        }
    });
}

/// MQTT is a byte stream over WebSocket ([MQTT-6.0.0-2]): a CONNECT split
/// over three frames is one packet, and one frame holding SUBSCRIBE,
/// PUBLISH and PINGREQ is three.
#[test]
fn packets_split_across_frames_and_several_in_one_frame() {
    if common::hornet_only() {
        return;
    }
    let broker = Broker::start(vec![listener(ListenerKind::Ws, None)], "");
    runtime().block_on(async {
        let mut client = ws_connect(&broker, 0).await;
        let bytes = encode(&[connect("split").into()]);
        client.frame(bytes[..1].to_vec()).await;
        client.frame(bytes[1..5].to_vec()).await;
        client.frame(bytes[5..].to_vec()).await;
        assert_eq!(connack_code(client.recv().await), ReasonCode::Success);

        let batch = encode(&[
            Subscribe::new(PacketId::new(1).unwrap(), "ws/t", QoS::AtMostOnce).into(),
            Publish::new("ws/t", Bytes::from_static(b"one frame")).into(),
            Packet::PingReq,
        ]);
        client.frame(batch).await;
        assert!(matches!(client.recv().await, Some(Packet::SubAck(_))));
        match client.recv().await {
            Some(Packet::Publish(p)) => assert_eq!(&p.payload[..], b"one frame"),
            other => panic!("expected the PUBLISH, got {other:?}"),
        }
        assert_eq!(client.recv().await, Some(Packet::PingResp));
    });
}

/// WebSocket ping is answered with a pong carrying the same data (RFC 6455
/// §5.5.3), and a close frame is answered with a close frame, after which
/// the broker has forgotten the connection.
#[test]
fn ping_pong_and_close_handshake() {
    if common::hornet_only() {
        return;
    }
    let broker = Broker::start(vec![listener(ListenerKind::Ws, None)], "");
    runtime().block_on(async {
        let mut client = ws_connect(&broker, 0).await;
        client.send(connect("pinger").into()).await;
        assert_eq!(connack_code(client.recv().await), ReasonCode::Success);
        client
            .ws
            .send(Message::Ping(Bytes::from_static(b"are you there")))
            .await
            .unwrap();
        match client.message().await {
            Some(Message::Pong(data)) => assert_eq!(&data[..], b"are you there"),
            other => panic!("expected a pong, got {other:?}"),
        }
        client.ws.close(None).await.unwrap();
        match client.message().await {
            Some(Message::Close(_)) | None => {}
            Some(other) => panic!("expected the close answer, got {other:?}"),
        }
    });
    let deadline = Instant::now() + TIMEOUT;
    while broker.server().active_connections() > 0 {
        assert!(
            Instant::now() < deadline,
            "the connection ends after the close"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A text frame is not MQTT: the broker closes the connection
/// ([MQTT-6.0.0-1]).
#[test]
fn text_frame_closes_the_connection() {
    if common::hornet_only() {
        return;
    }
    let broker = Broker::start(vec![listener(ListenerKind::Ws, None)], "");
    runtime().block_on(async {
        let mut client = ws_connect(&broker, 0).await;
        client.send(connect("texter").into()).await;
        assert_eq!(connack_code(client.recv().await), ReasonCode::Success);
        client.ws.send(Message::text("hello")).await.unwrap();
        assert_eq!(client.recv().await, None, "the connection is closed");
    });
}

/// `wss`: the same over TLS, with ALPN `http/1.1` as browsers offer it.
#[test]
fn secure_websocket() {
    if common::hornet_only() {
        return;
    }
    let pki = Pki::new();
    let broker = Broker::start(vec![listener(ListenerKind::Wss, Some(pki.tls()))], "");
    runtime().block_on(async {
        let mut config = (*pki.client_config(None)).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tls = tls_connect(broker.addr(0), config.into()).await.unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        let mut client = upgrade(tls, "/mqtt", "mqtt").await;
        client.send(connect("secure").into()).await;
        assert_eq!(connack_code(client.recv().await), ReasonCode::Success);
        client.send(Packet::PingReq).await;
        assert_eq!(client.recv().await, Some(Packet::PingResp));
    });
}

const MEGABYTE: usize = 1_000_000;
const ROUNDS: usize = 15;

/// Publishes `ROUNDS` 1 MB messages one after the other through
/// `publish`/`receive`, each received before the next; returns the median
/// round trip (robust against a scheduling hiccup on a shared machine).
async fn time_round_trips<F, G>(mut publish: F, mut receive: G) -> Duration
where
    F: AsyncFnMut(Publish),
    G: AsyncFnMut() -> Option<Packet>,
{
    let payload = Bytes::from(vec![0xA5u8; MEGABYTE]);
    let mut times = Vec::new();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        publish(Publish::new("big/t", payload.clone())).await;
        match receive().await {
            Some(Packet::Publish(p)) => assert_eq!(p.payload.len(), MEGABYTE),
            other => panic!("expected the 1 MB PUBLISH, got {other:?}"),
        }
        times.push(start.elapsed());
    }
    times.sort();
    times[ROUNDS / 2]
}

/// A 1 MB payload is about as fast over WebSocket as over TCP (Mosquitto
/// takes seconds): the median of 15 publish→deliver round trips of 1 MB,
/// ws must stay under 3x tcp. The ratio is printed (`--nocapture`).
#[test]
fn one_megabyte_over_websocket_is_about_as_fast_as_tcp() {
    if common::hornet_only() {
        return;
    }
    let broker = Broker::start(
        vec![
            listener(ListenerKind::Tcp, None),
            listener(ListenerKind::Ws, None),
        ],
        "max_packet_size 2000000",
    );
    let rt = runtime();
    let sub = Subscribe::new(PacketId::new(1).unwrap(), "big/#", QoS::AtMostOnce);
    let tcp_addr = broker.addr(0);
    let tcp_time = rt.block_on(async {
        let open = |id: &'static str| async move {
            let tcp = TcpStream::connect(tcp_addr).await.unwrap();
            let (client, answer) = Mqtt::connect(tcp, connect(id)).await;
            assert_eq!(connack_code(answer), ReasonCode::Success);
            client
        };
        let mut subscriber = open("tcp-sub").await;
        subscriber.send(sub.clone().into()).await;
        assert!(matches!(subscriber.recv().await, Some(Packet::SubAck(_))));
        let mut publisher = open("tcp-pub").await;
        // one warm-up round, then the timed ones
        time_round_trips(
            async |p| publisher.send(p.into()).await,
            async || subscriber.recv().await,
        )
        .await;
        time_round_trips(
            async |p| publisher.send(p.into()).await,
            async || subscriber.recv().await,
        )
        .await
    });
    let ws_time = rt.block_on(async {
        let mut subscriber = ws_connect(&broker, 1).await;
        subscriber.send(connect("ws-sub").into()).await;
        assert_eq!(connack_code(subscriber.recv().await), ReasonCode::Success);
        subscriber.send(sub.clone().into()).await;
        assert!(matches!(subscriber.recv().await, Some(Packet::SubAck(_))));
        let mut publisher = ws_connect(&broker, 1).await;
        publisher.send(connect("ws-pub").into()).await;
        assert_eq!(connack_code(publisher.recv().await), ReasonCode::Success);
        time_round_trips(
            async |p| publisher.send(p.into()).await,
            async || subscriber.recv().await,
        )
        .await;
        time_round_trips(
            async |p| publisher.send(p.into()).await,
            async || subscriber.recv().await,
        )
        .await
    });
    let ratio = ws_time.as_secs_f64() / tcp_time.as_secs_f64();
    eprintln!(
        "1 MB publish->deliver, median of {ROUNDS}: tcp {tcp_time:?}, ws {ws_time:?}, \
         ws/tcp = {ratio:.2}"
    );
    // The client's own framing and masking is part of ws_time; a few
    // milliseconds of slack keep a fast machine's noise out.
    assert!(
        ws_time < tcp_time * 3 + Duration::from_millis(5),
        "ws {ws_time:?} vs tcp {tcp_time:?} (ratio {ratio:.2})"
    );
}
