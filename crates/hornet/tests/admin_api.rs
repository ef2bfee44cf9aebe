//! The admin HTTP API through real HTTP (reqwest) against a real broker
//! with real MQTT clients connected (rumqttc): list, inspect, kick and
//! discard clients, subscriptions and the topic tree, retained messages,
//! publishing, broker figures, `/metrics`, health checks, authentication
//! and the JSON errors bad requests get. Hornet-only: Mosquitto has no
//! such API.

mod common;
mod support;

use common::TestBroker;
use rumqttc::v5::mqttbytes::v5::DisconnectReasonCode;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{ConnectionError, StateError};
use serde_json::{json, Value};
use support::v5::{options, Client};

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(common::TIMEOUT)
        .build()
        .unwrap()
}

async fn get(broker: &TestBroker, path: &str) -> (u16, Value) {
    let r = http()
        .get(format!("{}{path}", broker.admin_url()))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(
        ct.starts_with("application/json"),
        "{path}: content-type {ct}"
    );
    (status, r.json().await.unwrap())
}

async fn delete(broker: &TestBroker, path: &str) -> (u16, Value) {
    let r = http()
        .delete(format!("{}{path}", broker.admin_url()))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    let value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body).unwrap()
    };
    (status, value)
}

async fn post(broker: &TestBroker, path: &str, body: &Value) -> (u16, Value) {
    let r = http()
        .post(format!("{}{path}", broker.admin_url()))
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap().to_string())
        .collect()
}

/// MQTT 5 §3.14.2.1: DISCONNECT 0x98 "Administrative action" tells a
/// kicked MQTT 5 client why; the list and detail show what the client did.
#[tokio::test]
async fn clients_are_listed_filtered_shown_and_kicked_with_0x98() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::start();
    let mut opts = options(&broker, "dash-kick");
    opts.set_credentials("operator", "");
    let (mut victim, _) = Client::connect_with(opts).await;
    victim.subscribe("plant/+/temp", QoS::AtLeastOnce).await;
    let (_other, _) = Client::connect(&broker, "other-1").await;

    let (status, all) = get(&broker, "/api/v1/clients").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&all), ["dash-kick", "other-1"]);
    assert_eq!(all["meta"]["count"], 2);
    let (_, page) = get(&broker, "/api/v1/clients?client_id=dash").await;
    assert_eq!(ids(&page), ["dash-kick"]);
    let row = &page["data"][0];
    assert_eq!(row["connected"], true);
    assert_eq!(row["protocol"], "5.0");
    assert_eq!(row["username"], "operator");
    assert_eq!(row["subscriptions"], 1);
    assert!(row["address"].as_str().unwrap().starts_with("127.0.0.1:"));
    let (_, page) = get(&broker, "/api/v1/clients?username=operator").await;
    assert_eq!(ids(&page), ["dash-kick"]);
    let (_, page) = get(&broker, "/api/v1/clients?connected=false").await;
    assert_eq!(ids(&page), Vec::<String>::new());
    let (_, page) = get(&broker, "/api/v1/clients?protocol=3.1.1").await;
    assert_eq!(ids(&page), Vec::<String>::new());
    let (_, page) = get(&broker, "/api/v1/clients?limit=1&page=2").await;
    assert_eq!(ids(&page), ["other-1"]);

    let (status, detail) = get(&broker, "/api/v1/clients/dash-kick").await;
    assert_eq!(status, 200);
    assert_eq!(detail["keep_alive"], 30);
    assert_eq!(detail["subscription_list"][0]["filter"], "plant/+/temp");
    assert_eq!(detail["subscription_list"][0]["qos"], 1);

    let (status, _) = delete(&broker, "/api/v1/clients/dash-kick").await;
    assert_eq!(status, 204);
    match victim.closed().await {
        ConnectionError::MqttState(StateError::ServerDisconnect {
            reason_code,
            reason_string,
        }) => {
            assert_eq!(reason_code, DisconnectReasonCode::AdministrativeAction);
            assert_eq!(
                reason_string.as_deref(),
                Some("disconnected by an administrator")
            );
        }
        other => panic!("expected DISCONNECT 0x98, got {other:?}"),
    }
    // A clean MQTT 5 session (expiry 0) ends with its connection.
    let (status, err) = get(&broker, "/api/v1/clients/dash-kick").await;
    assert_eq!(status, 404);
    assert_eq!(err["error"], "not_found");
    let (status, err) = delete(&broker, "/api/v1/clients/nobody").await;
    assert_eq!(status, 404);
    assert!(err["message"].as_str().unwrap().contains("nobody"));
}

