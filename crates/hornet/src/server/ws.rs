//! MQTT over WebSocket (RFC 6455; MQTT 5 §6): the HTTP upgrade and a
//! byte-stream adapter over the WebSocket messages.
//!
//! The upgrade request is read and answered here, because a request that
//! is no WebSocket upgrade deserves a clear HTTP answer rather than a
//! dropped socket: a plain `GET` gets `426 Upgrade Required` saying this
//! is an MQTT WebSocket endpoint; any path is accepted, as Mosquitto
//! does, unless the listener has one, and then another path gets `404`;
//! another method
//! `405`, a malformed or oversized request `400`. A good one gets `101`
//! with the subprotocol the client offered (`mqtt`, or `mqttv3.1` for old
//! clients) echoed, as [MQTT-6.0.0-3]/[MQTT-6.0.0-4] ask. The framing
//! afterwards (masking, fragmentation, ping/pong, close) is our own
//! the `hornet-ws` crate, on `ws` and `wss` listeners alike, whose connections are
//! then served (and parked when idle) like TCP ones (`tcp.rs`).
//!
//! For the clients (`hornet pub`/`sub`) tungstenite frames the messages:
//! [`WsStream`] turns the messages into the byte stream MQTT is: binary
//! messages are concatenated, so an MQTT packet may span messages and a
//! message may hold several packets ([MQTT-6.0.0-2]); text messages are
//! refused ([MQTT-6.0.0-1]). Each `write` becomes one binary message, and
//! the connection writer writes each coalesced buffer in one call, so a
//! burst of packets leaves as one frame.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// The subprotocols served, in order of preference.
const SUBPROTOCOLS: &[&str] = &["mqtt", "mqttv3.1"];

/// The largest upgrade request read.
const MAX_REQUEST: usize = 8 * 1024;

/// How long a client may take to send its upgrade request.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an upgrade did not happen; the client has had its HTTP answer.
#[derive(Debug)]
pub(crate) struct Refused(pub(crate) String);

/// Reads the HTTP upgrade request from `stream` and answers it. On success
/// returns the stream, now carrying WebSocket frames, and what the client
/// sent after its request (frames it did not wait to send): the connection
/// goes on with the task of TCP ones and our framing (the `hornet-ws` crate).
/// Otherwise the client was sent an HTTP error and the reason is returned
/// for the log.
pub(crate) async fn upgrade<S>(mut stream: S, path: Option<&str>) -> Result<(S, BytesMut), Refused>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(1024);
    let head_len = loop {
        if let Some(end) = find_head_end(&buf) {
            break end;
        }
        if buf.len() >= MAX_REQUEST {
            let text = "request head too large";
            respond(&mut stream, "400 Bad Request", "", text).await;
            return Err(Refused(text.into()));
        }
        match stream.read_buf(&mut buf).await {
            Ok(0) => return Err(Refused("closed before the upgrade request".into())),
            Ok(_) => {}
            Err(e) => return Err(Refused(format!("reading the upgrade request: {e}"))),
        }
    };
    let leftover = BytesMut::from(&buf[head_len..]);
    buf.truncate(head_len);
    match check_request(&buf, path) {
        Ok((key, subprotocol)) => {
            let protocol_line = subprotocol
                .map(|p| format!("Sec-WebSocket-Protocol: {p}\r\n"))
                .unwrap_or_default();
            let response = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n{protocol_line}\r\n",
                derive_accept_key(key.as_bytes())
            );
            if let Err(e) = stream.write_all(response.as_bytes()).await {
                return Err(Refused(format!("writing the upgrade response: {e}")));
            }
            Ok((stream, leftover))
        }
        Err((status, headers, text)) => {
            respond(&mut stream, status, headers, &text).await;
            Err(Refused(format!("{status}: {text}")))
        }
    }
}

/// The end of the request head (`\r\n\r\n`), if it has arrived.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// An HTTP error answer: status, extra header lines, one-line reason.
type HttpError = (&'static str, &'static str, String);

/// Checks an upgrade request; returns its `Sec-WebSocket-Key` and the
/// subprotocol to answer with.
fn check_request(
    head: &[u8],
    path: Option<&str>,
) -> Result<(String, Option<&'static str>), HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(("400 Bad Request", "", "malformed HTTP request".into())),
    }
    let header = |name: &str| {
        request
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .filter_map(|h| std::str::from_utf8(h.value).ok())
            .collect::<Vec<&str>>()
            .join(",")
    };
    let has_token = |name: &str, token: &str| {
        header(name)
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    let target = request.path.unwrap_or("/");
    let target = target.split('?').next().unwrap_or(target);
    if let Some(path) = path.filter(|&p| p != target) {
        return Err((
            "404 Not Found",
            "",
            format!("no such path; the MQTT WebSocket endpoint is {path}"),
        ));
    }
    let path = path.unwrap_or(target);
    if request.method != Some("GET") {
        return Err((
            "405 Method Not Allowed",
            "Allow: GET\r\n",
            format!("the MQTT WebSocket endpoint at {path} takes GET with a WebSocket upgrade"),
        ));
    }
    if !has_token("upgrade", "websocket") || !has_token("connection", "upgrade") {
        return Err((
            "426 Upgrade Required",
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n",
            format!(
                "this is an MQTT WebSocket endpoint at {path}: connect with a WebSocket \
                 client (subprotocol mqtt)"
            ),
        ));
    }
    if header("sec-websocket-version").trim() != "13" {
        return Err((
            "426 Upgrade Required",
            "Sec-WebSocket-Version: 13\r\n",
            "only WebSocket version 13 (RFC 6455) is supported".into(),
        ));
    }
    let key = header("sec-websocket-key").trim().to_string();
    if key.is_empty() {
        return Err(("400 Bad Request", "", "Sec-WebSocket-Key is missing".into()));
    }
    let offered = header("sec-websocket-protocol");
    let offered: Vec<&str> = offered
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    // No subprotocol offered: served anyway (some clients omit it); one
    // offered that is not MQTT: refused, the client wants something else.
    let subprotocol = if offered.is_empty() {
        None
    } else {
        let chosen = offered.iter().find_map(|o| {
            SUBPROTOCOLS
                .iter()
                .find(|s| s.eq_ignore_ascii_case(o))
                .copied()
        });
        match chosen {
            Some(p) => Some(p),
            None => {
                return Err((
                    "400 Bad Request",
                    "",
                    format!(
                        "unsupported WebSocket subprotocol {:?}; this endpoint speaks mqtt",
                        offered.join(", ")
                    ),
                ))
            }
        }
    };
    Ok((key, subprotocol))
}

