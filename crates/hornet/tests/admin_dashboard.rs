//! The dashboard in a real browser: headless Chromium (Debian's
//! `chromium`) driven by playwright-core (`tests/browser/`) loads the page
//! from a real broker whose MQTT clients need passwords and whose admin
//! user is alice, is refused a wrong password, logs in as alice (an
//! `HttpOnly` session cookie scripts cannot read), sees a connected
//! rumqttc client, kicks it, deletes a retained message, makes a role and
//! a user in the Users tab and logs out; the test then checks from the
//! MQTT side that the client got DISCONNECT 0x98, that only the other
//! retained message is left, and that the new user logs in with exactly
//! its role's access. A second scenario starts a broker with a `ws`
//! listener and drives the publish/subscribe panel: MQTT.js in the page
//! subscribes over that listener and shows what a rumqttc client
//! publishes, and what the page publishes reaches a rumqttc subscriber.
//! A third shows the Bridges tab: a bridge to a real Mosquitto, connected,
//! with its remote address and the count of messages it carried.
//! Screenshots go to `target/artifacts/`.
//!
//! Locally the test is skipped (saying so) without `chromium` or
//! `npm ci --prefix crates/hornet/tests/browser`; in CI (`CI` set) it must
//! run: `.ci/run` installs both.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/process.rs"]
mod process;
#[path = "support/remote.rs"]
mod remote;
mod support;

use std::process::Command;
use std::time::Duration;

use browser::{browser_dir, chromium, ready, shots_dir};
use rumqttc::v5::mqttbytes::v5::{DisconnectReasonCode, SubscribeReasonCode};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{ConnectionError, StateError};
use support::v5::Client;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_a_client_kicks_it_and_deletes_a_retained_message() {
    if common::hornet_only() || !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let passwd = dir.path().join("passwd");
    let lines = [
        hornet_auth::scram_line("alice", b"wonderland", 16).unwrap(),
        hornet_auth::scram_line("victim", b"victim-pw", 16).unwrap(),
    ];
    std::fs::write(&passwd, lines.join("\n") + "\n").unwrap();
    let broker = common::TestBroker::with_conf(&format!(
        "allow_anonymous false\npassword_file {}\nadmin_user alice\npersistence true\n\
         persistence_location {}\n",
        passwd.display(),
        dir.path().join("data").display()
    ));
    let mut options = support::v5::options(&broker, "browser-victim");
    options.set_credentials("victim", "victim-pw");
    let (mut victim, _) = Client::connect_with(options).await;
    victim
        .publish("dash/keep", QoS::AtLeastOnce, true, b"stay")
        .await;
    victim
        .publish("dash/drop", QoS::AtLeastOnce, true, b"go")
        .await;

    let shots = shots_dir();
    let url = broker.admin_url();
    let shots_arg = shots.display().to_string();
    let script = tokio::task::spawn_blocking(move || {
        let mut node = process::Proc::spawn(
            "dashboard.mjs",
            Command::new("node")
                .current_dir(browser_dir())
                .args([
                    "dashboard.mjs",
                    &url,
                    "browser-victim",
                    "dash/drop",
                    &shots_arg,
                    "alice",
                    "wonderland",
                ])
                .env("CHROMIUM", chromium()),
            "nodejs (apt-get install nodejs npm)",
        );
        let status = node.wait_exit(Duration::from_secs(90));
        (status, node.output())
    });

    // The kick reaches the MQTT client as DISCONNECT 0x98 (MQTT 5 §3.14.2.1).
    match victim.closed().await {
        ConnectionError::MqttState(StateError::ServerDisconnect { reason_code, .. }) => {
            assert_eq!(reason_code, DisconnectReasonCode::AdministrativeAction)
        }
        other => panic!("expected DISCONNECT 0x98, got {other:?}"),
    }
    let (status, output) = script.await.unwrap();
    eprintln!("{output}");
    assert!(
        status.success() && output.contains("OK dashboard"),
        "browser scenario failed ({status}):\n{output}"
    );
    let left = broker
        .inspect(|core| {
            core.admin_retained("dash/#")
                .unwrap()
                .into_iter()
                .map(|r| r.topic)
                .collect::<Vec<_>>()
        })
        .unwrap();
    assert_eq!(left, ["dash/keep"]);
    assert!(shots.join("dashboard-overview.png").exists());
    assert!(shots.join("dashboard-login.png").exists());
    for line in [
        "logged in as alice",
        "logged out",
        "made role org-a and user carol",
    ] {
        assert!(output.contains(line), "{line}:\n{output}");
    }
    // The user made in the page logs in over MQTT with exactly its role.
    let mut options = support::v5::options(&broker, "carol-device");
    options.set_credentials("carol", "carol-pw");
    let (mut carol, _) = Client::connect_with(options).await;
    assert_eq!(
        carol.subscribe("org-a/#", QoS::AtMostOnce).await,
        SubscribeReasonCode::Success(QoS::AtMostOnce)
    );
    assert_eq!(
        carol.subscribe("org-b/#", QoS::AtMostOnce).await,
        SubscribeReasonCode::NotAuthorized
    );
}

