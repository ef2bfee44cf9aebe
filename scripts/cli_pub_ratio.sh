#!/usr/bin/env bash
# How fast `hornet pub -l -q 1` streams N lines compared with
# `mosquitto_pub -l -q 1`, against the same broker (a Mosquitto started
# here on a free loopback port, or Hornet with BROKER=hornet). Runs both
# ROUNDS times, alternating, and prints the median wall time of each and
# the RATIO hornet/mosquitto (below 1: hornet is faster). Quote the ratio,
# never the absolute times: they depend on the machine.
#
#   cargo build --release -p hornet
#   scripts/cli_pub_ratio.sh            # N=10000 ROUNDS=7 BROKER=mosquitto
set -eu
N=${N:-10000}
ROUNDS=${ROUNDS:-7}
BROKER=${BROKER:-mosquitto}
HORNET=${HORNET:-target/release/hornet}
[ -x "$HORNET" ] || { echo "build first: cargo build --release -p hornet" >&2; exit 1; }
HORNET=$(realpath "$HORNET")
command -v mosquitto_pub >/dev/null || { echo "install mosquitto-clients" >&2; exit 1; }

dir=$(mktemp -d)
trap 'kill "$broker" 2>/dev/null; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
seq 1 "$N" > "$dir/lines"
if [ "$BROKER" = hornet ]; then
    printf 'listener %s 127.0.0.1\nallow_anonymous true\nadmin_enabled false\n' "$port" > "$dir/broker.conf"
    (cd "$dir" && exec "$HORNET" -c broker.conf) >/dev/null 2>&1 &
else
    command -v mosquitto >/dev/null || { echo "install mosquitto" >&2; exit 1; }
    printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" > "$dir/broker.conf"
    mosquitto -c "$dir/broker.conf" >/dev/null 2>&1 &
fi
broker=$!
i=0
until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "broker did not start" >&2; exit 1; }
    sleep 0.1
done

# Wall time of one run in milliseconds.
run() {
    start=$(date +%s%N)
    "$@" -h 127.0.0.1 -p "$port" -t bench/lines -l -q 1 < "$dir/lines"
    end=$(date +%s%N)
    echo $(( (end - start) / 1000000 ))
}

: > "$dir/h"; : > "$dir/m"
r=0
while [ $r -lt "$ROUNDS" ]; do
    run "$HORNET" pub >> "$dir/h"
    run mosquitto_pub >> "$dir/m"
    r=$((r + 1))
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
h=$(median "$dir/h"); m=$(median "$dir/m")
echo "lines=$N rounds=$ROUNDS broker=$BROKER"
echo "hornet pub -l -q 1:     median ${h} ms ($(tr '\n' ' ' < "$dir/h"))"
echo "mosquitto_pub -l -q 1:  median ${m} ms ($(tr '\n' ' ' < "$dir/m"))"
awk -v h="$h" -v m="$m" 'BEGIN { printf "RATIO hornet/mosquitto = %.2f\n", h / m }'
