//! Codec benchmarks: decode and encode of the hot packet (PUBLISH, 64 B and
//! 16 KiB payloads, MQTT 3.1.1 and 5.0) and of a property-heavy MQTT 5.0
//! CONNECT.
//!
//! Decode benches time [`Decoder::decode`] alone: each iteration gets a fresh
//! copy of the encoded frame, made outside the timed region. Encode benches
//! time [`Packet::encode`] into a buffer that is cleared, not reallocated.
//! PUBLISH groups report bytes/s, the CONNECT and stream groups packets/s.
//!
//! ```text
//! cargo bench -p hornet-codec --bench codec -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::num::NonZeroU16;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use hornet_codec::{
    Connect, Decoder, LastWill, Packet, Properties, Property, Protocol, Publish, QoS,
};

const PAYLOADS: [(&str, usize); 2] = [("64B", 64), ("16KiB", 16 * 1024)];
const VERSIONS: [(&str, Protocol); 2] = [("v3.1.1", Protocol::V3_1_1), ("v5", Protocol::V5)];

/// A QoS 1 PUBLISH; for MQTT 5 with a Message Expiry Interval, a Content
/// Type and a User Property.
fn publish(protocol: Protocol, payload_len: usize) -> Packet {
    let mut p = Publish::new(
        "sensors/building-7/floor-3/temperature",
        vec![0xa5; payload_len],
    );
    p.qos = QoS::AtLeastOnce;
    p.packet_id = NonZeroU16::new(4242);
    if protocol.is_v5() {
        p.properties = Properties::from(vec![
            Property::MessageExpiryInterval(3600),
            Property::ContentType("application/octet-stream".into()),
            Property::UserProperty("trace-id".into(), "4bf92f3577b34da6".into()),
        ]);
    }
    p.into()
}

/// An MQTT 5 CONNECT carrying most of what one can: CONNECT properties with
/// user properties and enhanced authentication, a will with properties, and
/// credentials.
fn connect_v5() -> Packet {
    let mut c = Connect::new(Protocol::V5, "device-0f3a9c2e-7d41-4b8a-9e6f");
    c.clean_start = false;
    c.keep_alive = 120;
    let mut props = vec![
        Property::SessionExpiryInterval(86_400),
        Property::ReceiveMaximum(64),
        Property::MaximumPacketSize(1 << 20),
        Property::TopicAliasMaximum(32),
        Property::RequestResponseInformation(1),
        Property::RequestProblemInformation(1),
    ];
    for (k, v) in [
        ("fw", "2.4.1"),
        ("model", "TH-200"),
        ("site", "plant-7"),
        ("tenant", "acme"),
        ("region", "eu-west"),
    ] {
        props.push(Property::UserProperty(k.into(), v.into()));
    }
    props.push(Property::AuthenticationMethod("SCRAM-SHA-256".into()));
    props.push(Property::AuthenticationData(Bytes::from_static(
        b"n,,n=device-0f3a9c2e,r=fyko+d2lbbFgONRv9qkxdawL",
    )));
    c.properties = Properties::from(props);
    c.will = Some(LastWill {
        topic: "devices/device-0f3a9c2e/status".into(),
        payload: Bytes::from_static(b"{\"online\":false}"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: Properties::from(vec![
            Property::WillDelayInterval(10),
            Property::PayloadFormatIndicator(1),
            Property::MessageExpiryInterval(3600),
            Property::ContentType("application/json".into()),
            Property::ResponseTopic("devices/device-0f3a9c2e/ack".into()),
            Property::CorrelationData(Bytes::from_static(b"will-0001")),
            Property::UserProperty("reason".into(), "unexpected".into()),
        ]),
    });
    c.username = Some("device-0f3a9c2e".into());
    c.password = Some(Bytes::from_static(b"eyJhbGciOiJIUzI1NiJ9.e30.sig"));
    c.into()
}

fn encoded(packet: &Packet, protocol: Protocol) -> BytesMut {
    let mut buf = BytesMut::new();
    packet.encode(protocol, &mut buf).expect("encodes");
    buf
}

/// Checks that `wire` decodes to `packet`, so the benches time real work.
fn assert_decodes(wire: &BytesMut, protocol: Protocol, packet: &Packet) {
    let mut buf = wire.clone();
    let decoded = Decoder::with_protocol(protocol)
        .decode(&mut buf)
        .expect("decodes")
        .expect("whole packet");
    assert_eq!(&decoded, packet);
    assert!(buf.is_empty());
}

fn publish_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish_decode");
    for (version, protocol) in VERSIONS {
        for (size, len) in PAYLOADS {
            let packet = publish(protocol, len);
            let wire = encoded(&packet, protocol);
            assert_decodes(&wire, protocol, &packet);
            group.throughput(Throughput::Bytes(wire.len() as u64));
            let mut decoder = Decoder::with_protocol(protocol);
            group.bench_function(format!("{version}/{size}"), |b| {
                b.iter_batched(
                    || wire.clone(),
                    // Hand the buffer back so it is dropped outside the timing.
                    |mut buf| (decoder.decode(black_box(&mut buf)), buf),
                    BatchSize::SmallInput,
                )
            });
        }
    }
    group.finish();
}

