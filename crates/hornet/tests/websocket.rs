//! MQTT over WebSocket (RFC 6455, MQTT 5 §6) on the `ws` and `wss`
//! listeners, driven by a tungstenite client that controls every frame:
//! the upgrade and its subprotocol, a plain HTTP request's 426, a wrong
//! path's 404, MQTT packets split across frames and several in one frame,
//! ping/pong, the close handshake, text frames refused, frames sent right
//! behind the upgrade request, unmasked frames refused; idle ws connections
//! parked (`server/park.rs`) and brought back for everything a connection
//! does; and a 1 MB payload over ws against tcp (timed, the ratio printed).
//!
//! Hornet-only: the suite's Mosquitto run has no WebSocket listener.

mod common;
#[path = "support/transports.rs"]
mod transports;

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use hornet::config::ListenerKind;
use hornet_codec::{Ack, Decoder, Packet, PacketId, Protocol, Publish, QoS, ReasonCode, Subscribe};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
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

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn qos_of(i: usize) -> QoS {
    [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][i % 3]
}

/// Idle WebSocket connections park as TCP ones do (their task ends and
/// their socket is watched with the others', `server/park.rs`), and come
/// back for everything a connection does: messages at QoS 0, 1 and 2
/// ([MQTT-4.3.1-1], [MQTT-4.3.2-1], [MQTT-4.3.3-1]), the PUBCOMP ending a
/// QoS 2 flow, a PINGREQ ([MQTT-3.12.4-1]) sent in two frames, a
/// WebSocket ping, the client's close, and the server's shutdown. Each
/// step first waits (bounded) until the connections are parked.
#[test]
fn idle_websocket_connections_park_and_come_back() {
    if common::hornet_only() {
        return;
    }
    const N: usize = 30;
    let mut broker = Broker::start(vec![listener(ListenerKind::Ws, None)], "");
    let mut subs = runtime().block_on(async {
        let mut subs = Vec::new();
        for i in 0..N {
            let mut client = ws_connect(&broker, 0).await;
            client.send(connect(&format!("ws-parked-{i}")).into()).await;
            assert_eq!(connack_code(client.recv().await), ReasonCode::Success);
            let qos = qos_of(i);
            let topic = format!("park/{}", qos as u8);
            client.send(Subscribe::new(pid(1), topic, qos).into()).await;
            assert!(matches!(client.recv().await, Some(Packet::SubAck(_))));
            subs.push(client);
        }
        broker.wait_parked(N).await;
        let (_, unparked_before) = broker.server().parked_connections();

        // One message per QoS from a publisher of its own.
        let mut publisher = ws_connect(&broker, 0).await;
        publisher.send(connect("ws-parked-pub").into()).await;
        assert_eq!(connack_code(publisher.recv().await), ReasonCode::Success);
        for q in 0u8..3 {
            let mut p = Publish::new(format!("park/{q}"), Bytes::from(vec![q]));
            p.qos = QoS::ExactlyOnce;
            p.packet_id = Some(pid(u16::from(q) + 1));
            publisher.send(p.into()).await;
            match publisher.recv().await {
                Some(Packet::PubRec(a)) => {
                    publisher.send(Packet::PubRel(Ack::new(a.packet_id))).await
                }
                other => panic!("expected PUBREC, got {other:?}"),
            }
            assert!(matches!(publisher.recv().await, Some(Packet::PubComp(_))));
        }
        let mut pubrels = Vec::new();
        for (i, client) in subs.iter_mut().enumerate() {
            let qos = qos_of(i);
            match client.recv().await {
                Some(Packet::Publish(p)) => {
                    assert_eq!((p.qos, &p.payload[..]), (qos, &[qos as u8][..]), "{i}");
                    match qos {
                        QoS::AtMostOnce => {}
                        QoS::AtLeastOnce => {
                            client
                                .send(Packet::PubAck(Ack::new(p.packet_id.unwrap())))
                                .await
                        }
                        QoS::ExactlyOnce => {
                            client
                                .send(Packet::PubRec(Ack::new(p.packet_id.unwrap())))
                                .await;
                            match client.recv().await {
                                Some(Packet::PubRel(a)) => pubrels.push((i, a.packet_id)),
                                other => panic!("subscriber {i}: expected PUBREL, got {other:?}"),
                            }
                        }
                    }
                }
                other => panic!("subscriber {i}: expected the PUBLISH, got {other:?}"),
            }
        }
        // The QoS 2 flows end with a PUBCOMP read from a parked connection.
        broker.wait_parked(N).await;
        for (i, id) in pubrels {
            subs[i].send(Packet::PubComp(Ack::new(id))).await;
        }
        let (_, unparked) = broker.server().parked_connections();
        assert!(
            unparked >= unparked_before + N,
            "every subscriber was brought back ({unparked_before} → {unparked})"
        );

        // A PINGREQ, its two bytes in two frames, is answered.
        broker.wait_parked(N).await;
        for client in subs.iter_mut() {
            client.frame(vec![0xC0]).await;
            client.frame(vec![0x00]).await;
        }
        for (i, client) in subs.iter_mut().enumerate() {
            assert_eq!(
                client.recv().await,
                Some(Packet::PingResp),
                "subscriber {i}"
            );
        }

        // A WebSocket ping is answered with its payload (RFC 6455 §5.5.3).
        broker.wait_parked(N).await;
        for client in subs.iter_mut() {
            client
                .ws
                .send(Message::Ping(Bytes::from_static(b"idle?")))
                .await
                .unwrap();
        }
        for (i, client) in subs.iter_mut().enumerate() {
            match client.message().await {
                Some(Message::Pong(data)) => assert_eq!(&data[..], b"idle?", "{i}"),
                other => panic!("subscriber {i}: expected a pong, got {other:?}"),
            }
        }

        // The client's close is answered with a close frame (RFC 6455
        // §5.5.1) carrying its status code.
        broker.wait_parked(N).await;
        for client in subs.iter_mut().take(N / 2) {
            client.ws.close(None).await.unwrap();
        }
        for (i, client) in subs.iter_mut().enumerate().take(N / 2) {
            match client.message().await {
                Some(Message::Close(Some(frame))) => {
                    assert_eq!(frame.code, CloseCode::Normal, "{i}")
                }
                other => panic!("subscriber {i}: expected the close answer, got {other:?}"),
            }
        }
        subs.split_off(N / 2)
    });
    // Stopping the server closes the parked connections left.
    runtime().block_on(broker.wait_parked(N - N / 2));
    broker.stop_server();
    runtime().block_on(async {
        for (i, client) in subs.iter_mut().enumerate() {
            assert_eq!(
                client.recv().await,
                None,
                "subscriber {i}: closed at shutdown"
            );
        }
    });
}

