//! Helpers for the transport tests (`tls.rs`, `websocket.rs`,
//! `listeners.rs`): certificates made in the test with rcgen, a Hornet
//! broker with any listeners (each on an ephemeral loopback port), TLS and
//! WebSocket client connections, and a small MQTT client over any stream.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::BytesMut;
use hornet::config::{Config, Listener, ListenerKind, Tls};
use hornet_codec::{Connect, Decoder, Packet, Protocol};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use crate::common::TIMEOUT;

/// A certificate authority and a server certificate for `localhost` and
/// 127.0.0.1, as PEM files in a temporary directory.
pub struct Pki {
    pub dir: tempfile::TempDir,
    ca_cert: rcgen::Certificate,
    ca_issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

impl Pki {
    pub fn new() -> Pki {
        Pki::new_named("Hornet Test CA")
    }

    /// A new CA called `name` and a server certificate it signed.
    pub fn new_named(name: &str) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let key = rcgen::KeyPair::generate().unwrap();
        let ca_cert = params.self_signed(&key).unwrap();
        let ca_issuer = rcgen::Issuer::new(params, key);
        let ca_file = dir.path().join("ca.crt");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();
        let mut pki = Pki {
            cert_file: dir.path().join("server.crt"),
            key_file: dir.path().join("server.key"),
            dir,
            ca_cert,
            ca_issuer,
            ca_file,
        };
        let (cert, key) = pki.issue("localhost", true);
        std::fs::write(&pki.cert_file, cert).unwrap();
        std::fs::write(&pki.key_file, key).unwrap();
        pki
    }

    /// A certificate for `cn` signed by this CA: (cert PEM, key PEM).
    fn issue(&mut self, cn: &str, server: bool) -> (String, String) {
        let names = if server {
            vec!["localhost".to_string(), "127.0.0.1".to_string()]
        } else {
            Vec::new()
        };
        self.issue_for(cn, server, names)
    }

    fn issue_for(&mut self, cn: &str, server: bool, names: Vec<String>) -> (String, String) {
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Hornet Tests");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.extended_key_usages = vec![if server {
            rcgen::ExtendedKeyUsagePurpose::ServerAuth
        } else {
            rcgen::ExtendedKeyUsagePurpose::ClientAuth
        }];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca_issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A client certificate with CN `cn`, written as `<cn>.crt` / `<cn>.key`.
    pub fn client(&mut self, cn: &str) -> (PathBuf, PathBuf) {
        let (cert, key) = self.issue(cn, false);
        let cert_file = self.dir.path().join(format!("{cn}.crt"));
        let key_file = self.dir.path().join(format!("{cn}.key"));
        std::fs::write(&cert_file, cert).unwrap();
        std::fs::write(&key_file, key).unwrap();
        (cert_file, key_file)
    }

    /// TLS settings serving a server certificate of this CA that names
    /// only `names` (e.g. a host other than the one clients dial).
    pub fn tls_named(&mut self, names: &[&str]) -> Tls {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let (cert, key) = self.issue_for(&names[0], true, names.clone());
        let cert_file = self.dir.path().join(format!("{}.crt", names[0]));
        let key_file = self.dir.path().join(format!("{}.key", names[0]));
        std::fs::write(&cert_file, cert).unwrap();
        std::fs::write(&key_file, key).unwrap();
        Tls::new(&cert_file, &key_file)
    }

    /// TLS settings serving this PKI's server certificate.
    pub fn tls(&self) -> Tls {
        Tls::new(&self.cert_file, &self.key_file)
    }

    /// TLS settings requiring client certificates from this CA.
    pub fn tls_mutual(&self) -> Tls {
        Tls {
            cafile: Some(self.ca_file.clone()),
            require_certificate: true,
            ..self.tls()
        }
    }

    /// A rustls client trusting this CA, optionally with a client cert.
    pub fn client_config(&self, client: Option<(&Path, &Path)>) -> Arc<ClientConfig> {
        client_config(&self.ca_file, client, None)
    }

    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.ca_cert.der().clone()
    }
}