/// A kicked MQTT 3.1.1 client with a persistent session ([MQTT-3.1.2-4])
/// keeps its session offline until an administrator discards it.
#[tokio::test]
async fn persistent_session_stays_after_kick_until_discarded() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::start();
    let mut opts = support::v4::options(&broker, "keeper");
    opts.set_clean_session(false);
    let (mut keeper, _) = support::v4::Client::connect_with(opts).await;
    keeper.subscribe("k/#", rumqttc::QoS::AtLeastOnce).await;
    let (status, _) = delete(&broker, "/api/v1/clients/keeper").await;
    assert_eq!(status, 204);
    keeper.closed().await;
    let (_, page) = get(&broker, "/api/v1/clients?connected=false").await;
    assert_eq!(ids(&page), ["keeper"]);
    assert_eq!(page["data"][0]["protocol"], "3.1.1");
    let (status, err) = delete(&broker, "/api/v1/clients/keeper").await;
    assert_eq!(status, 409, "kicking an offline session: {err}");
    let (_, topics) = get(&broker, "/api/v1/topics").await;
    assert_eq!(
        topics["data"],
        json!([{ "filter": "k/#", "subscribers": 1 }])
    );

    let (status, _) = delete(&broker, "/api/v1/clients/keeper/session").await;
    assert_eq!(status, 204);
    let (status, _) = get(&broker, "/api/v1/clients/keeper").await;
    assert_eq!(status, 404);
    let (_, topics) = get(&broker, "/api/v1/topics").await;
    assert_eq!(topics["meta"]["count"], 0);
}

#[tokio::test]
async fn subscriptions_and_topic_tree() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::start();
    let (mut a, _) = Client::connect(&broker, "sub-a").await;
    let (mut b, _) = Client::connect(&broker, "sub-b").await;
    a.subscribe("t/#", QoS::AtMostOnce).await;
    b.subscribe("t/#", QoS::ExactlyOnce).await;
    b.subscribe("$share/g/jobs", QoS::AtLeastOnce).await;
    let (_, subs) = get(&broker, "/api/v1/subscriptions").await;
    assert_eq!(subs["meta"]["count"], 3);
    let (_, subs) = get(&broker, "/api/v1/subscriptions?client_id=sub-b&filter=t/").await;
    assert_eq!(subs["data"][0]["filter"], "t/#");
    assert_eq!(subs["data"][0]["qos"], 2);
    let (_, tree) = get(&broker, "/api/v1/topics").await;
    assert_eq!(
        tree["data"],
        json!([
            { "filter": "$share/g/jobs", "subscribers": 1 },
            { "filter": "t/#", "subscribers": 2 },
        ])
    );
}

/// Retained messages ([MQTT-3.3.1-5]) listed by filter, read, deleted one
/// by one or by filter; a later subscriber no longer receives them.
#[tokio::test]
async fn retained_messages_list_read_and_delete() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::start();
    let (mut p, _) = Client::connect(&broker, "retainer").await;
    p.publish("r/1", QoS::AtLeastOnce, true, b"one").await;
    p.publish("r/2", QoS::AtLeastOnce, true, &[0xff, 0x00])
        .await;
    p.publish("s/1", QoS::AtLeastOnce, true, b"other").await;

    let (_, page) = get(&broker, "/api/v1/retained?filter=r/%23").await;
    assert_eq!(page["meta"]["count"], 2);
    assert_eq!(page["data"][0]["topic"], "r/1");
    assert_eq!(page["data"][0]["payload"], "one");
    assert_eq!(page["data"][1]["payload_encoding"], "base64");
    assert_eq!(page["data"][1]["payload"], "/wA=");
    let (status, one) = get(&broker, "/api/v1/retained/s/1").await;
    assert_eq!(status, 200);
    assert_eq!(one["qos"], 1);
    let (status, _) = get(&broker, "/api/v1/retained/s/nope").await;
    assert_eq!(status, 404);

    let (status, _) = delete(&broker, "/api/v1/retained/r/1").await;
    assert_eq!(status, 204);
    let (status, _) = delete(&broker, "/api/v1/retained/r/1").await;
    assert_eq!(status, 404);
    let (status, err) = delete(&broker, "/api/v1/retained").await;
    assert_eq!(status, 400, "a filter is required: {err}");
    let (status, gone) = delete(&broker, "/api/v1/retained?filter=r/%23").await;
    assert_eq!(status, 200);
    assert_eq!(gone, json!({ "deleted": 1, "topics": ["r/2"] }));
    let (status, err) = get(&broker, "/api/v1/retained?filter=a/%23/b").await;
    assert_eq!(status, 400);
    assert!(err["message"].as_str().unwrap().contains("a/#/b"), "{err}");

    // A new subscriber gets only what is left.
    let (mut s, _) = Client::connect(&broker, "late").await;
    s.subscribe("#", QoS::AtMostOnce).await;
    let got = s.recv_publish().await;
    assert_eq!(&got.topic[..], b"s/1");
}

