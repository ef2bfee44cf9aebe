//! A plain HTTP/1.1 GET spoken by hand over a blocking std socket, for
//! tests that read the admin listener (`/metrics`, `/api/v1/...`) without
//! an HTTP client crate or an async runtime.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::common::TIMEOUT;

/// `GET path` on `host` (`"127.0.0.1:port"`, also sent as the `Host`
/// header) with `Connection: close`, and the whole response as text:
/// status line, headers and body. Each read is bounded by
/// [`TIMEOUT`](crate::common::TIMEOUT).
pub fn http_get(host: &str, path: &str) -> String {
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text
}
