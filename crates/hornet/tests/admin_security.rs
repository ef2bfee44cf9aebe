//! The admin API's security rules through real HTTP (reqwest, and raw
//! HTTPS over tokio-rustls) against real brokers, as `docs/admin.md` and
//! `docs/security.md` state them:
//!
//! - MQTT authentication on and no admin credentials: the default admin
//!   listener is locked (401 naming the keys; nothing published, as a
//!   sentinel on dave's subscription shows), a declared one refuses the
//!   start, and the opt-out opens it again.
//! - A `Host` that is not this listener's (DNS rebinding) gets 421; a
//!   foreign `Origin` on POST or DELETE gets 403.
//! - Roles: admin, read-only, metrics-only, by token and by user.
//! - Failed authentications: 401, then 429 per address, counted in
//!   `/metrics`; audit lines for every state-changing call.
//! - The dashboard's login cookie (`HttpOnly`, `SameSite=Strict`, and
//!   `Secure` over HTTPS) and HTTPS itself.
//!
//! Hornet-only: Mosquitto has no such API.

mod common;
mod support;
#[path = "support/transports.rs"]
mod transports;

use std::io::Write;
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use common::{TestBroker, TIMEOUT};
use rumqttc::v5::mqttbytes::QoS;
use serde_json::{json, Value};
use support::v5::{options, Client};

fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(TIMEOUT).build().unwrap()
}

/// A client whose requests come from 127.0.0.2 (another address for the
/// per-address throttle).
fn http_from(addr: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .local_address(addr)
        .build()
        .unwrap()
}

/// A password file with `users` (user, password) and an ACL letting dave
/// use only `dave/#`; the Mosquitto-style lines naming them.
struct Files {
    _dir: tempfile::TempDir,
    conf: String,
}

fn files(users: &[(&str, &str)]) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let passwd = dir.path().join("passwd");
    let lines: Vec<String> = users
        .iter()
        .map(|(u, p)| hornet_auth::scram_line(u, p.as_bytes(), 16).unwrap())
        .collect();
    std::fs::write(&passwd, lines.join("\n") + "\n").unwrap();
    let acl = dir.path().join("acl");
    std::fs::write(&acl, "user dave\ntopic readwrite dave/#\n").unwrap();
    let conf = format!(
        "allow_anonymous false\npassword_file {}\nacl_file {}\n",
        passwd.display(),
        acl.display()
    );
    Files { _dir: dir, conf }
}

/// The log lines of every broker in this test binary, for the audit trail.
struct Logs {
    text: Mutex<String>,
    grew: Condvar,
}

struct LogWriter(Arc<Logs>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .text
            .lock()
            .unwrap()
            .push_str(&String::from_utf8_lossy(buf));
        self.0.grew.notify_all();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> Arc<Logs> {
    static LOGS: OnceLock<Arc<Logs>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Logs {
            text: Mutex::new(String::new()),
            grew: Condvar::new(),
        });
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("hornet=info"))
            .with_ansi(false)
            .with_writer(move || LogWriter(writer.clone()))
            .try_init()
            .expect("the only subscriber in this test binary");
        logs
    })
    .clone()
}

