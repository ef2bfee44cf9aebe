//! TLS on the connection task of `tcp.rs`: rustls's `ServerConnection`
//! driven by hand over the non-blocking socket, for `tls` and `wss`
//! connections once their handshake is done (tokio-rustls does the
//! handshake, `listener.rs`, then hands over its connection).
//!
//! Why not tokio-rustls's stream for the whole life: it needs the generic
//! path's reader and writer tasks and read buffer (`conn.rs`), so an idle
//! TLS connection kept two tasks, a socket registration and an 8 KiB
//! buffer, and could not park. Driven from here, what an idle TLS
//! connection keeps is its `ServerConnection` (boxed; its keys and
//! rustls's own 4 KiB receive buffer), and with it the connection parks
//! like a TCP one (`park.rs`): between records nothing else is needed to
//! go on. Ciphertext is read straight from the socket into rustls
//! (`read_tls`) and written from rustls straight to it (`write_tls`); no
//! buffer of ours holds it.

use std::io::{self, BufRead, Read, Write};

use bytes::BytesMut;
use tokio::net::TcpStream;
use tokio_rustls::rustls::ServerConnection;

/// The socket as `std::io` for rustls: non-blocking reads and writes that
/// answer `WouldBlock` when the socket has nothing, or no room.
pub(crate) struct SockIo<'a> {
    pub(crate) stream: &'a TcpStream,
    /// Read with `recv` itself rather than through tokio's readiness (for
    /// bytes whose readiness event may not have been seen yet: a takeover's
    /// drain, `tcp.rs`).
    pub(crate) direct: bool,
}

impl Read for SockIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.direct {
            return self.stream.try_read(buf);
        }
        loop {
            match rustix::net::recv(self.stream, &mut *buf, rustix::net::RecvFlags::empty()) {
                Ok((n, _)) => return Ok(n),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Write for SockIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.try_write(buf)
    }

    /// rustls hands over its records as one vector: one system call for
    /// all of them.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.stream.try_write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads once from the socket through `conn` and appends the plaintext to
/// `into`. `Ok(0)`: the client is done (EOF, or its `close_notify`), and
/// what `into` got with it is its last plaintext; `Err(WouldBlock)`:
/// nothing to read. A TLS error is `InvalidData`; rustls has queued the
/// alert for it, which [`flush`] sends.
pub(crate) fn read(
    conn: &mut ServerConnection,
    io: &mut SockIo<'_>,
    into: &mut BytesMut,
) -> io::Result<usize> {
    // rustls reads at most 4 KiB at a time: a few of them per call, so
    // that what is fed to the core at once is about what one read of a
    // TCP connection gives.
    let mut total = 0;
    for _ in 0..READS {
        let n = match conn.read_tls(io) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && total > 0 => return Ok(total),
            Err(e) => return Err(e),
        };
        let state = conn
            .process_new_packets()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("TLS: {e}")))?;
        take_plaintext(conn, into)?;
        if n == 0 || state.peer_has_closed() {
            return Ok(0);
        }
        total += n;
    }
    Ok(total)
}

/// Reads from the socket per [`read`].
const READS: usize = 4;

/// Processes what rustls holds already and appends its plaintext to
/// `into` (what came with the handshake, before the connection was handed
/// over).
pub(crate) fn take_buffered(conn: &mut ServerConnection, into: &mut BytesMut) -> io::Result<()> {
    conn.process_new_packets()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("TLS: {e}")))?;
    take_plaintext(conn, into)
}

fn take_plaintext(conn: &mut ServerConnection, into: &mut BytesMut) -> io::Result<()> {
    let mut reader = conn.reader();
    loop {
        let n = match reader.fill_buf() {
            Ok([]) => return Ok(()), // the client's close_notify
            Ok(chunk) => {
                into.extend_from_slice(chunk);
                chunk.len()
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            // An EOF without close_notify: the socket's EOF says it.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        };
        reader.consume(n);
    }
}

/// Encrypts `plain` (all of it: the connection's buffer limit is off, the
/// writer hands over one chunk at a time).
pub(crate) fn encrypt(conn: &mut ServerConnection, plain: &[u8]) -> io::Result<()> {
    conn.writer().write_all(plain)
}

/// Writes the ciphertext rustls holds. `Ok(false)`: the socket is full,
/// the rest waits for writability.
pub(crate) fn flush(conn: &mut ServerConnection, stream: &TcpStream) -> io::Result<bool> {
    let mut io = SockIo {
        stream,
        direct: false,
    };
    while conn.wants_write() {
        match conn.write_tls(&mut io) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Flushes, waiting for the socket as long as it is full (closing only).
pub(crate) async fn flush_all(conn: &mut ServerConnection, stream: &TcpStream) -> io::Result<()> {
    while !flush(conn, stream)? {
        stream.writable().await?;
    }
    Ok(())
}
