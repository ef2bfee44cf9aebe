//! Users, roles and topic rules managed at runtime through the admin API
//! (issue 23), driven through real HTTP and real MQTT 5 clients (rumqttc):
//! a user created over HTTP logs in at once and gets exactly its roles'
//! rules ([MQTT-3.8.4-6]: an unauthorized subscription gets 0x87; an
//! unauthorized publish gets PUBACK 0x87); a role change applies to the
//! connected client at once; deleting the user disconnects it (0x98) and
//! refuses its next CONNECT (0x86); the store survives a restart; without
//! a data directory a change is refused with the reason. Hornet-only.

mod common;
mod support;

use common::TestBroker;
use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, DisconnectReasonCode, Packet};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, ConnectionError, Event, MqttOptions, StateError};
use serde_json::{json, Value};
use support::v5::{options, Client};

const TOKEN: &str = "s3cret-admin-token";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(common::TIMEOUT)
        .build()
        .unwrap()
}

async fn call(broker: &TestBroker, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", broker.admin_url());
    let request = match method {
        "GET" => http().get(url),
        "PUT" => http().put(url),
        "DELETE" => http().delete(url),
        other => panic!("method {other}"),
    };
    let request = request.bearer_auth(TOKEN);
    let request = match body {
        Some(b) => request.json(&b),
        None => request,
    };
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, value)
}

fn user(broker: &TestBroker, id: &str, name: &str, password: &str) -> MqttOptions {
    let mut o = options(broker, id);
    o.set_credentials(name, password);
    o
}

/// The CONNACK's reason code, refused or not.
async fn connack_code(options: MqttOptions) -> ConnectReturnCode {
    let (_client, mut eventloop) = AsyncClient::new(options, 10);
    match tokio::time::timeout(common::TIMEOUT, eventloop.poll()).await {
        Err(_) => panic!("no CONNACK within {:?}", common::TIMEOUT),
        Ok(Ok(Event::Incoming(Packet::ConnAck(ack)))) => ack.code,
        Ok(Err(ConnectionError::ConnectionRefused(code))) => code,
        Ok(other) => panic!("expected CONNACK, got {other:?}"),
    }
}

fn conf(dir: &std::path::Path) -> String {
    format!(
        "allow_anonymous true\npersistence true\npersistence_location {}\nadmin_token {TOKEN}\n",
        dir.display()
    )
}

#[tokio::test]
async fn a_user_made_over_http_gets_exactly_its_roles_and_loses_them_at_once() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::with_conf(&conf(dir.path()));
    let org_a = json!({"rules": [
        {"access": "readwrite", "filter": "org-a/#"},
        {"access": "write", "filter": "devices/%c/status"},
    ]});
    assert_eq!(
        call(&broker, "PUT", "/api/v1/roles/org-a", Some(org_a))
            .await
            .0,
        204
    );
    let alice = json!({"password": "alice-pw", "roles": ["org-a"]});
    assert_eq!(
        call(&broker, "PUT", "/api/v1/users/alice", Some(alice))
            .await
            .0,
        204
    );
    // Listed with its roles, never with its hash.
    let (status, users) = call(&broker, "GET", "/api/v1/users", None).await;
    assert_eq!(status, 200);
    assert_eq!(users, json!([{"name": "alice", "roles": ["org-a"]}]));
    let (_, roles) = call(&broker, "GET", "/api/v1/roles", None).await;
    assert_eq!(roles[0]["rules"][1]["filter"], "devices/%c/status");

    // Logs in at once; a wrong password is refused (0x86).
    let wrong = connack_code(user(&broker, "dev1", "alice", "nope")).await;
    assert_eq!(wrong, ConnectReturnCode::BadUserNamePassword);
    let (mut a, ack) = Client::connect_with(user(&broker, "dev1", "alice", "alice-pw")).await;
    assert_eq!(ack.code, ConnectReturnCode::Success);

    // Exactly its rules: inside its organisation yes, outside no.
    assert_eq!(
        a.subscribe("org-a/#", QoS::AtLeastOnce).await,
        rumqttc::v5::mqttbytes::v5::SubscribeReasonCode::Success(QoS::AtLeastOnce)
    );
    assert_eq!(
        a.subscribe("org-b/#", QoS::AtLeastOnce).await,
        rumqttc::v5::mqttbytes::v5::SubscribeReasonCode::NotAuthorized
    );
    let (mut watcher, _) = Client::connect(&broker, "watcher").await;
    watcher.subscribe("#", QoS::AtLeastOnce).await;
    a.publish("org-a/temp", QoS::AtLeastOnce, false, b"21")
        .await;
    a.publish("devices/dev1/status", QoS::AtLeastOnce, false, b"up")
        .await;
    a.publish("org-b/temp", QoS::AtLeastOnce, false, b"denied")
        .await;
    watcher
        .publish("org-a/end", QoS::AtLeastOnce, false, b"end")
        .await;
    let got: Vec<String> = watcher
        .publishes_until(b"end")
        .await
        .iter()
        .map(|p| String::from_utf8_lossy(&p.topic).into_owned())
        .collect();
    assert!(got.contains(&"org-a/temp".to_string()), "{got:?}");
    assert!(got.contains(&"devices/dev1/status".to_string()), "{got:?}");
    assert!(!got.contains(&"org-b/temp".to_string()), "{got:?}");
    // Alice got her own organisation's messages (her subscription).
    let mine: Vec<String> = a
        .publishes_until(b"end")
        .await
        .iter()
        .map(|p| String::from_utf8_lossy(&p.topic).into_owned())
        .collect();
    assert_eq!(mine, vec!["org-a/temp".to_string()]);

    // The role changes: in force for the connected client at once.
    let moved = json!({"rules": [{"access": "readwrite", "filter": "org-c/#"}]});
    assert_eq!(
        call(&broker, "PUT", "/api/v1/roles/org-a", Some(moved))
            .await
            .0,
        204
    );
    a.publish("org-a/temp", QoS::AtLeastOnce, false, b"now denied")
        .await;
    assert_eq!(
        a.subscribe("org-c/#", QoS::AtLeastOnce).await,
        rumqttc::v5::mqttbytes::v5::SubscribeReasonCode::Success(QoS::AtLeastOnce),
        "the new rules are in force"
    );
    watcher
        .publish("org-a/x", QoS::AtLeastOnce, false, b"old org")
        .await;
    watcher
        .publish("org-c/end", QoS::AtLeastOnce, false, b"end2")
        .await;
    let after: Vec<String> = watcher
        .publishes_until(b"end2")
        .await
        .iter()
        .map(|p| String::from_utf8_lossy(&p.payload).into_owned())
        .collect();
    assert_eq!(after, vec!["old org".to_string()], "her publish was denied");
    assert!(
        a.publishes_until(b"end2").await.is_empty(),
        "her org-a subscription no longer delivers"
    );

    // A role still given cannot go; the user can, and her client is
    // disconnected with 0x98 and may not come back.
    let (status, body) = call(&broker, "DELETE", "/api/v1/roles/org-a", None).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("alice"),
        "{body}"
    );
    assert_eq!(
        call(&broker, "DELETE", "/api/v1/users/alice", None).await.0,
        204
    );
    match a.closed().await {
        ConnectionError::MqttState(StateError::ServerDisconnect { reason_code, .. }) => {
            assert_eq!(reason_code, DisconnectReasonCode::AdministrativeAction)
        }
        other => panic!("expected DISCONNECT 0x98, got {other:?}"),
    }
    let again = connack_code(user(&broker, "dev1", "alice", "alice-pw")).await;
    assert_eq!(again, ConnectReturnCode::BadUserNamePassword);
    assert_eq!(
        call(&broker, "DELETE", "/api/v1/roles/org-a", None).await.0,
        204
    );
}

