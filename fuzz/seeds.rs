//! Writes the seed corpus of the `decode` fuzz target: valid encodings of
//! every packet type for MQTT 3.1, 3.1.1 and 5.0, alone and as whole
//! conversations (CONNECT first, as the server-side decoder requires), plus a
//! few hand-made frames the encoder never produces.
//!
//! Every seed starts with one byte that `decode_stream` turns into the size of
//! the chunks it feeds the decoders.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example seeds [OUT_DIR]
//! ```
//!
//! `OUT_DIR` defaults to `fuzz/corpus/decode`. File names start with `seed-`
//! and are stable, so running it again overwrites rather than duplicates.

use std::num::NonZeroU16;
use std::path::PathBuf;

use hornet_codec::bytes::{Bytes, BytesMut};
use hornet_codec::{
    Ack, Auth, ConnAck, Connect, Decoder, Disconnect, LastWill, Packet, Properties, Property,
    Protocol, Publish, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, SubscribeFilter,
    SubscriptionOptions, UnsubAck, Unsubscribe,
};

fn pid(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).expect("non-zero packet id")
}

fn user(k: &str, v: &str) -> Property {
    Property::UserProperty(k.into(), v.into())
}

fn version_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::V3_1 => "v31",
        Protocol::V3_1_1 => "v311",
        Protocol::V5 => "v5",
    }
}

