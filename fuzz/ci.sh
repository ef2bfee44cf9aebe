#!/usr/bin/env bash
# Fuzz smoke test for CI: replays the committed corpus and saved crash inputs
# of the `decode` target, then fuzzes for a short while more; then the same,
# more briefly, for `core_events` (the broker core under arbitrary event
# sequences).
#
# Works on stable Rust (libFuzzer without a sanitizer). The fuzzer writes new
# inputs to a temporary copy of the corpus, so tracked files never change.
# Exits non-zero if any input crashes the target; the crashing input is
# left in fuzz/artifacts/<target>/ and its path printed.
#
# Usage: fuzz/ci.sh [SECONDS [CORE_SECONDS]]   (defaults 30 and 15: 45 s in all)
set -euo pipefail

seconds="${1:-${FUZZ_SECONDS:-30}}"
core_seconds="${2:-${CORE_FUZZ_SECONDS:-15}}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz/ci.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# libfuzzer-sys compiles libFuzzer itself, which needs a C++ compiler.
if ! command -v c++ >/dev/null 2>&1 && ! command -v g++ >/dev/null 2>&1 \
    && ! command -v clang++ >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    echo "fuzz/ci.sh: installing a C++ compiler"
    sudo_prefix=""
    [ "$(id -u)" -eq 0 ] || sudo_prefix="sudo"
    $sudo_prefix apt-get install -y -q --no-install-recommends g++ >/dev/null
fi

cargo fuzz build --sanitizer none decode
cargo fuzz build --sanitizer none core_events

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# One target: every saved crash input must now pass (libFuzzer runs the
# files given and exits non-zero on the first crash), then the corpus and
# fresh fuzzing from it (libFuzzer first runs every corpus file, so a corpus
# regression fails here too).
fuzz_target() {
    local target="$1" secs="$2"
    mkdir -p "$work/$target"
    cp -R "fuzz/corpus/$target/." "$work/$target/"
    if compgen -G "fuzz/regressions/$target/*" >/dev/null; then
        echo "fuzz/ci.sh: replaying fuzz/regressions/$target"
        cargo fuzz run --sanitizer none "$target" "fuzz/regressions/$target"/*
    fi
    echo "fuzz/ci.sh: fuzzing $target for ${secs}s from $(ls "$work/$target" | wc -l) corpus files"
    cargo fuzz run --sanitizer none "$target" "$work/$target" -- \
        -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
}

fuzz_target decode "$seconds"
fuzz_target core_events "$core_seconds"

echo "fuzz/ci.sh: no crash"