/// Publishing through the API reaches MQTT subscribers with QoS, retain and
/// MQTT 5 properties ([MQTT-3.3.2-17] user properties forwarded).
#[tokio::test]
async fn publish_reaches_subscribers() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::start();
    let (mut s, _) = Client::connect(&broker, "listener").await;
    s.subscribe("api/#", QoS::AtLeastOnce).await;
    let (status, answer) = post(
        &broker,
        "/api/v1/publish",
        &json!({
            "topic": "api/hello",
            "payload": "from the API",
            "qos": 1,
            "retain": true,
            "properties": {
                "content_type": "text/plain",
                "user_properties": [{ "key": "origin", "value": "admin" }]
            }
        }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["matched"], true);
    let got = s.recv_publish().await;
    assert_eq!(&got.topic[..], b"api/hello");
    assert_eq!(&got.payload[..], b"from the API");
    assert_eq!(got.qos, QoS::AtLeastOnce);
    let props = got.properties.unwrap();
    assert_eq!(props.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        props.user_properties,
        vec![("origin".to_string(), "admin".to_string())]
    );
    let (status, one) = get(&broker, "/api/v1/retained/api/hello").await;
    assert_eq!(status, 200);
    assert_eq!(one["properties"]["content_type"], "text/plain");

    let (status, _) = post(
        &broker,
        "/api/v1/publish",
        &json!({ "topic": "api/bin", "payload": "AAE=", "payload_encoding": "base64" }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(&s.recv_publish().await.payload[..], &[0, 1]);
}

#[tokio::test]
async fn bad_requests_get_4xx_with_a_json_error_naming_the_problem() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::start();
    for (body, status, needle) in [
        (json!({ "topic": "a/+" }), 400, "a/+"),
        (json!({ "topic": "a", "qos": 3 }), 400, "qos"),
        (
            json!({ "topic": "a", "payload": "!!", "payload_encoding": "base64" }),
            400,
            "base64",
        ),
        (
            json!({ "topic": "a", "payload_encoding": "hex" }),
            400,
            "payload_encoding",
        ),
        (json!({ "topic": "$SYS/x" }), 422, "$SYS"),
        (json!({ "payload": "no topic" }), 400, "topic"),
        (json!({ "topic": "a", "colour": "red" }), 400, "colour"),
    ] {
        let (got, err) = post(&broker, "/api/v1/publish", &body).await;
        assert_eq!(got, status, "{body}: {err}");
        assert!(
            err["message"].as_str().unwrap().contains(needle),
            "{body}: {err}"
        );
        assert!(err["error"].is_string());
    }
    let r = http()
        .post(format!("{}/api/v1/publish", broker.admin_url()))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let err: Value = r.json().await.unwrap();
    assert!(
        err["message"].as_str().unwrap().contains("request body"),
        "{err}"
    );
    for path in [
        "/api/v1/clients?page=0",
        "/api/v1/clients?limit=5000",
        "/api/v1/clients?connected=maybe",
        "/api/v1/clients?protocol=6",
    ] {
        let (status, err) = get(&broker, path).await;
        assert_eq!(status, 400, "{path}: {err}");
    }
    let (status, err) = get(&broker, "/api/v1/nothing").await;
    assert_eq!(status, 404);
    assert!(err["message"].as_str().unwrap().contains("/api/v1/nothing"));
}

#[tokio::test]
async fn broker_info_config_sys_health_and_metrics() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf("max_queued_messages 7");
    let (mut c, _) = Client::connect(&broker, "counted").await;
    c.subscribe("m", QoS::AtLeastOnce).await;
    c.publish("m", QoS::AtLeastOnce, false, b"x").await;
    c.recv_publish().await;

    let (_, info) = get(&broker, "/api/v1/broker").await;
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(info["clients_connected"], 1);
    let mqtt = info["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "tcp")
        .unwrap();
    assert_eq!(mqtt["port"], broker.port());
    let (_, config) = get(&broker, "/api/v1/broker/config").await;
    assert_eq!(config["limits"]["max_queued_messages"], 7);
    let (_, sys) = get(&broker, "/api/v1/broker/sys").await;
    assert_eq!(sys["clients/connected"], 1);
    assert!(sys["publish/messages/received"].as_u64().unwrap() >= 1);
    let (status, health) = get(&broker, "/healthz").await;
    assert_eq!((status, &health["status"]), (200, &json!("ok")));
    let (status, _) = get(&broker, "/readyz").await;
    assert_eq!(status, 200);

    let r = http()
        .get(format!("{}/metrics", broker.admin_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = r.text().await.unwrap();
    let sample = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
    };
    assert_eq!(sample("hornet_clients_connected"), 1.0);
    assert!(sample("hornet_messages_received_total{qos=\"1\"}") >= 1.0);
    assert!(sample("hornet_messages_sent_total{qos=\"1\"}") >= 1.0);
    assert_eq!(sample("hornet_subscriptions"), 1.0);
    assert_eq!(
        sample("hornet_messages_dropped_total{reason=\"queue_full\"}"),
        0.0
    );
    assert!(sample("hornet_bytes_received_total") > 0.0);

    // The chart's history: a sample every 5 s, so the first rate appears
    // after the second sample (bounded wait, polling the API).
    let deadline = std::time::Instant::now() + common::TIMEOUT;
    let point = loop {
        let (status, points) = get(&broker, "/api/v1/broker/history").await;
        assert_eq!(status, 200);
        if let Some(p) = points.as_array().unwrap().last() {
            break p.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no history point");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(point["clients_connected"], 1);
    assert!(point["publish_received_per_s"].as_f64().unwrap() >= 0.0);

    let (status, doc) = get(&broker, "/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
}

#[tokio::test]
async fn a_token_guards_the_api_and_metrics_but_not_health() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf("admin_token s3cret");
    let url = broker.admin_url();
    for path in ["/api/v1/clients", "/metrics"] {
        let r = http().get(format!("{url}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        assert!(r.headers().contains_key("www-authenticate"));
        let err: Value = r.json().await.unwrap();
        assert_eq!(err["error"], "unauthorized");
        let r = http()
            .get(format!("{url}{path}"))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let r = http()
            .get(format!("{url}{path}"))
            .bearer_auth("s3cret")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let r = http().get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http().get(format!("{url}/")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the dashboard page itself holds no data");
    let (_, config) = get_auth(&url, "/api/v1/broker/config", "s3cret").await;
    assert_eq!(config["admin"]["token"], "(hidden)");
}

async fn get_auth(url: &str, path: &str, token: &str) -> (u16, Value) {
    let r = http()
        .get(format!("{url}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Admin users from the password file authenticate with HTTP Basic.
#[tokio::test]
async fn admin_users_from_the_password_file_use_basic_auth() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("passwd");
    let alice = hornet_auth::scram_line("alice", b"wonder", 16).unwrap();
    let bob = hornet_auth::scram_line("bob", b"builder", 16).unwrap();
    std::fs::write(&path, format!("{alice}\n{bob}\n")).unwrap();
    let broker = TestBroker::with_conf(&format!(
        "password_file {}\nadmin_user alice\n",
        path.display()
    ));
    let url = format!("{}/api/v1/clients", broker.admin_url());
    for (user, pass, status) in [
        ("alice", "wonder", 200),
        ("alice", "wrong", 401),
        ("bob", "builder", 401),
    ] {
        let r = http()
            .get(&url)
            .basic_auth(user, Some(pass))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{user}:{pass}");
    }
}

/// Safe default: an admin listener off loopback needs credentials.
#[test]
fn non_loopback_admin_without_credentials_refuses_to_start() {
    let err = hornet::config::parse_mosquitto(
        "admin_listener 18083 0.0.0.0\n",
        std::path::Path::new("a.conf"),
    )
    .unwrap_err();
    assert!(err.reason.contains("needs credentials"), "{err}");
    let mut config = hornet::config::Config::default();
    config.admin.bind = [0, 0, 0, 0].into();
    config.listeners[0].port = 0;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt
        .block_on(hornet::server::Server::start(&config))
        .err()
        .expect("refused");
    assert!(err.to_string().contains("admin_token"), "{err}");
    let mut config = hornet::config::Config::default();
    config.admin.port = 0;
    config.admin.users = vec!["alice".into()];
    config.listeners[0].port = 0;
    let err = rt
        .block_on(hornet::server::Server::start(&config))
        .err()
        .expect("refused");
    assert!(err.to_string().contains("no password_file"), "{err}");
    assert!(hornet::config::parse_mosquitto(
        "admin_listener 18083 0.0.0.0\nadmin_token t\n",
        std::path::Path::new("a.conf"),
    )
    .is_ok());
}

/// The text of `/metrics`.
async fn metrics_text(broker: &TestBroker) -> String {
    http()
        .get(format!("{}/metrics", broker.admin_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// One sample of `/metrics` by its full name with labels.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
}

/// A connection refused by a listener's `max_connections` moves that
/// listener's counters everywhere a user looks: `/metrics` (labelled with
/// kind and port), `$SYS/broker/listeners/<kind>/<port>/...` and
/// `/api/v1/broker`. A filter over `max_topic_levels` moves the limit
/// counter, and PUBLISH bytes are counted by QoS.
#[tokio::test]
async fn listener_limit_and_byte_counters_reach_metrics_sys_and_the_api() {
    if common::hornet_only() {
        return;
    }
    let limited = hornet::config::Listener {
        max_connections: Some(1),
        ..hornet::config::Listener::tcp(0, Some([127, 0, 0, 1].into()))
    };
    let broker = TestBroker::with_listeners("sys_interval 1\nmax_topic_levels 8", vec![limited]);
    let port = broker.listener_addr(1).port();

    // The first connection on the limited listener is accepted (it stays
    // open without a CONNECT); the second is closed at once.
    let _first = tokio::net::TcpStream::connect(broker.listener_addr(1))
        .await
        .unwrap();
    let mut second = tokio::net::TcpStream::connect(broker.listener_addr(1))
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(
        common::TIMEOUT,
        tokio::io::AsyncReadExt::read(&mut second, &mut buf),
    )
    .await
    .expect("the refused connection is closed at once")
    .unwrap_or(0);
    assert_eq!(n, 0, "a refused connection gets no bytes, only the close");

    let text = metrics_text(&broker).await;
    let at = format!("{{kind=\"tcp\",port=\"{port}\"");
    assert_eq!(
        sample(
            &text,
            &format!("hornet_listener_connections_refused_total{at},reason=\"max_connections\"}}")
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            &format!("hornet_listener_connections_accepted_total{at}}}")
        ),
        1.0
    );
    assert_eq!(
        sample(&text, &format!("hornet_listener_connections_active{at}}}")),
        1.0
    );
    let (_, info) = get(&broker, "/api/v1/broker").await;
    let row = info["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["port"] == port)
        .unwrap()
        .clone();
    assert_eq!(row["refused_max_connections"], 1);
    let (_, sys) = get(&broker, "/api/v1/broker/sys").await;
    assert_eq!(
        sys[format!("listeners/tcp/{port}/connections/refused/max_connections")],
        1
    );

    // $SYS, from the core, fed by the shell's tick.
    let (mut c, _) = Client::connect(&broker, "sys-watcher").await;
    let topic = format!("$SYS/broker/listeners/tcp/{port}/connections/refused/max_connections");
    c.subscribe(&topic, QoS::AtMostOnce).await;
    loop {
        let p = c.recv_publish().await;
        assert_eq!(p.topic, topic.as_bytes());
        if &p.payload[..] == b"1" {
            break;
        }
    }

    // A filter over max_topic_levels: refused in the SUBACK, counted.
    c.subscribe("a/b/c/d/e/f/g/h/i", QoS::AtLeastOnce).await;
    c.subscribe("bytes", QoS::AtLeastOnce).await;
    c.publish("bytes", QoS::AtLeastOnce, false, &[7u8; 100])
        .await;
    c.recv_publish().await;
    let text = metrics_text(&broker).await;
    assert_eq!(
        sample(&text, "hornet_limit_refused_total{limit=\"topic\"}"),
        1.0
    );
    assert_eq!(
        sample(&text, "hornet_acl_denied_total{action=\"publish\"}"),
        0.0
    );
    // A QoS 1 PUBLISH of 100 bytes on "bytes": 2 (fixed header) + 7 (topic)
    // + 2 (packet id) + 1 (empty MQTT 5 properties) + 100 = 112 bytes.
    assert_eq!(
        sample(&text, "hornet_publish_bytes_received_total{qos=\"1\"}"),
        112.0
    );
    assert_eq!(
        sample(&text, "hornet_publish_bytes_sent_total{qos=\"1\"}"),
        112.0
    );
}
