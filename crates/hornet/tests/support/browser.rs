//! Where the headless-browser tests find their tools: Debian's Chromium,
//! the `tests/browser` scripts with playwright-core, and the screenshot
//! directory (`target/artifacts/`). Locally a test is skipped (saying so)
//! without them; in CI (`CI` set) they must be there: `.ci/run` installs both.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

/// `crates/hornet/tests/browser`: the scripts and their `node_modules`.
pub fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// `$CHROMIUM`, else `/usr/bin/chromium`.
pub fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// `target/artifacts/`, created.
pub fn shots_dir() -> PathBuf {
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/artifacts");
    std::fs::create_dir_all(&shots).unwrap();
    shots
}

/// Whether Chromium and playwright-core are installed; outside CI a
/// missing one prints why and returns false, in CI it fails the test.
pub fn ready() -> bool {
    let missing: Vec<&str> = [
        (!chromium().exists()).then_some("chromium (apt-get install chromium)"),
        (!browser_dir().join("node_modules/playwright-core").exists())
            .then_some("playwright-core (npm ci --prefix crates/hornet/tests/browser)"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "browser test prerequisites missing in CI: {missing:?} (see .ci/run)"
    );
    eprintln!("SKIPPED: missing {missing:?}");
    false
}