fn publish_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish_encode");
    for (version, protocol) in VERSIONS {
        for (size, len) in PAYLOADS {
            let packet = publish(protocol, len);
            let wire_len = packet.encoded_len(protocol).expect("encodes");
            group.throughput(Throughput::Bytes(wire_len as u64));
            let mut out = BytesMut::with_capacity(wire_len);
            group.bench_function(format!("{version}/{size}"), |b| {
                b.iter(|| {
                    out.clear();
                    black_box(&packet)
                        .encode(protocol, &mut out)
                        .expect("encodes");
                    black_box(out.len())
                })
            });
        }
    }
    group.finish();
}

/// Many small PUBLISH packets back to back in one buffer, as a busy
/// connection's read buffer holds them: packets/s of the whole decode loop.
fn publish_stream_decode(c: &mut Criterion) {
    const COUNT: usize = 100;
    let mut group = c.benchmark_group("publish_stream_decode");
    group.throughput(Throughput::Elements(COUNT as u64));
    for (version, protocol) in VERSIONS {
        let packet = publish(protocol, 64);
        let mut wire = BytesMut::new();
        for _ in 0..COUNT {
            packet.encode(protocol, &mut wire).expect("encodes");
        }
        let mut decoder = Decoder::with_protocol(protocol);
        group.bench_function(format!("{version}/64Bx{COUNT}"), |b| {
            b.iter_batched(
                || wire.clone(),
                |mut buf| {
                    let mut n = 0;
                    while let Some(p) = decoder.decode(&mut buf).expect("decodes") {
                        black_box(p);
                        n += 1;
                    }
                    assert_eq!(n, COUNT);
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn connect(c: &mut Criterion) {
    let packet = connect_v5();
    let wire = encoded(&packet, Protocol::V5);
    // The server-side decoder: no protocol until the CONNECT says which.
    let mut check = wire.clone();
    let decoded = Decoder::new().decode(&mut check).expect("decodes");
    assert_eq!(decoded.as_ref(), Some(&packet));

    let mut group = c.benchmark_group("connect_v5");
    group.throughput(Throughput::Elements(1));
    group.bench_function(format!("decode/{}B", wire.len()), |b| {
        b.iter_batched(
            || (Decoder::new(), wire.clone()),
            |(mut decoder, mut buf)| (decoder.decode(black_box(&mut buf)), buf),
            BatchSize::SmallInput,
        )
    });
    let mut out = BytesMut::with_capacity(wire.len());
    group.bench_function(format!("encode/{}B", wire.len()), |b| {
        b.iter(|| {
            out.clear();
            black_box(&packet)
                .encode(Protocol::V5, &mut out)
                .expect("encodes");
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    publish_decode,
    publish_encode,
    publish_stream_decode,
    connect
);
criterion_main!(benches);