/// A rustls client config trusting `ca_file`.
pub fn client_config(
    ca_file: &Path,
    client: Option<(&Path, &Path)>,
    versions: Option<&[&'static rustls::SupportedProtocolVersion]>,
) -> Arc<ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions.unwrap_or(rustls::DEFAULT_VERSIONS))
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match client {
        Some((cert, key)) => {
            let certs: Vec<_> = CertificateDer::pem_file_iter(cert)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let key = PrivateKeyDer::from_pem_file(key).unwrap();
            builder.with_client_auth_cert(certs, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"mqtt".to_vec()];
    Arc::new(config)
}

/// A Hornet broker with the given listeners, on its own runtime.
pub struct Broker {
    runtime: Option<tokio::runtime::Runtime>,
    server: Option<hornet::server::Server>,
}

/// A listener of `kind` on an ephemeral loopback port.
pub fn listener(kind: ListenerKind, tls: Option<Tls>) -> Listener {
    Listener {
        kind,
        tls,
        ..Listener::tcp(0, Some([127, 0, 0, 1].into()))
    }
}

impl Broker {
    /// Starts a broker with `listeners` and extra mosquitto.conf lines.
    pub fn start(listeners: Vec<Listener>, conf: &str) -> Broker {
        Broker::try_start(listeners, conf).expect("start hornet")
    }

    pub fn try_start(listeners: Vec<Listener>, conf: &str) -> std::io::Result<Broker> {
        if std::env::var_os("HORNET_TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
                .with_test_writer()
                .try_init();
        }
        let mut config: Config = hornet::config::parse_mosquitto(conf, Path::new("test.conf"))
            .unwrap()
            .config;
        config.listeners = listeners;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        runtime.spawn(async move {
            let _ = tx.send(hornet::server::Server::start(&config).await);
        });
        let server = rx.recv_timeout(TIMEOUT).expect("hornet starts")?;
        Ok(Broker {
            runtime: Some(runtime),
            server: Some(server),
        })
    }

    pub fn addr(&self, i: usize) -> SocketAddr {
        self.server().local_addrs()[i]
    }

    pub fn port(&self, i: usize) -> u16 {
        self.addr(i).port()
    }

    /// Waits (at most `common::TIMEOUT`) until at least `n` connections
    /// are parked.
    pub async fn wait_parked(&self, n: usize) {
        let timeout = crate::common::TIMEOUT;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let (parked, _) = self.server().parked_connections();
            if parked >= n {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{parked} connections parked after {timeout:?}, expected {n}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    pub fn server(&self) -> &hornet::server::Server {
        self.server.as_ref().unwrap()
    }

    /// Stops the server (its tasks end, parked connections are closed)
    /// while the runtime and its connection tasks go on.
    pub fn stop_server(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        drop(self.server.take());
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Opens TLS to `addr` (server name `localhost`).
pub async fn tls_connect(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let name = ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(TIMEOUT, connector.connect(name, tcp))
        .await
        .expect("TLS handshake within the timeout")
}

/// A minimal MQTT client over any byte stream, on hornet-codec.
pub struct Mqtt<S> {
    pub stream: S,
    decoder: Decoder,
    buf: BytesMut,
    protocol: Protocol,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Mqtt<S> {
    pub fn new(stream: S, protocol: Protocol) -> Mqtt<S> {
        Mqtt {
            stream,
            decoder: Decoder::with_protocol(protocol),
            buf: BytesMut::new(),
            protocol,
        }
    }

    /// Sends CONNECT and returns the broker's answer (or `None` at EOF).
    pub async fn connect(stream: S, connect: Connect) -> (Mqtt<S>, Option<Packet>) {
        let mut client = Mqtt::new(stream, connect.protocol);
        client.send(connect.into()).await;
        let answer = client.recv().await;
        (client, answer)
    }

    pub fn encode(&self, packet: Packet) -> BytesMut {
        let mut out = BytesMut::new();
        packet.encode(self.protocol, &mut out).unwrap();
        out
    }

    pub async fn send(&mut self, packet: Packet) {
        let out = self.encode(packet);
        self.stream.write_all(&out).await.unwrap();
        self.stream.flush().await.unwrap();
    }

    /// The next packet, or `None` at EOF or on a reset; bounded by TIMEOUT.
    pub async fn recv(&mut self) -> Option<Packet> {
        tokio::time::timeout(TIMEOUT, self.recv_unbounded())
            .await
            .expect("a packet or EOF within the timeout")
    }

    async fn recv_unbounded(&mut self) -> Option<Packet> {
        loop {
            if let Some(p) = self.decoder.decode(&mut self.buf).expect("a valid packet") {
                return Some(p);
            }
            self.buf.reserve(64 * 1024);
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }
}

/// A CONNECT for MQTT 3.1.1 with `client_id`, clean session, keep-alive 60.
pub fn connect(client_id: &str) -> Connect {
    let mut c = Connect::new(Protocol::V3_1_1, client_id);
    c.keep_alive = 60;
    c
}

/// The CONNACK reason code of `packet`, panicking on anything else.
pub fn connack_code(packet: Option<Packet>) -> hornet_codec::ReasonCode {
    match packet {
        Some(Packet::ConnAck(ack)) => ack.reason_code,
        other => panic!("expected CONNACK, got {other:?}"),
    }
}