impl Logs {
    /// Waits (bounded) for a log line containing every one of `parts`.
    fn wait_line(&self, parts: &[&str]) -> String {
        let deadline = std::time::Instant::now() + TIMEOUT;
        let mut text = self.text.lock().unwrap();
        loop {
            if let Some(line) = text.lines().find(|l| parts.iter().all(|p| l.contains(p))) {
                return line.to_string();
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(!left.is_zero(), "no log line with {parts:?} in:\n{text}");
            text = self.grew.wait_timeout(text, left).unwrap().0;
        }
    }
}

/// The issue's scenario: MQTT needs passwords, dave may use only `dave/#`,
/// no admin settings. The admin listener is up but locked: the injected
/// publish is refused with 401 naming the keys to set, and never reaches
/// dave (his own sentinel message is the first he receives); reading and
/// `/metrics` are refused too; health checks stay open.
#[tokio::test]
async fn mqtt_authentication_locks_the_default_admin_listener() {
    if common::hornet_only() {
        return;
    }
    let f = files(&[("dave", "dave-pw")]);
    let broker = TestBroker::with_conf(&f.conf);
    let url = broker.admin_url();
    let mut o = options(&broker, "dave-sub");
    o.set_credentials("dave", "dave-pw");
    let (mut dave, _) = Client::connect_with(o).await;
    dave.subscribe("dave/#", QoS::AtLeastOnce).await;

    let r = http()
        .post(format!("{url}/api/v1/publish"))
        .json(&json!({ "topic": "dave/admin", "payload": "injected" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"], "unauthorized");
    let message = err["message"].as_str().unwrap();
    for key in [
        "locked",
        "[admin] token",
        "[admin] users",
        "admin_token",
        "enabled = false",
        "allow_unauthenticated",
    ] {
        assert!(message.contains(key), "{key}: {message}");
    }
    for path in [
        "/api/v1/clients",
        "/api/v1/broker/config",
        "/metrics",
        "/api/v1/retained",
    ] {
        let r = http().get(format!("{url}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    let r = http().get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let session: Value = http()
        .get(format!("{url}/api/v1/session"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(session["locked"]
        .as_str()
        .unwrap()
        .contains("[admin] token"));

    dave.publish("dave/x", QoS::AtLeastOnce, false, b"sentinel")
        .await;
    let before = dave.publishes_until(b"sentinel").await;
    assert!(
        before.is_empty(),
        "the admin publish got through: {before:?}"
    );
}

/// A declared admin listener (here `[admin]` set by a library caller)
/// without credentials beside MQTT authentication refuses the start,
/// saying which keys to set; the explicit opt-out starts it open, and its
/// publish reaches dave (the old behaviour, on purpose).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_admin_listener_without_credentials_refuses_to_start_unless_opted_out() {
    if common::hornet_only() {
        return;
    }
    let logs = logs();
    let f = files(&[("dave", "dave-pw")]);
    let loaded = hornet::config::parse_mosquitto(&f.conf, std::path::Path::new("t.conf")).unwrap();
    let mut config = loaded.config;
    config.listeners = vec![hornet::config::Listener::tcp(
        0,
        Some([127, 0, 0, 1].into()),
    )];
    config.admin.port = 0;
    config.admin.declared = true;
    let err = hornet::server::Server::start(&config)
        .await
        .err()
        .expect("refused");
    let err = err.to_string();
    for key in [
        "a password_file",
        "[admin] token",
        "admin_user NAME",
        "admin_enabled false",
        "admin_allow_unauthenticated true",
    ] {
        assert!(err.contains(key), "{key}: {err}");
    }

    config.admin.allow_unauthenticated = true;
    let server = hornet::server::Server::start(&config).await.unwrap();
    let admin = server.admin_addr().unwrap();
    logs.wait_line(&["needs NO credentials", &admin.to_string()]);
    let r = http()
        .post(format!("http://{admin}/api/v1/publish"))
        .json(&json!({ "topic": "dave/admin", "payload": "opted out" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    logs.wait_line(&[
        "Admin audit: anonymous from 127.0.0.1:",
        "POST /api/v1/publish -> 200",
    ]);
}

/// DNS rebinding: a `Host` naming another site gets 421 with a JSON error;
/// loopback names, the address and configured names are served.
#[tokio::test]
async fn a_rebinding_host_is_refused() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf("admin_host broker.example\n");
    let url = broker.admin_url();
    let port = broker.admin_url().rsplit(':').next().unwrap().to_string();
    for (host, status) in [
        ("evil.example".to_string(), 421),
        (format!("evil.example:{port}"), 421),
        (format!("localhost.evil.example:{port}"), 421),
        (format!("localhost:{port}"), 200),
        (format!("127.0.0.1:{port}"), 200),
        ("broker.example".to_string(), 200),
    ] {
        for path in ["/api/v1/clients", "/"] {
            let r = http()
                .get(format!("{url}{path}"))
                .header("Host", &host)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), status, "{host} {path}");
            if status == 421 {
                let err: Value = r.json().await.unwrap();
                assert_eq!(err["error"], "misdirected_host");
                assert!(err["message"].as_str().unwrap().contains("admin_host"));
            }
        }
    }
}

/// A page of another origin cannot change anything: POST and DELETE with a
/// foreign (or `null`) `Origin` get 403; the listener's own origin and
/// requests without `Origin` (curl, scripts) are served.
#[tokio::test]
async fn a_foreign_origin_is_refused_for_post_and_delete() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::start();
    let url = broker.admin_url();
    let own = url.clone();
    let publish = json!({ "topic": "o/x", "payload": "p", "retain": true });
    for origin in ["http://evil.example", "null", "http://localhost:1"] {
        let r = http()
            .post(format!("{url}/api/v1/publish"))
            .header("Origin", origin)
            .json(&publish)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{origin}");
        let err: Value = r.json().await.unwrap();
        assert_eq!(err["error"], "foreign_origin");
        let r = http()
            .delete(format!("{url}/api/v1/retained?filter=%23"))
            .header("Origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{origin}");
        let r = http()
            .get(format!("{url}/api/v1/clients"))
            .header("Origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "reading is same-origin policy's job");
    }
    let r = http()
        .post(format!("{url}/api/v1/publish"))
        .header("Origin", &own)
        .json(&publish)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http()
        .delete(format!("{url}/api/v1/retained/o/x"))
        .header("Origin", &own)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

async fn status_of(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.unwrap().status().as_u16()
}

/// Least privilege: the admin token and admin users may do everything, the
/// read-only ones read (lists, `$SYS`, `/metrics`) and get 403 for changes
/// and the configuration, the metrics token reads only `/metrics`.
#[tokio::test]
async fn roles_are_enforced() {
    if common::hornet_only() {
        return;
    }
    let f = files(&[("alice", "wonder"), ("carol", "reader")]);
    let broker = TestBroker::with_conf(&format!(
        "{}admin_token adm\nadmin_read_token rd\nadmin_metrics_token prom\n\
         admin_user alice\nadmin_read_user carol\n",
        f.conf
    ));
    let url = broker.admin_url();
    type Auth = fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder;
    let callers: [(&str, Auth, [u16; 5]); 5] = [
        // [GET clients, GET sys, GET metrics, GET config, POST publish]
        (
            "admin token",
            |r| r.bearer_auth("adm"),
            [200, 200, 200, 200, 200],
        ),
        (
            "alice",
            |r| r.basic_auth("alice", Some("wonder")),
            [200, 200, 200, 200, 200],
        ),
        (
            "read token",
            |r| r.bearer_auth("rd"),
            [200, 200, 200, 403, 403],
        ),
        (
            "carol",
            |r| r.basic_auth("carol", Some("reader")),
            [200, 200, 200, 403, 403],
        ),
        (
            "metrics token",
            |r| r.bearer_auth("prom"),
            [403, 403, 200, 403, 403],
        ),
    ];
    for (who, auth, expected) in callers {
        let c = http();
        let got = [
            status_of(auth(c.get(format!("{url}/api/v1/clients")))).await,
            status_of(auth(c.get(format!("{url}/api/v1/broker/sys")))).await,
            status_of(auth(c.get(format!("{url}/metrics")))).await,
            status_of(auth(c.get(format!("{url}/api/v1/broker/config")))).await,
            status_of(
                auth(c.post(format!("{url}/api/v1/publish")))
                    .json(&json!({ "topic": "r/x", "payload": "p" })),
            )
            .await,
        ];
        assert_eq!(got, expected, "{who}");
    }
    let config: Value = http()
        .get(format!("{url}/api/v1/broker/config"))
        .bearer_auth("adm")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for key in ["token", "read_token", "metrics_token"] {
        assert_eq!(config["admin"][key], "(hidden)", "{key}");
    }
    assert_eq!(config["admin"]["read_users"], json!(["carol"]));
    let r = http()
        .delete(format!("{url}/api/v1/clients/nobody"))
        .bearer_auth("rd")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"], "forbidden");
    assert!(err["message"].as_str().unwrap().contains("admin role"));
}

/// Failed authentications: 401 each, then 429 with `Retry-After` for that
/// address only (even with the right token), counted in `/metrics`; the
/// refused and accepted state-changing calls leave audit lines naming who,
/// from where, what and the result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentications_are_throttled_counted_and_audited() {
    if common::hornet_only() {
        return;
    }
    let logs = logs();
    let broker = TestBroker::with_conf("admin_token right\n");
    let url = broker.admin_url();
    let other = http_from([127, 0, 0, 2].into());
    let ok = other
        .post(format!("{url}/api/v1/publish"))
        .bearer_auth("right")
        .json(&json!({ "topic": "audit/x", "payload": "p" }))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    logs.wait_line(&[
        "Admin audit: token from 127.0.0.2:",
        "POST /api/v1/publish -> 200",
    ]);
    for _ in 0..10 {
        let r = http()
            .delete(format!("{url}/api/v1/clients/audit-victim"))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    logs.wait_line(&[
        "Admin audit: - from 127.0.0.1:",
        "DELETE /api/v1/clients/audit-victim -> 401",
    ]);
    let r = http()
        .get(format!("{url}/api/v1/clients"))
        .bearer_auth("right")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"], "too_many_failures");
    let metrics = other
        .get(format!("{url}/metrics"))
        .bearer_auth("right")
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200, "another address is not throttled");
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("hornet_admin_auth_failures_total 10\n"),
        "{text}"
    );
    assert!(
        text.contains("hornet_admin_auth_throttled_total 1\n"),
        "{text}"
    );
}

/// The dashboard's login: a token or a user's password buys an
/// `HttpOnly`, `SameSite=Strict` session cookie good for the API until
/// logout; a wrong one gets 401, a login from a foreign page 403.
#[tokio::test]
async fn login_sets_a_strict_session_cookie_until_logout() {
    if common::hornet_only() {
        return;
    }
    let f = files(&[("carol", "reader")]);
    let broker = TestBroker::with_conf(&format!(
        "{}admin_token adm\nadmin_read_user carol\n",
        f.conf
    ));
    let url = broker.admin_url();
    let session: Value = http()
        .get(format!("{url}/api/v1/session"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        session,
        json!({ "required": true, "user": null, "role": null })
    );
    let wrong = http()
        .post(format!("{url}/api/v1/login"))
        .json(&json!({ "token": "nope" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let foreign = http()
        .post(format!("{url}/api/v1/login"))
        .header("Origin", "http://evil.example")
        .json(&json!({ "token": "adm" }))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);

    for (body, role) in [
        (json!({ "token": "adm" }), "admin"),
        (json!({ "username": "carol", "password": "reader" }), "read"),
    ] {
        let r = http()
            .post(format!("{url}/api/v1/login"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
        for part in ["hornet_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(set.contains(part), "{set}");
        }
        assert!(!set.contains("Secure"), "plain HTTP: {set}");
        let who: Value = r.json().await.unwrap();
        assert_eq!(who["role"], role);
        let cookie = set.split(';').next().unwrap().to_string();
        let read = http()
            .get(format!("{url}/api/v1/clients"))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 200);
        let me: Value = http()
            .get(format!("{url}/api/v1/session"))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["role"], role);
        let out = http()
            .post(format!("{url}/api/v1/logout"))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 204);
        assert!(out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0"));
        let after = http()
            .get(format!("{url}/api/v1/clients"))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(after.status(), 401, "the session ended");
    }
}

/// HTTPS with a listener's certificate and key: the API answers over TLS
/// (a rustls client trusting the test CA) and the session cookie is
/// `Secure`; plain HTTP to it gets no answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listener_serves_https_with_secure_cookies() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if common::hornet_only() {
        return;
    }
    let pki = transports::Pki::new();
    let broker = TestBroker::with_conf(&format!(
        "admin_token adm\nadmin_certfile {}\nadmin_keyfile {}\n",
        pki.cert_file.display(),
        pki.key_file.display()
    ));
    let addr = broker.admin_url().trim_start_matches("http://").to_string();
    // A plain HTTPS client: no ALPN `mqtt` as the MQTT tests offer.
    let mut client = (*pki.client_config(None)).clone();
    client.alpn_protocols.clear();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio::time::timeout(TIMEOUT, connector.connect(name, tcp))
        .await
        .unwrap()
        .unwrap();
    let body = r#"{"token":"adm"}"#;
    let request = format!(
        "POST /api/v1/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(TIMEOUT, tls.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let cookie = response
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {response}"));
    for part in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let plain = http().get(format!("http://{addr}/healthz")).send().await;
    assert!(plain.is_err(), "plain HTTP is not served: {plain:?}");
}
