//! The byte stream a benchmark connection runs over: raw TCP, TLS
//! (tokio-rustls), WebSocket (tokio-tungstenite, path `/mqtt`,
//! subprotocol `mqtt`, MQTT 5 §6) or WebSocket over TLS.
//!
//! Every kind is one [`Stream`] (`AsyncRead + AsyncWrite`), so the
//! publishers and subscribers speak the same hot path over all of them.
//! [`WsStream`] makes one binary WebSocket message of each `write`: the
//! publishers write a whole batch (64 PUBLISH packets) per call, so a batch
//! leaves as one frame. Writers must [`send`] (write, then flush): TLS and
//! WebSocket buffer what they were given until flushed.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use futures_util::{Sink, Stream as _};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::crypto::ring::default_provider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// The HTTP path of the WebSocket endpoint on both brokers.
pub(crate) const WS_PATH: &str = "/mqtt";

/// Largest WebSocket message the client accepts (a broker may coalesce
/// many packets into one message).
const WS_MAX_MESSAGE: usize = 256 << 20;

/// Most bytes one WebSocket read takes: tungstenite zero-fills that much
/// before every read (its default, 128 KiB, made each small read cost a
/// 128 KiB memset), the same setting as Hornet's server side.
const WS_READ_BUFFER: usize = 16 * 1024;

/// What carries MQTT.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Transport {
    /// Raw MQTT over TCP.
    #[default]
    Tcp,
    /// MQTT over TLS.
    Tls,
    /// MQTT over WebSocket.
    Ws,
    /// MQTT over WebSocket over TLS.
    Wss,
}

impl Transport {
    /// The lowercase name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
        }
    }

    /// True when TLS is involved.
    pub(crate) fn is_tls(self) -> bool {
        matches!(self, Transport::Tls | Transport::Wss)
    }

    /// True when WebSocket is involved.
    pub(crate) fn is_ws(self) -> bool {
        matches!(self, Transport::Ws | Transport::Wss)
    }
}

/// A byte stream to the broker.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The connection to the broker, whatever carries it.
pub(crate) type Stream = Box<dyn Io>;

/// How to reach the broker beyond host and port.
#[derive(Debug, Clone, Default)]
pub(crate) struct Carrier {
    /// The transport.
    pub(crate) transport: Transport,
    /// TLS client configuration (for `tls` and `wss`).
    pub(crate) tls: Option<Arc<ClientConfig>>,
}

impl Carrier {
    /// `transport`, trusting the CA certificates in `cafile` for TLS.
    pub(crate) fn new(transport: Transport, cafile: Option<&Path>) -> Result<Carrier, String> {
        let tls = if transport.is_tls() {
            let cafile = cafile.ok_or_else(|| {
                format!(
                    "--transport {} needs --cafile (the CA of the broker's certificate)",
                    transport.name()
                )
            })?;
            Some(client_config(cafile)?)
        } else {
            None
        };
        Ok(Carrier { transport, tls })
    }
}

/// A rustls client configuration trusting the PEM certificates in `cafile`.
pub(crate) fn client_config(cafile: &Path) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(cafile)
        .map_err(|e| format!("reading {}: {e}", cafile.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("reading {}: {e}", cafile.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{}: {e}", cafile.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("no certificate in {}", cafile.display()));
    }
    let config = ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Opens the TCP connection and, as the carrier asks, the TLS session and
/// the WebSocket upgrade on top of it.
pub(crate) async fn connect(host: &str, port: u16, carrier: &Carrier) -> Result<Stream, String> {
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    tcp.set_nodelay(true)
        .map_err(|e| format!("TCP_NODELAY: {e}"))?;
    match &carrier.tls {
        Some(config) if carrier.transport.is_tls() => {
            let name = server_name(host)?;
            let tls = TlsConnector::from(config.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake: {e}"))?;
            finish(tls, host, port, carrier.transport).await
        }
        None if carrier.transport.is_tls() => Err("TLS without a client configuration".into()),
        _ => finish(tcp, host, port, carrier.transport).await,
    }
}

/// The name the server certificate must carry: an IP address or a DNS name.
fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(host.to_string()).map_err(|e| format!("invalid host name {host}: {e}"))
}

/// Raw MQTT over `stream`, or a WebSocket upgrade on it first.
async fn finish<S>(stream: S, host: &str, port: u16, transport: Transport) -> Result<Stream, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    if !transport.is_ws() {
        return Ok(Box::new(stream));
    }
    let scheme = if transport.is_tls() { "wss" } else { "ws" };
    let url = format!("{scheme}://{host}:{port}{WS_PATH}");
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("{url}: {e}"))?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
    let config = WebSocketConfig::default()
        .read_buffer_size(WS_READ_BUFFER)
        .max_message_size(Some(WS_MAX_MESSAGE))
        .max_frame_size(Some(WS_MAX_MESSAGE));
    let (ws, _response) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(config))
            .await
            .map_err(|e| format!("WebSocket upgrade {url}: {e}"))?;
    Ok(Box::new(WsStream {
        inner: ws,
        pending: Bytes::new(),
    }))
}

/// Writes all of `buf` and flushes: one call, so one WebSocket message.
pub(crate) async fn send(stream: &mut Stream, buf: &[u8]) -> io::Result<()> {
    stream.write_all(buf).await?;
    stream.flush().await
}

/// A WebSocket as the byte stream of the MQTT packets it carries: binary
/// messages are concatenated on read; each write is one binary message.
struct WsStream<S> {
    inner: WebSocketStream<S>,
    /// What is left of the last binary message.
    pending: Bytes,
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
            match ready!(Pin::new(&mut self.inner).poll_next(cx)) {
                None | Some(Ok(Message::Close(_))) => return Poll::Ready(Ok(())),
                Some(Ok(Message::Binary(data))) => self.pending = data,
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a WebSocket text frame from the broker: MQTT travels in binary frames [MQTT-6.0.0-1]",
                    )))
                }
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

    #[test]
    fn names_and_kinds() {
        assert_eq!(Transport::Wss.name(), "wss");
        assert!(Transport::Wss.is_tls() && Transport::Wss.is_ws());
        assert!(!Transport::Tcp.is_tls() && !Transport::Tcp.is_ws());
        assert!(matches!(
            server_name("127.0.0.1").unwrap(),
            ServerName::IpAddress(_)
        ));
    }

    #[test]
    fn tls_needs_a_ca_file() {
        let err = Carrier::new(Transport::Tls, None).unwrap_err();
        assert!(err.contains("--cafile"), "{err}");
        assert!(Carrier::new(Transport::Ws, None).unwrap().tls.is_none());
    }
}
