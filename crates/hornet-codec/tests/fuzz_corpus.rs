//! Replays the fuzz corpus and the saved crash inputs of the `decode` fuzz
//! target (`fuzz/corpus/decode/` and `fuzz/regressions/decode/` at the root
//! of the repository) through [`hornet_codec::fuzzing::decode_stream`], so
//! that every input the fuzzer ever found interesting is checked by plain
//! `cargo test`, without cargo-fuzz or a nightly toolchain.

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `dir`, sorted; none if it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("read corpus directory").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(files: &[PathBuf]) {
    for path in files {
        let data = std::fs::read(path).expect("read corpus file");
        let outcome = std::panic::catch_unwind(|| hornet_codec::fuzzing::decode_stream(&data));
        assert!(
            outcome.is_ok(),
            "decode_stream panicked on {}",
            path.display()
        );
    }
}

#[test]
fn corpus_replays_without_panic() {
    let corpus = files(&fuzz_dir().join("corpus/decode"));
    assert!(
        corpus.len() >= 50,
        "expected the committed fuzz corpus, found {} files",
        corpus.len()
    );
    replay(&corpus);
}

#[test]
fn regressions_replay_without_panic() {
    // Empty until the fuzzer finds a crash; each fixed crash input lands here.
    replay(&files(&fuzz_dir().join("regressions/decode")));
}