/// Writes an HTTP error answer and closes the stream.
async fn respond<S: AsyncWrite + Unpin>(stream: &mut S, status: &str, headers: &str, text: &str) {
    let body = format!("{text}\n");
    let response = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A WebSocket as the byte stream of MQTT packets it carries.
pub(crate) struct WsStream<S> {
    inner: WebSocketStream<S>,
    /// What is left of the last binary message.
    pending: Bytes,
}

impl<S> WsStream<S> {
    /// Wraps an established WebSocket (the client side of `hornet pub`/`sub`).
    pub(crate) fn new(inner: WebSocketStream<S>) -> Self {
        WsStream {
            inner,
            pending: Bytes::new(),
        }
    }
}

fn to_io(e: WsError) -> io::Error {
    match e {
        WsError::Io(e) => e,
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            io::Error::new(io::ErrorKind::NotConnected, "WebSocket closed")
        }
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(buf.remaining());
                buf.put_slice(&self.pending[..n]);
                self.pending.advance(n);
                return Poll::Ready(Ok(()));
            }
            // Ping is answered by tungstenite (the pong goes out with its
            // next read or write); Close is answered and ends the stream.
            match ready!(Pin::new(&mut self.inner).poll_next(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Ok(Message::Binary(data))) => self.pending = data,
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a WebSocket text frame: MQTT travels in binary frames [MQTT-6.0.0-1]",
                    )))
                }
                Some(Ok(Message::Close(_))) => return Poll::Ready(Ok(())),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(to_io(e))),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut inner = Pin::new(&mut self.inner);
        ready!(inner.as_mut().poll_ready(cx)).map_err(to_io)?;
        inner
            .start_send(Message::Binary(Bytes::copy_from_slice(buf)))
            .map_err(to_io)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx).map_err(to_io)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx).map_err(to_io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(request: &str) -> Result<(String, Option<&'static str>), HttpError> {
        check_request(request.as_bytes(), Some("/mqtt"))
    }

    const UPGRADE: &str = "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
                           Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

    #[test]
    fn good_upgrades_echo_the_mqtt_subprotocol() {
        let ok = check(&format!(
            "GET /mqtt HTTP/1.1\r\nHost: x\r\n{UPGRADE}Sec-WebSocket-Protocol: mqtt\r\n\r\n"
        ))
        .unwrap();
        assert_eq!(ok, ("dGhlIHNhbXBsZSBub25jZQ==".into(), Some("mqtt")));
        let ok = check(&format!(
            "GET /mqtt?x=1 HTTP/1.1\r\n{UPGRADE}Sec-WebSocket-Protocol: chat, MQTTv3.1\r\n\r\n"
        ))
        .unwrap();
        assert_eq!(ok.1, Some("mqttv3.1"));
        let ok = check(&format!("GET /mqtt HTTP/1.1\r\n{UPGRADE}\r\n")).unwrap();
        assert_eq!(ok.1, None);
    }

    #[test]
    fn other_requests_get_clear_http_errors() {
        let status = |r: &str| check(r).unwrap_err().0;
        assert_eq!(
            status("GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n"),
            "426 Upgrade Required"
        );
        assert_eq!(
            status(&format!("GET / HTTP/1.1\r\n{UPGRADE}\r\n")),
            "404 Not Found"
        );
        assert_eq!(
            status(&format!("POST /mqtt HTTP/1.1\r\n{UPGRADE}\r\n")),
            "405 Method Not Allowed"
        );
        assert_eq!(
            status(&format!(
                "GET /mqtt HTTP/1.1\r\n{UPGRADE}Sec-WebSocket-Protocol: chat\r\n\r\n"
            )),
            "400 Bad Request"
        );
        assert_eq!(status("NOT HTTP\r\n\r\n"), "400 Bad Request");
        let text = check("GET /mqtt HTTP/1.1\r\n\r\n").unwrap_err().2;
        assert!(text.contains("MQTT WebSocket endpoint at /mqtt"), "{text}");
    }

    #[test]
    fn without_a_configured_path_any_path_is_accepted() {
        for target in ["/", "/mqtt", "/ws", "/a/b?c=d"] {
            let request = format!("GET {target} HTTP/1.1\r\n{UPGRADE}\r\n");
            assert!(check_request(request.as_bytes(), None).is_ok(), "{target}");
        }
        let text = check_request(b"GET /ws HTTP/1.1\r\n\r\n", None)
            .unwrap_err()
            .2;
        assert!(text.contains("MQTT WebSocket endpoint at /ws"), "{text}");
    }
}
