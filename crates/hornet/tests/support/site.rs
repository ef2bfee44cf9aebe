//! A data directory and a port that outlive the `hornet` processes run on
//! them (restart and crash-style tests: `restart.rs`, `nodered.rs`).
//! Included with `#[path]` beside `mod common;` and `mod process;`.
#![allow(dead_code)] // each test file uses part of it

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::process::Proc;

/// A broker's home: `hornet.conf` (loopback listener, anonymous clients,
/// persistence in `data/`, no admin listener, no `$SYS`) and its port.
pub(crate) struct Site {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) port: u16,
}

impl Site {
    pub(crate) fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let port = crate::common::free_port();
        std::fs::write(
            dir.path().join("hornet.conf"),
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
                 persistence_location {}\nadmin_enabled false\nsys_interval 0\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        Site { dir, port }
    }

    pub(crate) fn conf(&self) -> PathBuf {
        self.dir.path().join("hornet.conf")
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// Starts the binary and waits for its listener.
    pub(crate) fn start(&self) -> Proc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hornet"));
        cmd.arg("-c").arg(self.conf()).current_dir(self.dir.path());
        let mut proc = Proc::spawn("hornet", &mut cmd, "cargo build -p hornet");
        proc.wait_line(Duration::from_secs(20), "the listener", |l| {
            l.contains("Opening MQTT listener")
        });
        proc
    }
}
