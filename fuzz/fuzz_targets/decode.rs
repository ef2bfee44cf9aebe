//! Feeds arbitrary bytes to the MQTT decoders of every protocol version, in
//! chunks, and checks that every packet they accept round-trips
//! (see `hornet_codec::fuzzing::decode_stream`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hornet_codec::fuzzing::decode_stream(data);
});