/// The publish/subscribe panel over a real `ws` listener: the page finds the
/// listener in `GET /api/v1/broker`, connects MQTT.js to it (subprotocol
/// `mqtt`, [MQTT-6.0.0-3]), subscribes, shows a message a rumqttc client
/// published, and publishes a QoS 1 message a rumqttc subscriber receives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_pubsub_panel_talks_mqtt_over_the_websocket_listener() {
    if common::hornet_only() || !ready() {
        return;
    }
    let ws = hornet::config::Listener {
        kind: hornet::config::ListenerKind::Ws,
        ..hornet::config::Listener::tcp(0, Some([127, 0, 0, 1].into()))
    };
    let broker = common::TestBroker::with_listeners("", vec![ws]);
    let (mut listener, _) = Client::connect(&broker, "dash-listener").await;
    listener
        .subscribe("dash/from-browser", QoS::AtLeastOnce)
        .await;
    let (mut publisher, _) = Client::connect(&broker, "dash-publisher").await;

    let shots = shots_dir();
    let mut node = process::Proc::spawn(
        "pubsub.mjs",
        Command::new("node")
            .current_dir(browser_dir())
            .args([
                "pubsub.mjs",
                &broker.admin_url(),
                "dash/to-browser/#",
                "dash/to-browser/1",
                "hello browser",
                "dash/from-browser",
                "hello rumqttc",
                &shots.display().to_string(),
            ])
            .env("CHROMIUM", chromium()),
        "nodejs (apt-get install nodejs npm)",
    );
    let mut node = tokio::task::spawn_blocking(move || {
        node.wait_line(Duration::from_secs(60), "the panel's SUBACK", |l| {
            l == "SUBSCRIBED"
        });
        node
    })
    .await
    .unwrap();

    // The page's subscription is acknowledged: publish to it over TCP.
    publisher
        .publish(
            "dash/to-browser/1",
            QoS::AtLeastOnce,
            false,
            b"hello browser",
        )
        .await;
    // The page shows it, then publishes; the rumqttc subscriber receives that.
    let mut node = tokio::task::spawn_blocking(move || {
        node.wait_line(Duration::from_secs(60), "the page's PUBLISH", |l| {
            l.starts_with("published dash/from-browser")
        });
        node
    })
    .await
    .unwrap();
    let got = listener.recv_publish().await;
    assert_eq!(got.topic, "dash/from-browser");
    assert_eq!(&got.payload[..], b"hello rumqttc");
    assert_eq!(got.qos, QoS::AtLeastOnce);

    let (status, output) = tokio::task::spawn_blocking(move || {
        let status = node.wait_exit(Duration::from_secs(60));
        (status, node.output())
    })
    .await
    .unwrap();
    eprintln!("{output}");
    assert!(
        status.success() && output.contains("OK pubsub"),
        "browser scenario failed ({status}):\n{output}"
    );
    assert!(shots.join("dashboard-pubsub.png").exists());
}

/// The Bridges tab (`GET /api/v1/bridges`): a bridge to a real Mosquitto
/// is listed as connected, with the remote's address, and its Sent count
/// reaches the QoS 1 messages it carried there.
#[test]
fn dashboard_lists_bridges_with_state_address_and_counts() {
    if common::hornet_only() || !ready() {
        return;
    }
    const STATE: &str = "$SYS/broker/connection/hornet-dash/state";
    let v311 = hornet_codec::Protocol::V3_1_1;
    let mosquitto = remote::Remote::start("");
    let mut far = remote::client(mosquitto.port, "far", v311, true);
    remote::subscribe(&mut far, &["dash/#", STATE]);
    let broker = common::TestBroker::with_conf(&format!(
        "connection dash\naddress 127.0.0.1:{}\nremote_clientid hornet-dash\n\
         restart_timeout 1\ncleansession true\ntopic x/# out 1 \"\" dash/\n",
        mosquitto.port
    ));
    remote::wait_for(&mut far, STATE, "1");
    let mut near = remote::client(broker.port(), "near", v311, true);
    for n in 1..=5u16 {
        remote::publish_qos1(&mut near, "x/n", &n.to_string(), n);
    }
    let mut carried = 0;
    while carried < 5 {
        if remote::next_publish(&mut far).topic.starts_with("dash/") {
            carried += 1;
        }
    }

    let shots = shots_dir();
    let mut node = process::Proc::spawn(
        "bridges.mjs",
        Command::new("node")
            .current_dir(browser_dir())
            .args([
                "bridges.mjs",
                &broker.admin_url(),
                "dash",
                &format!("127.0.0.1:{}", mosquitto.port),
                "5",
                &shots.display().to_string(),
            ])
            .env("CHROMIUM", chromium()),
        "nodejs (apt-get install nodejs npm)",
    );
    let status = node.wait_exit(Duration::from_secs(90));
    let output = node.output();
    eprintln!("{output}");
    assert!(
        status.success() && output.contains("OK bridges"),
        "browser scenario failed ({status}):\n{output}"
    );
    assert!(shots.join("dashboard-bridges.png").exists());
}
