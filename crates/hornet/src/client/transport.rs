//! The byte stream to the broker: plain TCP, TLS, WebSocket over either.
//!
//! WebSocket follows MQTT 5 §6: the HTTP upgrade offers the subprotocol
//! `mqtt` on the path given (default `/mqtt`) and MQTT travels in binary
//! frames, adapted to a byte stream by the server's own [`WsStream`].
//! Failures become [`ConnectError`]s worded like `mosquitto_pub`'s.

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::server::ws::WsStream;

/// A byte stream to the broker.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The connection to the broker, whatever carries it.
pub(crate) type Stream = Box<dyn Io>;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Host name or address.
    pub(crate) host: String,
    /// TCP port.
    pub(crate) port: u16,
    /// TLS configuration when the connection is encrypted.
    pub(crate) tls: Option<Arc<ClientConfig>>,
    /// The HTTP path for WebSocket; `None` for raw MQTT.
    pub(crate) ws_path: Option<String>,
    /// `-A`: the local address to bind before connecting.
    pub(crate) bind: Option<String>,
    /// `--unix`: a unix domain socket to connect to instead of TCP.
    pub(crate) unix: Option<std::path::PathBuf>,
}

/// Why no connection was made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    /// The host name did not resolve.
    #[error("Lookup error.")]
    Lookup,
    /// TCP connect failed (refused, unreachable, ...).
    #[error("{0}")]
    Tcp(io::Error),
    /// The TLS handshake failed (the reason, in rustls' words).
    #[error("TLS error: {0}")]
    Tls(String),
    /// The WebSocket upgrade failed.
    #[error("WebSocket error: {0}")]
    WebSocket(String),
}

/// Opens the stream described by `target`.
pub(crate) async fn connect(target: &Target) -> Result<Stream, ConnectError> {
    #[cfg(unix)]
    if let Some(path) = &target.unix {
        let stream = tokio::net::UnixStream::connect(path)
            .await
            .map_err(ConnectError::Tcp)?;
        return secure(stream, target).await;
    }
    let local = match &target.bind {
        None => None,
        Some(host) => Some(
            tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| ConnectError::Lookup)?
                .collect::<Vec<_>>(),
        ),
    };
    let addrs: Vec<_> = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|_| ConnectError::Lookup)?
        .collect();
    if addrs.is_empty() {
        return Err(ConnectError::Lookup);
    }
    let mut last = None;
    let mut tcp = None;
    for addr in addrs {
        match tcp_connect(addr, local.as_deref()).await {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let tcp = match tcp {
        Some(tcp) => tcp,
        None => return Err(ConnectError::Tcp(last.expect("one address was tried"))),
    };
    let _ = tcp.set_nodelay(true);
    secure(tcp, target).await
}

/// TCP to `addr`, from an address of `local` of the same family (`-A`).
async fn tcp_connect(
    addr: std::net::SocketAddr,
    local: Option<&[std::net::SocketAddr]>,
) -> io::Result<TcpStream> {
    let Some(local) = local else {
        return TcpStream::connect(addr).await;
    };
    let Some(from) = local.iter().find(|l| l.is_ipv4() == addr.is_ipv4()) else {
        return Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            "the bind address (-A) is not of the broker's address family",
        ));
    };
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.bind(*from)?;
    socket.connect(addr).await
}

/// TLS over `stream` when configured, then WebSocket when configured.
async fn secure<S>(stream: S, target: &Target) -> Result<Stream, ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match &target.tls {
        None => finish(stream, target).await,
        Some(config) => {
            let name = server_name(&target.host)?;
            let tls = TlsConnector::from(config.clone())
                .connect(name, stream)
                .await
                .map_err(|e| ConnectError::Tls(e.to_string()))?;
            finish(tls, target).await
        }
    }
}

/// The name the server certificate must carry: an IP address or a DNS name.
fn server_name(host: &str) -> Result<ServerName<'static>, ConnectError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(host.to_string())
        .map_err(|e| ConnectError::Tls(format!("invalid host name {host}: {e}")))
}

/// Raw MQTT over `stream`, or WebSocket over it when a path is set.
async fn finish<S>(stream: S, target: &Target) -> Result<Stream, ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Some(path) = &target.ws_path else {
        return Ok(Box::new(stream));
    };
    let scheme = if target.tls.is_some() { "wss" } else { "ws" };
    let host = if target.host.contains(':') && !target.host.starts_with('[') {
        format!("[{}]", target.host)
    } else {
        target.host.clone()
    };
    let url = format!("{scheme}://{host}:{}{path}", target.port);
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| ConnectError::WebSocket(format!("{url}: {e}")))?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
    let (ws, _response) = tokio_tungstenite::client_async(request, stream)
        .await
        .map_err(|e| ConnectError::WebSocket(format!("{url}: {e}")))?;
    Ok(Box::new(WsStream::new(ws)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names() {
        assert!(matches!(
            server_name("127.0.0.1").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("localhost").unwrap(),
            ServerName::DnsName(_)
        ));
        assert!(server_name("bad host").is_err());
    }
}