/// Idle WebSocket-over-TLS connections park too (with their rustls state)
/// and come back for a message ([MQTT-4.3.1-1]), a PINGREQ
/// ([MQTT-3.12.4-1]) and a WebSocket ping.
#[test]
fn idle_secure_websocket_connections_park_and_come_back() {
    if common::hornet_only() {
        return;
    }
    const N: usize = 10;
    let pki = Pki::new();
    let broker = Broker::start(vec![listener(ListenerKind::Wss, Some(pki.tls()))], "");
    let mut config = (*pki.client_config(None)).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let config = std::sync::Arc::new(config);
    runtime().block_on(async {
        let mut subs = Vec::new();
        for i in 0..N {
            let tls = tls_connect(broker.addr(0), config.clone()).await.unwrap();
            let mut client = upgrade(tls, "/mqtt", "mqtt").await;
            client
                .send(connect(&format!("wss-parked-{i}")).into())
                .await;
            assert_eq!(connack_code(client.recv().await), ReasonCode::Success);
            let sub = Subscribe::new(pid(1), "park/wss", QoS::AtMostOnce);
            client.send(sub.into()).await;
            assert!(matches!(client.recv().await, Some(Packet::SubAck(_))));
            subs.push(client);
        }
        broker.wait_parked(N).await;
        let tls = tls_connect(broker.addr(0), config.clone()).await.unwrap();
        let mut publisher = upgrade(tls, "/mqtt", "mqtt").await;
        publisher.send(connect("wss-parked-pub").into()).await;
        assert_eq!(connack_code(publisher.recv().await), ReasonCode::Success);
        let publish = Publish::new("park/wss", Bytes::from_static(b"secure"));
        publisher.send(publish.into()).await;
        for (i, client) in subs.iter_mut().enumerate() {
            match client.recv().await {
                Some(Packet::Publish(p)) => assert_eq!(&p.payload[..], b"secure", "{i}"),
                other => panic!("subscriber {i}: expected the PUBLISH, got {other:?}"),
            }
        }
        broker.wait_parked(N).await;
        for client in subs.iter_mut() {
            client.send(Packet::PingReq).await;
            client
                .ws
                .send(Message::Ping(Bytes::from_static(b"wss")))
                .await
                .unwrap();
        }
        for (i, client) in subs.iter_mut().enumerate() {
            assert_eq!(
                client.recv().await,
                Some(Packet::PingResp),
                "subscriber {i}"
            );
            match client.message().await {
                Some(Message::Pong(data)) => assert_eq!(&data[..], b"wss", "{i}"),
                other => panic!("subscriber {i}: expected a pong, got {other:?}"),
            }
        }
    });
}

