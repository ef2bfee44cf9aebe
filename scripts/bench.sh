#!/usr/bin/env bash
# bench.sh: build Hornet and the benchmark harness in release mode, then run
# `hornet-bench compare` with the arguments given (see docs/benchmarks.md).
#
#   scripts/bench.sh                               # full comparison, ~10-15 min
#   scripts/bench.sh --docs docs/benchmarks.md     # and refresh the docs
#   scripts/bench.sh --smoke                       # every entry once, ~1 min
#
# The peers (rumqttd, RMQTT) are built by compare on first use into
# target/peers; scripts/peers.sh builds them ahead of time. --smoke never
# builds them and runs them only if they are there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release -p hornet -p hornet-bench
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
exec "${target_dir:-target}/release/hornet-bench" compare "$@"
