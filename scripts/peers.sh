#!/usr/bin/env bash
# peers.sh: build the peer brokers `hornet-bench compare` runs beside Hornet
# and Mosquitto, rumqttd and RMQTT (rmqttd), with `cargo install --root` into
# the cache directory the harness looks in (default: target/peers, i.e.
# target/peers/bin/rumqttd and target/peers/bin/rmqttd). `compare` builds a
# missing peer itself on first use (never with --smoke); this script does it
# ahead of time, e.g. in the background while Hornet builds.
#
#   scripts/peers.sh                 # both, into target/peers
#   scripts/peers.sh DIR             # both, into DIR (then: compare --peers-dir DIR)
#
# RMQTT's build compiles C code with CMake and gRPC definitions with protoc:
# on Debian the script installs `cmake` and `protobuf-compiler` when they are
# missing (with sudo when not root). A peer whose build
# fails is reported and skipped; compare then runs without it. Each peer is
# built with its lock file first (--locked), then, if that fails, without it
# (rumqttd 0.20's lock file pins a crate today's rustc refuses).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=${1:-target/peers}
mkdir -p "$root"

for spec in cmake:cmake protoc:protobuf-compiler; do
  tool=${spec%%:*}
  package=${spec##*:}
  if ! command -v "$tool" >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "peers.sh: installing $package (rmqttd's build needs $tool)"
    $sudo apt-get install -y -q --no-install-recommends "$package" >/dev/null \
      || echo "peers.sh: could not install $package"
  fi
done

status=0
for spec in rumqttd:rumqttd rmqttd:rmqttd; do
  crate=${spec%%:*}
  bin=${spec##*:}
  if [ -x "$root/bin/$bin" ]; then
    echo "peers.sh: $bin already built in $root/bin"
    continue
  fi
  log="$root/$crate.log"
  echo "peers.sh: cargo install $crate --root $root (log in $log)"
  if cargo install "$crate" --locked --root "$root" >"$log" 2>&1 \
    || cargo install "$crate" --root "$root" >>"$log" 2>&1; then
    echo "peers.sh: $bin built"
  else
    echo "peers.sh: $bin could not be built, compare will skip it (see $log)"
    status=1
  fi
done
exit $status
