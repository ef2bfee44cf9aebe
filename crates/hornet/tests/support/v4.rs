//! A rumqttc MQTT 3.1.1 client driven by the test, event by event.

use std::collections::VecDeque;
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnAck, ConnectionError, Event, EventLoop, MqttOptions, Outgoing, Packet,
    Publish, QoS, SubscribeReasonCode,
};
use tokio::time::{timeout_at, Instant};

use crate::common::{TestBroker, TIMEOUT};

/// Options for a client of `broker` with id `id`: clean session, keep-alive 30 s.
pub fn options(broker: &TestBroker, id: &str) -> MqttOptions {
    let mut options = MqttOptions::new(id, "127.0.0.1", broker.port());
    options.set_keep_alive(Duration::from_secs(30));
    options
}

/// A connected rumqttc client and its event loop.
pub struct Client {
    /// The request side.
    pub client: AsyncClient,
    /// The event loop; only the test polls it.
    pub eventloop: EventLoop,
    /// The client id (for messages).
    pub id: String,
    /// PUBLISH packets received while waiting for something else.
    stash: VecDeque<Publish>,
}

impl Client {
    /// Connects with default [`options`]; returns the client and its CONNACK.
    pub async fn connect(broker: &TestBroker, id: &str) -> (Client, ConnAck) {
        Self::connect_with(options(broker, id)).await
    }

    /// Connects with `options`; panics unless the broker accepts in time.
    pub async fn connect_with(options: MqttOptions) -> (Client, ConnAck) {
        let id = options.client_id();
        let (client, mut eventloop) = AsyncClient::new(options, 100);
        let event = match tokio::time::timeout(TIMEOUT, eventloop.poll()).await {
            Err(_) => panic!("{id}: no CONNACK within {TIMEOUT:?}"),
            Ok(Err(e)) => panic!("{id}: connect failed: {e:?}"),
            Ok(Ok(event)) => event,
        };
        let Event::Incoming(Packet::ConnAck(connack)) = event else {
            panic!("{id}: expected CONNACK, got {event:?}");
        };
        (
            Client {
                client,
                eventloop,
                id,
                stash: VecDeque::new(),
            },
            connack,
        )
    }

    /// Polls until `f` maps an event to `Some`; `what` names it in the panic
    /// message after [`TIMEOUT`]. A PUBLISH that `f` does not take is kept for
    /// [`Client::recv_publish`]; other events are skipped.
    pub async fn until<T>(&mut self, what: &str, mut f: impl FnMut(&Event) -> Option<T>) -> T {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let event = match timeout_at(deadline, self.eventloop.poll()).await {
                Err(_) => panic!("{}: no {what} within {TIMEOUT:?}", self.id),
                Ok(Err(e)) => panic!("{}: connection error waiting for {what}: {e:?}", self.id),
                Ok(Ok(event)) => event,
            };
            if let Some(t) = f(&event) {
                return t;
            }
            if let Event::Incoming(Packet::Publish(p)) = event {
                self.stash.push_back(p);
            }
        }
    }

    /// Subscribes to one filter and returns the SUBACK's return code.
    pub async fn subscribe(&mut self, filter: &str, qos: QoS) -> SubscribeReasonCode {
        self.client
            .subscribe(filter, qos)
            .await
            .expect("queue SUBSCRIBE");
        self.until("SUBACK", |e| match e {
            Event::Incoming(Packet::SubAck(ack)) => Some(ack.return_codes[0]),
            _ => None,
        })
        .await
    }

    /// Publishes and waits for the end of the QoS flow on this side: the
    /// PUBLISH written (QoS 0), PUBACK (QoS 1) or PUBCOMP (QoS 2).
    pub async fn publish(&mut self, topic: &str, qos: QoS, retain: bool, payload: &[u8]) {
        self.client
            .publish(topic, qos, retain, payload.to_vec())
            .await
            .expect("queue PUBLISH");
        self.until("end of the publish flow", |e| match (qos, e) {
            (QoS::AtMostOnce, Event::Outgoing(Outgoing::Publish(_)))
            | (QoS::AtLeastOnce, Event::Incoming(Packet::PubAck(_)))
            | (QoS::ExactlyOnce, Event::Incoming(Packet::PubComp(_))) => Some(()),
            _ => None,
        })
        .await
    }

    /// The next PUBLISH received.
    pub async fn recv_publish(&mut self) -> Publish {
        if let Some(p) = self.stash.pop_front() {
            return p;
        }
        self.until("PUBLISH", |e| match e {
            Event::Incoming(Packet::Publish(p)) => Some(p.clone()),
            _ => None,
        })
        .await
    }

    /// Every PUBLISH received before the one whose payload is `sentinel`
    /// (which is consumed, not returned).
    pub async fn publishes_until(&mut self, sentinel: &[u8]) -> Vec<Publish> {
        let mut received = Vec::new();
        loop {
            let p = self.recv_publish().await;
            if p.payload.as_ref() == sentinel {
                return received;
            }
            received.push(p);
        }
    }

    /// Sends DISCONNECT and waits until the broker has closed the connection
    /// (so it has processed the DISCONNECT). The event loop is dropped: it
    /// would reconnect if polled again.
    pub async fn disconnect(mut self) {
        self.client.disconnect().await.expect("queue DISCONNECT");
        self.closed().await;
    }

    /// Polls until the connection fails or is closed; returns the error.
    /// Events before it are skipped.
    pub async fn closed(&mut self) -> ConnectionError {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match timeout_at(deadline, self.eventloop.poll()).await {
                Err(_) => panic!("{}: connection still open after {TIMEOUT:?}", self.id),
                Ok(Err(e)) => return e,
                Ok(Ok(_)) => {}
            }
        }
    }
}