#[tokio::test]
async fn runtime_users_survive_a_restart_and_bad_input_gets_a_reason() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let restarted = tempfile::tempdir().unwrap();
    {
        let broker = TestBroker::with_conf(&conf(dir.path()));
        let role = json!({"rules": [{"access": "read", "filter": "x/#"}]});
        assert_eq!(
            call(&broker, "PUT", "/api/v1/roles/r", Some(role)).await.0,
            204
        );
        let bob = json!({"password": "bob-pw", "roles": ["r"]});
        assert_eq!(
            call(&broker, "PUT", "/api/v1/users/bob", Some(bob)).await.0,
            204
        );
        // Bad input: a reason, nothing changed.
        for (path, body, want) in [
            (
                "/api/v1/users/new",
                json!({"roles": []}),
                "needs a password",
            ),
            (
                "/api/v1/users/a%3Ab",
                json!({"password": "x"}),
                "not allowed",
            ),
            (
                "/api/v1/users/carol",
                json!({"password": "x", "roles": ["nope"]}),
                "no role 'nope'",
            ),
            (
                "/api/v1/roles/bad",
                json!({"rules": [{"access": "read", "filter": "a/#/b"}]}),
                "rule 1",
            ),
        ] {
            let (status, body) = call(&broker, "PUT", path, Some(body)).await;
            assert_eq!(status, 400, "{path}: {body}");
            let message = body["message"].as_str().unwrap();
            assert!(message.contains(want), "{path}: {message}");
        }
        let (status, _) = call(&broker, "DELETE", "/api/v1/users/nobody", None).await;
        assert_eq!(status, 404);
    }
    // What a restart reads: the file the changes were written to (copied
    // to a fresh data directory: the stopped in-process broker may still
    // hold the old one's lock for a moment).
    std::fs::copy(
        dir.path().join("runtime-auth.json"),
        restarted.path().join("runtime-auth.json"),
    )
    .unwrap();
    let broker = TestBroker::with_conf(&conf(restarted.path()));
    let (status, users) = call(&broker, "GET", "/api/v1/users", None).await;
    assert_eq!(status, 200);
    assert_eq!(users, json!([{"name": "bob", "roles": ["r"]}]));
    let (mut b, ack) = Client::connect_with(user(&broker, "b1", "bob", "bob-pw")).await;
    assert_eq!(ack.code, ConnectReturnCode::Success);
    assert_eq!(
        b.subscribe("x/#", QoS::AtMostOnce).await,
        rumqttc::v5::mqttbytes::v5::SubscribeReasonCode::Success(QoS::AtMostOnce)
    );
    // Changing only the roles keeps the password and the connection.
    let same = json!({"roles": []});
    assert_eq!(
        call(&broker, "PUT", "/api/v1/users/bob", Some(same))
            .await
            .0,
        204
    );
    assert_eq!(
        b.subscribe("x/#", QoS::AtMostOnce).await,
        rumqttc::v5::mqttbytes::v5::SubscribeReasonCode::NotAuthorized
    );
}

#[tokio::test]
async fn without_persistence_a_change_is_refused_with_the_reason() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf(&format!("allow_anonymous true\nadmin_token {TOKEN}\n"));
    let (status, body) = call(
        &broker,
        "PUT",
        "/api/v1/users/alice",
        Some(json!({"password": "pw"})),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("persistence is off"),
        "{body}"
    );
}