/// CONNECT packets: minimal, with a will and credentials, and (for 5.0)
/// with every CONNECT and will property.
fn connects(protocol: Protocol) -> Vec<(&'static str, Connect)> {
    let mut out = vec![("connect-min", Connect::new(protocol, "c"))];

    let mut full = Connect::new(protocol, "sensor-42");
    full.clean_start = false;
    full.keep_alive = 300;
    full.username = Some("alice".into());
    full.password = Some(Bytes::from_static(b"s3cr\xffet"));
    let mut will_props = Properties::new();
    if protocol.is_v5() {
        full.properties = Properties::from(vec![
            Property::SessionExpiryInterval(3600),
            Property::ReceiveMaximum(100),
            Property::MaximumPacketSize(1 << 20),
            Property::TopicAliasMaximum(16),
            Property::RequestResponseInformation(1),
            Property::RequestProblemInformation(0),
            user("region", "eu"),
            user("region", "us"),
            Property::AuthenticationMethod("SCRAM-SHA-256".into()),
            Property::AuthenticationData(Bytes::from_static(b"n,,n=user,r=nonce")),
        ]);
        will_props = Properties::from(vec![
            Property::WillDelayInterval(30),
            Property::PayloadFormatIndicator(1),
            Property::MessageExpiryInterval(600),
            Property::ContentType("text/plain".into()),
            Property::ResponseTopic("status/reply".into()),
            Property::CorrelationData(Bytes::from_static(b"\x00\x01corr")),
            user("why", "power loss"),
        ]);
    }
    full.will = Some(LastWill {
        topic: "status/sensor-42".into(),
        payload: Bytes::from_static(b"offline"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: will_props,
    });
    out.push(("connect-full", full));

    let mut empty_id = Connect::new(protocol, "");
    empty_id.keep_alive = 0;
    empty_id.will = Some(LastWill {
        topic: "a".into(),
        payload: Bytes::new(),
        qos: QoS::ExactlyOnce,
        retain: false,
        properties: Properties::new(),
    });
    empty_id.username = Some("".into());
    out.push(("connect-will-qos2", empty_id));

    if protocol.is_v5() {
        // MQTT 5 allows a password without a user name.
        let mut pw_only = Connect::new(protocol, "pw-only");
        pw_only.password = Some(Bytes::from_static(b"token"));
        out.push(("connect-password-only", pw_only));
    }
    out
}

/// Every packet but CONNECT, in an order a session could plausibly see.
fn packets(protocol: Protocol) -> Vec<(&'static str, Packet)> {
    let v5 = protocol.is_v5();
    let mut out: Vec<(&'static str, Packet)> = Vec::new();

    // CONNACK
    out.push((
        "connack-ok",
        ConnAck::new(ReasonCode::Success, protocol != Protocol::V3_1).into(),
    ));
    out.push((
        "connack-refused",
        ConnAck::new(ReasonCode::NotAuthorized, false).into(),
    ));
    if v5 {
        let mut c = ConnAck::new(ReasonCode::Success, false);
        c.properties = Properties::from(vec![
            Property::SessionExpiryInterval(0),
            Property::AssignedClientIdentifier("auto-1234".into()),
            Property::ServerKeepAlive(30),
            Property::ReceiveMaximum(20),
            Property::TopicAliasMaximum(10),
            Property::MaximumQos(1),
            Property::RetainAvailable(0),
            Property::MaximumPacketSize(65536),
            Property::WildcardSubscriptionAvailable(1),
            Property::SubscriptionIdentifierAvailable(1),
            Property::SharedSubscriptionAvailable(0),
            Property::ResponseInformation("resp/".into()),
            Property::ServerReference("other:1883".into()),
            Property::ReasonString("welcome".into()),
            Property::AuthenticationMethod("SCRAM-SHA-256".into()),
            Property::AuthenticationData(Bytes::from_static(b"server-final")),
            user("k", "v"),
        ]);
        out.push(("connack-props", c.into()));
        let mut moved = ConnAck::new(ReasonCode::ServerMoved, false);
        moved.properties = Properties::from(vec![Property::ServerReference("b:1883".into())]);
        out.push(("connack-moved", moved.into()));
    }

    // SUBSCRIBE
    let mut sub = Subscribe::new(pid(1), "home/+/temp", QoS::AtLeastOnce);
    sub.filters.push(SubscribeFilter {
        filter: "alerts/#".into(),
        options: SubscriptionOptions::qos(QoS::ExactlyOnce),
    });
    sub.filters.push(SubscribeFilter {
        filter: "#".into(),
        options: SubscriptionOptions::qos(QoS::AtMostOnce),
    });
    if v5 {
        sub.filters.push(SubscribeFilter {
            filter: "$share/group/jobs/+".into(),
            options: SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                no_local: false,
                retain_as_published: true,
                retain_handling: RetainHandling::Never,
            },
        });
        sub.filters.push(SubscribeFilter {
            filter: "chat/room".into(),
            options: SubscriptionOptions {
                qos: QoS::ExactlyOnce,
                no_local: true,
                retain_as_published: false,
                retain_handling: RetainHandling::OnNewSubscribe,
            },
        });
        sub.properties = Properties::from(vec![
            Property::SubscriptionIdentifier(268_435_455),
            user("a", "b"),
        ]);
    }
    out.push(("subscribe", sub.into()));

    // SUBACK
    let mut codes = vec![
        ReasonCode::GrantedQos1,
        ReasonCode::GrantedQos2,
        ReasonCode::GRANTED_QOS_0,
    ];
    if v5 {
        codes.push(ReasonCode::SharedSubscriptionsNotSupported);
        codes.push(ReasonCode::NotAuthorized);
    } else {
        codes.push(ReasonCode::UnspecifiedError);
    }
    let mut suback = SubAck {
        packet_id: pid(1),
        properties: Properties::new(),
        reason_codes: codes,
    };
    if v5 {
        suback.properties = Properties::from(vec![
            Property::ReasonString("partly".into()),
            user("x", "y"),
        ]);
    }
    out.push(("suback", suback.into()));

    // PUBLISH at each QoS.
    out.push((
        "publish-qos0",
        Publish::new("home/kitchen/temp", "21.5").into(),
    ));
    let mut p1 = Publish::new("a/b", Bytes::from_static(b"\x00\x01\x02\xff"));
    p1.qos = QoS::AtLeastOnce;
    p1.packet_id = Some(pid(10));
    p1.dup = true;
    out.push(("publish-qos1-dup", p1.into()));
    let mut p2 = Publish::new("$SYS/uptime", Bytes::new());
    p2.qos = QoS::ExactlyOnce;
    p2.packet_id = Some(pid(65535));
    p2.retain = true;
    out.push(("publish-qos2-retain", p2.into()));
    let mut big = Publish::new("bulk/data", vec![0x5a; 300]);
    big.qos = QoS::AtLeastOnce;
    big.packet_id = Some(pid(11));
    out.push(("publish-300b", big.into()));
    if v5 {
        let mut p = Publish::new("req/x", "{\"q\":1}");
        p.qos = QoS::AtLeastOnce;
        p.packet_id = Some(pid(12));
        p.properties = Properties::from(vec![
            Property::PayloadFormatIndicator(1),
            Property::MessageExpiryInterval(60),
            Property::TopicAlias(3),
            Property::ResponseTopic("resp/x".into()),
            Property::CorrelationData(Bytes::from_static(b"id-7")),
            user("trace", "abc"),
            Property::SubscriptionIdentifier(1),
            Property::SubscriptionIdentifier(200),
            Property::ContentType("application/json".into()),
        ]);
        out.push(("publish-props", p.into()));
        let mut alias = Publish::new("", "via alias");
        alias.properties = Properties::from(vec![Property::TopicAlias(3)]);
        out.push(("publish-alias", alias.into()));
    }

    // The QoS 1 and QoS 2 acknowledgements.
    out.push(("puback", Packet::PubAck(Ack::new(pid(10)))));
    out.push(("pubrec", Packet::PubRec(Ack::new(pid(65535)))));
    out.push(("pubrel", Packet::PubRel(Ack::new(pid(65535)))));
    out.push(("pubcomp", Packet::PubComp(Ack::new(pid(65535)))));
    if v5 {
        out.push((
            "puback-reason",
            Packet::PubAck(Ack::with_reason(pid(12), ReasonCode::NoMatchingSubscribers)),
        ));
        let mut rec = Ack::with_reason(pid(13), ReasonCode::QuotaExceeded);
        rec.properties = Properties::from(vec![
            Property::ReasonString("slow down".into()),
            user("q", "1"),
        ]);
        out.push(("pubrec-props", Packet::PubRec(rec)));
        let mut rel = Ack::with_reason(pid(13), ReasonCode::PacketIdentifierNotFound);
        rel.properties = Properties::from(vec![Property::ReasonString("gone".into())]);
        out.push(("pubrel-props", Packet::PubRel(rel)));
        let mut comp = Ack::new(pid(13));
        comp.properties = Properties::from(vec![user("done", "yes")]);
        out.push(("pubcomp-props", Packet::PubComp(comp)));
    }

    // UNSUBSCRIBE and UNSUBACK
    let mut unsub = Unsubscribe::new(pid(2), "home/+/temp");
    unsub.filters.push("alerts/#".into());
    if v5 {
        unsub.filters.push("$share/group/jobs/+".into());
        unsub.properties = Properties::from(vec![user("u", "v")]);
    }
    out.push(("unsubscribe", unsub.into()));
    let mut unsuback = UnsubAck {
        packet_id: pid(2),
        properties: Properties::new(),
        reason_codes: Vec::new(),
    };
    if v5 {
        unsuback.reason_codes = vec![
            ReasonCode::Success,
            ReasonCode::NoSubscriptionExisted,
            ReasonCode::NotAuthorized,
        ];
        unsuback.properties = Properties::from(vec![Property::ReasonString("ok".into())]);
    }
    out.push(("unsuback", unsuback.into()));

    out.push(("pingreq", Packet::PingReq));
    out.push(("pingresp", Packet::PingResp));

    if v5 {
        // AUTH exchange.
        let mut auth = Auth {
            reason_code: ReasonCode::ContinueAuthentication,
            properties: Properties::new(),
        };
        auth.properties = Properties::from(vec![
            Property::AuthenticationMethod("SCRAM-SHA-256".into()),
            Property::AuthenticationData(Bytes::from_static(b"c=biws,r=nonce")),
            Property::ReasonString("step 2".into()),
            user("a", "b"),
        ]);
        out.push(("auth-continue", auth.into()));
        out.push((
            "auth-reauth",
            Auth {
                reason_code: ReasonCode::ReAuthenticate,
                properties: Properties::new(),
            }
            .into(),
        ));
        out.push((
            "auth-success",
            Auth {
                reason_code: ReasonCode::Success,
                properties: Properties::new(),
            }
            .into(),
        ));
        let mut d = Disconnect::new(ReasonCode::DisconnectWithWillMessage);
        d.properties = Properties::from(vec![
            Property::SessionExpiryInterval(0),
            Property::ReasonString("bye".into()),
            Property::ServerReference("c:1883".into()),
            user("k", "v"),
        ]);
        out.push(("disconnect-props", d.into()));
        out.push((
            "disconnect-reason",
            Disconnect::new(ReasonCode::SessionTakenOver).into(),
        ));
    }
    out.push((
        "disconnect",
        Disconnect::new(ReasonCode::NORMAL_DISCONNECTION).into(),
    ));
    out
}

fn encode(packet: &Packet, protocol: Protocol, out: &mut BytesMut) {
    packet
        .encode(protocol, out)
        .unwrap_or_else(|e| panic!("encoding {packet:?} for {protocol:?}: {e}"));
}

/// Decodes `wire` with a fresh decoder (server side when `server`) and
/// checks it holds exactly `expected` packets, none refused.
fn check(wire: &[u8], protocol: Protocol, server: bool, expected: usize, name: &str) {
    let mut decoder = if server {
        Decoder::new()
    } else {
        Decoder::with_protocol(protocol)
    };
    let mut buf = BytesMut::from(wire);
    let mut n = 0;
    while let Some(packet) = decoder
        .decode(&mut buf)
        .unwrap_or_else(|e| panic!("seed {name}: {e}"))
    {
        hornet_codec::fuzzing::check_round_trip(&packet, decoder.protocol().unwrap());
        n += 1;
    }
    assert!(buf.is_empty(), "seed {name}: trailing bytes");
    assert_eq!(n, expected, "seed {name}: packet count");
}

struct Writer {
    dir: PathBuf,
    count: usize,
}

impl Writer {
    fn write(&mut self, name: &str, chunk_seed: u8, wire: &[u8]) {
        let mut data = Vec::with_capacity(wire.len() + 1);
        data.push(chunk_seed);
        data.extend_from_slice(wire);
        hornet_codec::fuzzing::decode_stream(&data);
        std::fs::write(self.dir.join(format!("seed-{name}")), data).expect("write seed");
        self.count += 1;
    }
}

fn main() {
    let dir = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/decode"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).expect("create corpus directory");
    let mut w = Writer { dir, count: 0 };
    // Chunk seeds: 63 feeds 64 bytes at a time, 0 one byte at a time, 6 seven.
    const WHOLE: u8 = 63;

    for protocol in Protocol::ALL {
        let v = version_name(protocol);
        let connects = connects(protocol);
        let packets = packets(protocol);

        // Each packet alone, for the decoders that already know the version.
        for (name, connect) in &connects {
            let mut wire = BytesMut::new();
            encode(&Packet::from(connect.clone()), protocol, &mut wire);
            check(&wire, protocol, true, 1, name);
            w.write(&format!("{v}-{name}"), WHOLE, &wire);
        }
        for (name, packet) in &packets {
            let mut wire = BytesMut::new();
            encode(packet, protocol, &mut wire);
            check(&wire, protocol, false, 1, name);
            w.write(&format!("{v}-{name}"), WHOLE, &wire);
        }

        // Whole conversations, CONNECT first, for the server-side decoder.
        for (i, (name, connect)) in connects.iter().enumerate() {
            let mut wire = BytesMut::new();
            encode(&Packet::from(connect.clone()), protocol, &mut wire);
            for (_, packet) in &packets {
                encode(packet, protocol, &mut wire);
            }
            let conv = format!("{v}-conversation-{name}");
            check(&wire, protocol, true, 1 + packets.len(), &conv);
            let chunk_seed = [WHOLE, 0, 6, 17][i % 4];
            w.write(&conv, chunk_seed, &wire);
        }

        // A short client session: CONNECT, SUBSCRIBE, PUBLISH, PINGREQ, DISCONNECT.
        let mut wire = BytesMut::new();
        encode(&Packet::from(connects[0].1.clone()), protocol, &mut wire);
        for wanted in ["subscribe", "publish-qos1-dup", "pingreq", "disconnect"] {
            let (_, packet) = packets.iter().find(|(n, _)| *n == wanted).unwrap();
            encode(packet, protocol, &mut wire);
        }
        check(&wire, protocol, true, 5, "session");
        w.write(&format!("{v}-session"), 2, &wire);

        // A PUBLISH whose Remaining Length takes three bytes (within the
        // 64 KiB limit decode_stream sets).
        let mut wire = BytesMut::new();
        encode(&Packet::from(connects[0].1.clone()), protocol, &mut wire);
        let mut p = Publish::new("bulk", vec![0xa5; 20_000]);
        p.qos = QoS::AtLeastOnce;
        p.packet_id = Some(pid(7));
        encode(&p.into(), protocol, &mut wire);
        check(&wire, protocol, true, 2, "publish-20k");
        w.write(&format!("{v}-publish-20k"), WHOLE, &wire);
    }

    // Hand-made frames the encoder does not produce.
    // MQTT 3.1 clients set DUP on a resent SUBSCRIBE, UNSUBSCRIBE and PUBREL.
    let v31 = [
        &[
            0x10, 0x10, 0, 6, b'M', b'Q', b'I', b's', b'd', b'p', 3, 0x02, 0, 60, 0, 2, b'c', b'1',
        ][..],
        &[0x8a, 0x08, 0, 5, 0, 3, b'a', b'/', b'b', 1][..],
        &[0xaa, 0x07, 0, 6, 0, 3, b'a', b'/', b'b'][..],
        &[0x6a, 0x02, 0, 5][..],
    ]
    .concat();
    check(&v31, Protocol::V3_1, true, 4, "v31-dup-flags");
    w.write("v31-dup-flags", WHOLE, &v31);
    // MQTT 5 acknowledgements of 3 and 4 bytes: a reason code without
    // properties, and an empty property list.
    let v5_acks = [
        &[
            0x10, 0x0d, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 60, 0, 0, 0,
        ][..],
        &[0x40, 0x03, 0, 1, 0x10][..],
        &[0x50, 0x04, 0, 1, 0x80, 0][..],
        &[0x62, 0x04, 0, 1, 0x92, 0][..],
        &[0x70, 0x03, 0, 1, 0x00][..],
        &[0xe0, 0x01, 0x8e][..],
        &[0xe0, 0x02, 0x00, 0x00][..],
        &[0xf0, 0x01, 0x19][..],
        &[0xf0, 0x02, 0x18, 0x00][..],
    ]
    .concat();
    check(&v5_acks, Protocol::V5, true, 9, "v5-short-acks");
    w.write("v5-short-acks", WHOLE, &v5_acks);
    // A multi-byte property identifier (must be refused, not misread).
    w.write(
        "v5-bad-property-id",
        WHOLE,
        &[
            0x10, 0x0f, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 60, 2, 0x91, 0x00, 0, 0,
        ],
    );
    // A Remaining Length of five bytes and one that is not minimal.
    w.write(
        "varint-too-long",
        WHOLE,
        &[0x30, 0xff, 0xff, 0xff, 0xff, 0x7f],
    );
    w.write("varint-not-minimal", WHOLE, &[0xc0, 0x80, 0x00]);

    println!("wrote {} seeds to {}", w.count, w.dir.display());
}