/// A client frame as a client formats it: masked.
fn client_frame(opcode: OpCode, payload: &[u8], masked: bool) -> Vec<u8> {
    let header = FrameHeader {
        opcode,
        mask: masked.then_some([0x37, 0xfa, 0x21, 0x3d]),
        ..FrameHeader::default()
    };
    let mut out = Vec::new();
    Frame::from_payload(header, payload.to_vec().into())
        .format(&mut out)
        .unwrap();
    out
}

/// Sends an upgrade request and `behind` in one write; returns the socket
/// and what followed the 101 answer's head once `want` bytes of it came.
async fn raw_upgrade(broker: &Broker, behind: &[u8], want: usize) -> (TcpStream, Vec<u8>) {
    let mut tcp = TcpStream::connect(broker.addr(0)).await.unwrap();
    let mut request = b"GET /mqtt HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
        .to_vec();
    request.extend_from_slice(behind);
    tcp.write_all(&request).await.unwrap();
    let mut answer = Vec::new();
    let body = tokio::time::timeout(TIMEOUT, async {
        loop {
            if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
                if answer.len() >= end + 4 + want {
                    return answer.split_off(end + 4);
                }
            }
            let mut chunk = [0u8; 1024];
            let n = tcp.read(&mut chunk).await.unwrap();
            assert!(
                n > 0,
                "closed early: {:?}",
                String::from_utf8_lossy(&answer)
            );
            answer.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .expect("an answer within the timeout");
    assert!(answer.starts_with(b"HTTP/1.1 101 "), "{answer:?}");
    (tcp, body)
}

/// Frames a client sends right behind its upgrade request, without waiting
/// for the 101, are read with it: the CONNECT in them is answered.
#[test]
fn frames_sent_with_the_upgrade_request_are_read() {
    if common::hornet_only() {
        return;
    }
    let broker = Broker::start(vec![listener(ListenerKind::Ws, None)], "");
    runtime().block_on(async {
        let frame = client_frame(
            OpCode::Data(Data::Binary),
            &encode(&[connect("eager").into()]),
            true,
        );
        let (_, body) = raw_upgrade(&broker, &frame, 6).await;
        // One unmasked binary frame holding the CONNACK (RFC 6455 §5.1).
        assert_eq!(body[..2], [0x82, 4]);
        let mut buf = BytesMut::from(&body[2..]);
        let packet = Decoder::with_protocol(Protocol::V3_1_1)
            .decode(&mut buf)
            .unwrap();
        assert_eq!(connack_code(packet), ReasonCode::Success);
    });
}

/// A client frame without a mask breaks RFC 6455 §5.1: the broker answers
/// with a close frame with status 1002 (protocol error) and closes.
#[test]
fn an_unmasked_client_frame_is_a_protocol_error() {
    if common::hornet_only() {
        return;
    }
    let broker = Broker::start(vec![listener(ListenerKind::Ws, None)], "");
    runtime().block_on(async {
        let frame = client_frame(
            OpCode::Data(Data::Binary),
            &encode(&[connect("unmasked").into()]),
            false,
        );
        let (mut tcp, mut body) = raw_upgrade(&broker, &frame, 0).await;
        tokio::time::timeout(TIMEOUT, tcp.read_to_end(&mut body))
            .await
            .expect("closed within the timeout")
            .unwrap();
        assert_eq!(body, [0x88, 2, 0x03, 0xEA], "a close frame with 1002");
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
