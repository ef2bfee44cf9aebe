//! The core's log lines, captured: tests that check what the broker says
//! (`hints.rs`, `violations.rs`) include this file with `#[path]`. It is not
//! part of `support/mod.rs`, so the fuzz target that includes the harness
//! needs no `tracing-subscriber`.

use std::sync::{Arc, Mutex};

/// The log lines (INFO and above) `f` emits, without time or target.
pub(crate) fn logged(f: impl FnOnce()) -> Vec<String> {
    #[derive(Clone)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf(Arc::default());
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_target(false)
        .without_time()
        .with_max_level(tracing::Level::INFO)
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    text.lines().map(str::to_string).collect()
}
