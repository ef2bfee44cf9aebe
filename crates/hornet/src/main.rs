//! The `hornet` binary.
//!
//! The broker itself is not built yet: this release holds the MQTT codec
//! (`crates/hornet-codec`). Until the broker lands, the binary says so
//! plainly instead of pretending to serve.

use std::process::ExitCode;

fn main() -> ExitCode {
    let version = env!("CARGO_PKG_VERSION");
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("--version" | "-V") => {
            println!("hornet {version}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("hornet {version}: the MQTT broker is not built yet.");
            eprintln!(
                "This build contains the MQTT 3.1 / 3.1.1 / 5.0 packet codec (crates/hornet-codec)"
            );
            eprintln!(
                "and its tests; the broker (TCP on port 1883, sessions, routing) comes next."
            );
            eprintln!("Run the tests with: cargo test --workspace");
            ExitCode::from(2)
        }
    }
}
