//! The common client flows on a [`Harness`]: connect (any protocol, any
//! CONNECT), subscribe, publish at QoS 0, 1 or 2 and complete the
//! publisher's flow, receive deliveries and acknowledge them as a client
//! does, and expect a DISCONNECT with a reason code followed by the close.

use hornet_codec::{
    Ack, ConnAck, Connect, Packet, Property, Protocol, Publish, QoS, ReasonCode, Subscribe,
};
use hornet_core::ConnId;

use super::{pid, Harness};

impl Harness {
    /// Opens a loopback connection and sends `connect`; returns the
    /// connection and its CONNACK (what followed the CONNACK, such as
    /// resent messages, stays in the inbox).
    pub(crate) fn connect_with(&mut self, connect: Connect) -> (ConnId, ConnAck) {
        let id = self.open_loopback();
        self.send(id, connect);
        let mut sent = self.take(id);
        assert!(!sent.is_empty(), "no CONNACK");
        let Packet::ConnAck(ack) = sent.remove(0) else {
            panic!("the first packet is not CONNACK: {sent:?}")
        };
        self.put_back(id, sent);
        (id, ack)
    }

    /// Connects `client_id` with `protocol`, Clean Start `clean` (an MQTT 5
    /// client without it keeps its session for an hour), and expects success.
    pub(crate) fn connect(&mut self, client_id: &str, protocol: Protocol, clean: bool) -> ConnId {
        let mut c = Connect::new(protocol, client_id);
        c.clean_start = clean;
        if protocol.is_v5() && !clean {
            c.properties.push(Property::SessionExpiryInterval(3600));
        }
        let (id, ack) = self.connect_with(c);
        assert_eq!(
            ack.reason_code,
            ReasonCode::Success,
            "CONNACK of {client_id}"
        );
        id
    }

    /// Connects an MQTT 5 client whose Session Expiry Interval is `expiry`
    /// (0: Clean Start, no expiry property), and expects success.
    pub(crate) fn connect_v5(&mut self, client_id: &str, expiry: u32) -> ConnId {
        let mut c = Connect::new(Protocol::V5, client_id);
        c.clean_start = expiry == 0;
        if expiry > 0 {
            c.properties.push(Property::SessionExpiryInterval(expiry));
        }
        let (id, ack) = self.connect_with(c);
        assert_eq!(
            ack.reason_code,
            ReasonCode::Success,
            "CONNACK of {client_id}"
        );
        id
    }

    /// Subscribes `conn` to `filter` at `qos` (packet id 1); returns the
    /// SUBACK's reason codes (retained messages stay in the inbox).
    pub(crate) fn subscribe(&mut self, conn: ConnId, filter: &str, qos: QoS) -> Vec<ReasonCode> {
        self.send(conn, Subscribe::new(pid(1), filter, qos));
        let mut sent = self.take(conn);
        assert!(!sent.is_empty(), "no SUBACK");
        let Packet::SubAck(ack) = sent.remove(0) else {
            panic!("no SUBACK first: {sent:?}")
        };
        self.put_back(conn, sent);
        ack.reason_codes
    }

    /// Publishes `payload` to `topic` (packet id 100 at QoS 1/2) and leaves
    /// the answer in the inbox.
    pub(crate) fn publish(
        &mut self,
        conn: ConnId,
        topic: &str,
        payload: &str,
        qos: QoS,
        retain: bool,
    ) {
        let mut p = super::message(topic, payload, qos);
        p.retain = retain;
        self.send(conn, p);
    }

    /// Publishes `p` and completes the publisher's side of its flow: PUBACK
    /// at QoS 1; PUBREC, PUBREL, PUBCOMP at QoS 2. Returns the reason code
    /// of the PUBACK or PUBREC (Success at QoS 0). Other packets `conn` got
    /// stay in the inbox.
    pub(crate) fn publish_flow(&mut self, conn: ConnId, p: Publish) -> ReasonCode {
        let (qos, id) = (p.qos, p.packet_id);
        self.send(conn, p);
        if qos == QoS::AtMostOnce {
            return ReasonCode::Success;
        }
        let id = id.expect("QoS 1/2 PUBLISH with a packet id");
        let ack = self.take_ack(conn, |p| match (qos, p) {
            (QoS::AtLeastOnce, Packet::PubAck(a)) | (QoS::ExactlyOnce, Packet::PubRec(a)) => {
                Some(a.clone())
            }
            _ => None,
        });
        assert_eq!(ack.packet_id, id, "acknowledges the PUBLISH");
        if qos == QoS::ExactlyOnce && !ack.reason_code.is_error() {
            self.send(conn, Packet::PubRel(Ack::new(id)));
            let comp = self.take_ack(conn, |p| match p {
                Packet::PubComp(a) => Some(a.clone()),
                _ => None,
            });
            assert_eq!(
                (comp.packet_id, comp.reason_code),
                (id, ReasonCode::Success)
            );
        }
        ack.reason_code
    }

    /// Takes the PUBLISHes `conn` got and acknowledges each as a client
    /// does (PUBACK; PUBREC, then PUBCOMP for the PUBREL), until no more
    /// arrive; returns them in order. Other packets are dropped.
    pub(crate) fn receive(&mut self, conn: ConnId) -> Vec<Publish> {
        let mut got = Vec::new();
        loop {
            let packets = self.take(conn);
            if packets.is_empty() {
                return got;
            }
            for packet in packets {
                match packet {
                    Packet::Publish(p) => {
                        match (p.qos, p.packet_id) {
                            (QoS::AtLeastOnce, Some(id)) => {
                                self.send(conn, Packet::PubAck(Ack::new(id)))
                            }
                            (QoS::ExactlyOnce, Some(id)) => {
                                self.send(conn, Packet::PubRec(Ack::new(id)))
                            }
                            _ => {}
                        }
                        got.push(p);
                    }
                    Packet::PubRel(rel) => {
                        self.send(conn, Packet::PubComp(Ack::new(rel.packet_id)))
                    }
                    _ => {}
                }
            }
        }
    }

    /// `conn` got a DISCONNECT with `code` as its last packet and was closed.
    pub(crate) fn expect_disconnect(&mut self, conn: ConnId, code: ReasonCode) {
        let got = self.take(conn);
        match got.last() {
            Some(Packet::Disconnect(d)) => assert_eq!(d.reason_code, code, "{got:?}"),
            _ => panic!("no DISCONNECT {code:?} last: {got:?}"),
        }
        assert!(self.is_closed(conn), "DISCONNECT {code:?} without a close");
    }

    /// Removes from `conn`'s inbox the first packet `pick` accepts.
    fn take_ack(&mut self, conn: ConnId, pick: impl Fn(&Packet) -> Option<Ack>) -> Ack {
        let mut sent = self.take(conn);
        let Some(i) = sent.iter().position(|p| pick(p).is_some()) else {
            panic!("no acknowledgement to {conn}: {sent:?}")
        };
        let ack = pick(&sent.remove(i)).expect("picked");
        self.put_back(conn, sent);
        ack
    }
}
