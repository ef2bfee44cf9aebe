#!/usr/bin/env bash
# The tests, on a fresh Debian machine: installs what they need, then runs
# `cargo test --workspace`. README.md's test command; .ci/run calls it too.
#
#   bash scripts/test.sh          install what the tests need, then run them
#   bash scripts/test.sh deps     only install
#   bash scripts/test.sh run      only run (everything already installed)
#
# It installs (apt-get, with sudo unless root): libssl-dev and pkg-config
# (TLS-PSK listeners use OpenSSL), openssl (certificates made in tests),
# mosquitto and mosquitto-clients (interoperability tests), argon2,
# chromium (the dashboard test), etcd-server (the cluster tests run a real
# etcd) and etcd-client (its etcdctl reads the client-id keys in
# crates/hornet/tests/cluster_sessions.rs), protobuf-compiler and libprotobuf-dev (the etcd-client crate
# compiles etcd's .proto files), iproute2 and nftables (the partition tests
# make network namespaces and cut links in them), nodejs and npm; with pip: paho-mqtt and
# schemathesis; with npm, from their lockfiles: MQTT.js
# (crates/hornet/tests/clients), playwright-core (crates/hornet/tests/browser)
# and Node-RED 5 with the Node 22 it needs (crates/hornet/tests/nodered).
set -euo pipefail
cd "$(dirname "$0")/.."

what="${1:-all}"

deps() {
  if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    local apt_prefix=""
    [ "$(id -u)" -eq 0 ] || apt_prefix="sudo"
    $apt_prefix apt-get update -q
    $apt_prefix apt-get install -y -q --no-install-recommends \
      make libssl-dev pkg-config openssl mosquitto mosquitto-clients argon2 chromium \
      etcd-server etcd-client protobuf-compiler libprotobuf-dev iproute2 nftables python3-pip >/dev/null
    if ! command -v npm >/dev/null 2>&1; then
      $apt_prefix apt-get install -y -q --no-install-recommends nodejs npm >/dev/null
    fi
  fi
  python3 -m pip install --quiet --disable-pip-version-check paho-mqtt schemathesis \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages \
      paho-mqtt schemathesis
  npm ci --prefix crates/hornet/tests/clients --no-audit --no-fund
  # playwright-core drives Debian's chromium (no browser download).
  npm ci --prefix crates/hornet/tests/browser --no-audit --no-fund
  # Node-RED 5 needs Node 22.9+: the lockfile brings it (npm package `node`).
  npm ci --prefix crates/hornet/tests/nodered --no-audit --no-fund
}

run() {
  # Global, not local: the EXIT trap runs after this function returned.
  log="$(mktemp)"
  trap 'rm -f "${log:-}"' EXIT
  # Idle TCP connections park after 100 ms instead of the default 1 s, so
  # every test takes the park/unpark path far more often (server/park.rs).
  HORNET_PARK_AFTER_MS="${HORNET_PARK_AFTER_MS:-100}" cargo test --workspace 2>&1 | tee "$log"
  # One closing line with the totals of every test binary cargo ran.
  awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
}

case "$what" in
  all) deps; run ;;
  deps) deps ;;
  run) run ;;
  *) echo "usage: bash scripts/test.sh [deps|run]" >&2; exit 2 ;;
esac
