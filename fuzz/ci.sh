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
mkdir -p "$work/corpus"
cp -R fuzz/corpus/decode/. "$work/corpus/"

# 1. Every saved crash input must now pass (libFuzzer runs the files given
#    and exits non-zero on the first crash).
if compgen -G "fuzz/regressions/decode/*" >/dev/null; then
    echo "fuzz/ci.sh: replaying fuzz/regressions/decode"
    cargo fuzz run --sanitizer none decode fuzz/regressions/decode/*
fi

# 2. The corpus, then fresh fuzzing from it. libFuzzer first runs every
#    corpus file, so a corpus regression fails here too.
echo "fuzz/ci.sh: fuzzing for ${seconds}s from $(ls "$work/corpus" | wc -l) corpus files"
cargo fuzz run --sanitizer none decode "$work/corpus" -- \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048

# 3. core_events: its corpus and regressions, then fresh fuzzing.
mkdir -p "$work/core_corpus"
cp -R fuzz/corpus/core_events/. "$work/core_corpus/"
if compgen -G "fuzz/regressions/core_events/*" >/dev/null; then
    echo "fuzz/ci.sh: replaying fuzz/regressions/core_events"
    cargo fuzz run --sanitizer none core_events fuzz/regressions/core_events/*
fi
echo "fuzz/ci.sh: fuzzing core_events for ${core_seconds}s from $(ls "$work/core_corpus" | wc -l) corpus files"
cargo fuzz run --sanitizer none core_events "$work/core_corpus" -- \
    -max_total_time="$core_seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048

echo "fuzz/ci.sh: no crash"
