//! The broker under test, shared by every integration test.
//!
//! `TestBroker::start()` serves MQTT on an ephemeral loopback port.
//! `TestBroker::with_conf(lines)` adds Mosquitto-style configuration lines
//! (`max_queued_messages 5`, `max_keepalive 10`, ...), so a test states its
//! limits in the one syntax both brokers read.
//!
//! By default the broker is Hornet, started in-process on its own
//! two-thread tokio runtime (independent of the test's). `HORNET_TEST_LOG=1`
//! prints its log. With
//! `HORNET_TEST_AGAINST=mosquitto` the same tests run against the Debian
//! `mosquitto` binary instead: that is how a test's expectations are checked
//! against the reference broker (tests that pin Hornet-only behaviour say so
//! with `common::hornet_only()`).

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running broker; stopped when dropped.
pub struct TestBroker {
    addr: SocketAddr,
    /// The admin HTTP listener (Hornet only; on an ephemeral port).
    admin: Option<SocketAddr>,
    /// Every MQTT listener's address, the TCP one first (Hornet only).
    listeners: Vec<SocketAddr>,
    inner: Inner,
}

enum Inner {
    Hornet {
        runtime: Option<tokio::runtime::Runtime>,
        server: Option<hornet::server::Server>,
    },
    Mosquitto {
        child: Child,
        _dir: tempfile::TempDir,
    },
}

/// True when the tests run against Mosquitto (`HORNET_TEST_AGAINST=mosquitto`).
pub fn against_mosquitto() -> bool {
    std::env::var("HORNET_TEST_AGAINST").is_ok_and(|v| v == "mosquitto")
}

/// The upper bound on any single wait in a test.
pub const TIMEOUT: Duration = Duration::from_secs(10);

impl TestBroker {
    /// A broker with default settings (anonymous clients from loopback allowed).
    pub fn start() -> TestBroker {
        Self::with_conf("")
    }

    /// A broker with extra Mosquitto-style configuration lines.
    pub fn with_conf(conf: &str) -> TestBroker {
        if against_mosquitto() {
            Self::start_mosquitto(conf)
        } else {
            Self::start_hornet(conf, Vec::new())
        }
    }

    /// A Hornet broker with `extra` listeners (each should ask for port 0)
    /// after the usual loopback TCP one; see [`TestBroker::listener_addr`].
    pub fn with_listeners(conf: &str, extra: Vec<hornet::config::Listener>) -> TestBroker {
        assert!(!against_mosquitto(), "extra listeners are Hornet-only");
        Self::start_hornet(conf, extra)
    }

    fn start_hornet(conf: &str, extra: Vec<hornet::config::Listener>) -> TestBroker {
        if std::env::var_os("HORNET_TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
                .with_test_writer()
                .try_init();
        }
        let loaded = hornet::config::parse_mosquitto(conf, std::path::Path::new("test.conf"))
            .unwrap_or_else(|e| panic!("test configuration: {e}"));
        Self::start_hornet_config(loaded.config, extra)
    }

    /// A Hornet broker configured by hornet.toml text (for keys only TOML
    /// has); its listeners are replaced by the usual loopback one.
    pub fn with_toml(toml: &str) -> TestBroker {
        assert!(!against_mosquitto(), "hornet.toml is Hornet-only");
        let loaded = hornet::config::parse_toml(toml, std::path::Path::new("test.toml"))
            .unwrap_or_else(|e| panic!("test configuration: {e}"));
        Self::start_hornet_config(loaded.config, Vec::new())
    }

    fn start_hornet_config(
        mut config: hornet::config::Config,
        extra: Vec<hornet::config::Listener>,
    ) -> TestBroker {
        config.listeners = vec![hornet::config::Listener::tcp(
            0,
            Some([127, 0, 0, 1].into()),
        )];
        config.listeners.extend(extra);
        // The admin API on an ephemeral port, so parallel tests never clash.
        config.admin.port = 0;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        // Started from inside the runtime, so this works from sync tests and
        // from #[tokio::test] alike (which must not block_on).
        let (tx, rx) = std::sync::mpsc::channel();
        runtime.spawn(async move {
            let _ = tx.send(hornet::server::Server::start(&config).await);
        });
        let server = rx
            .recv_timeout(TIMEOUT)
            .expect("hornet starts")
            .expect("start hornet");
        let addr = server.local_addrs()[0];
        TestBroker {
            addr,
            admin: server.admin_addr(),
            listeners: server.local_addrs().to_vec(),
            inner: Inner::Hornet {
                runtime: Some(runtime),
                server: Some(server),
            },
        }
    }

    /// Runs `f` on the broker core (Hornet only; `None` against Mosquitto).
    pub fn inspect<R>(&self, f: impl FnOnce(&hornet_core::Broker) -> R) -> Option<R> {
        match &self.inner {
            Inner::Hornet {
                server: Some(server),
                ..
            } => Some(server.inspect(f)),
            _ => None,
        }
    }

    /// Plain TCP connections parked now and those brought back since
    /// start (Hornet only; `None` against Mosquitto or after shutdown).
    pub fn parked(&self) -> Option<(usize, usize)> {
        match &self.inner {
            Inner::Hornet {
                server: Some(server),
                ..
            } => Some(server.parked_connections()),
            _ => None,
        }
    }

    /// Stops Hornet's server (its tasks end, parked connections are
    /// closed) while the runtime and its connection tasks go on.
    pub fn stop_server(&mut self) {
        if let Inner::Hornet { server, .. } = &mut self.inner {
            if let Some(server) = server.take() {
                server.shutdown();
            }
        }
    }

    /// The outgoing bridges' figures (Hornet only; empty against Mosquitto).
    pub fn bridges(&self) -> Vec<hornet::bridge::BridgeSnapshot> {
        match &self.inner {
            Inner::Hornet {
                server: Some(server),
                ..
            } => server.bridges(),
            _ => Vec::new(),
        }
    }

    fn start_mosquitto(conf: &str) -> TestBroker {
        let port = free_port();
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("mosquitto.conf");
        std::fs::write(
            &path,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\n{conf}\n"),
        )
        .expect("write mosquitto.conf");
        let mut child = Command::new("mosquitto")
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run mosquitto (apt-get install mosquitto)");
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[mosquitto] {line}");
            }
        });
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        wait_for_port(addr);
        TestBroker {
            addr,
            admin: None,
            listeners: vec![addr],
            inner: Inner::Mosquitto { child, _dir: dir },
        }
    }

    /// The MQTT listener address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of listener `i` in configuration order (0 is the TCP one).
    pub fn listener_addr(&self, i: usize) -> SocketAddr {
        self.listeners[i]
    }

    /// The admin API's base URL, e.g. `http://127.0.0.1:40000` (Hornet only).
    pub fn admin_url(&self) -> String {
        format!("http://{}", self.admin.expect("the admin listener runs"))
    }

    /// The MQTT listener port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        match &mut self.inner {
            Inner::Hornet { runtime, server } => {
                drop(server.take());
                if let Some(rt) = runtime.take() {
                    rt.shutdown_background();
                }
            }
            Inner::Mosquitto { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (bounded) until something accepts connections on `addr`.
pub fn wait_for_port(addr: SocketAddr) {
    let deadline = Instant::now() + TIMEOUT;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "nothing listening on {addr}");
        std::thread::yield_now();
    }
}

/// Returns true (and says so) when a test pins Hornet-only behaviour and the
/// run is against Mosquitto, so the caller can return early.
pub fn hornet_only() -> bool {
    if against_mosquitto() {
        eprintln!("skipped against mosquitto: this test pins Hornet-only behaviour");
        return true;
    }
    false
}
