//! The connection to the remote: TCP, from `bridge_bind_address` if set,
//! within a timeout; and the bytes of the packets the session sends.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use hornet_codec::{Packet, Protocol};
use tokio::net::{lookup_host, TcpSocket, TcpStream};

/// How long a TCP connection to the remote may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to `host:port`, trying each address the name resolves to.
pub(crate) async fn connect(
    host: &str,
    port: u16,
    bind: Option<std::net::IpAddr>,
) -> io::Result<TcpStream> {
    let attempt = async {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the name resolves to no address");
        for addr in lookup_host((host, port)).await? {
            match connect_one(addr, bind).await {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no answer within {CONNECT_TIMEOUT:?}"),
        )),
    }
}

async fn connect_one(addr: SocketAddr, bind: Option<std::net::IpAddr>) -> io::Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = bind {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Encodes `packet` for the remote; a packet that cannot be encoded is
/// logged and left out (the session checked sizes already).
pub(crate) fn encode(name: &str, packet: &Packet, protocol: Protocol, out: &mut BytesMut) {
    if let Err(e) = packet.encode(protocol, out) {
        tracing::warn!("Bridge {name}: cannot encode {}: {e}", packet.packet_type());
    }
}
