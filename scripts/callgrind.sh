#!/usr/bin/env bash
# Instructions per delivered message, counted by callgrind: repeatable on a
# shared, noisy machine where times are not (docs/benchmarks.md).
#
#   scripts/callgrind.sh HORNET BENCH ENTRY
#
# HORNET and BENCH are release binaries (`cargo build --release -p hornet
# -p hornet-bench`); ENTRY is one of
#   durable-q1   QoS 1 fan-in (10 publishers) to a persistent subscriber,
#                persistence on, fsync before every acknowledgement
#   fanout-q0    QoS 0 fan-out, 1 publisher to 20 subscribers
#   fanout100-q0 QoS 0 fan-out, 1 publisher to 100 subscribers
#   fanout1000-q0 QoS 0 fan-out, 1 publisher to 1,000 subscribers
#   dev-fanout100-q0 as fanout100-q0, the publisher writing one message
#                per syscall as a device does (compare's `dev-fanout-q0`)
# The broker runs under callgrind with collection zeroed once it listens;
# the counts cover the bench's warm-up and window and the drain. Prints the
# broker's total instructions, the messages delivered and their ratio.
# With CALLGRIND_KEEP=FILE the profile is copied there (for
# `callgrind_annotate FILE`); CALLGRIND_ARGS adds arguments to the bench's
# (e.g. "--max-ahead 30000": fewer messages waiting per subscriber).
set -euo pipefail
hornet=$1 bench=$2 entry=$3
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
conf="$work/hornet.conf"
cat >"$conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
max_inflight_messages 64
max_queued_messages 1000000
max_queued_bytes 0
sys_interval 0
connection_messages false
admin_enabled false
EOF
case "$entry" in
  durable-q1)
    printf 'persistence true\npersistence_location %s/data\nfsync fsync\n' "$work" >>"$conf"
    args=(--scenario durable --qos 1 --publishers 10) ;;
  fanout-q0)
    printf 'persistence false\n' >>"$conf"
    args=(--scenario fanout --qos 0 --subscribers 20) ;;
  fanout100-q0)
    printf 'persistence false\n' >>"$conf"
    args=(--scenario fanout --qos 0 --subscribers 100) ;;
  fanout1000-q0)
    printf 'persistence false\n' >>"$conf"
    args=(--scenario fanout --qos 0 --subscribers 1000) ;;
  dev-fanout100-q0)
    printf 'persistence false\n' >>"$conf"
    args=(--scenario fanout --qos 0 --subscribers 100 --device) ;;
  *) echo "unknown entry $entry" >&2; exit 2 ;;
esac
valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$hornet" -c "$conf" \
  >"$work/broker.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1).close()" 2>/dev/null && break
  sleep 0.1
done
callgrind_control -z "$pid" >/dev/null
# shellcheck disable=SC2086 # CALLGRIND_ARGS is split into arguments
"$bench" run --port "$port" "${args[@]}" ${CALLGRIND_ARGS:-} --seconds 5 --warmup 1 --json >"$work/bench.json"
callgrind_control -d "$pid" >/dev/null
kill -INT "$pid"; wait "$pid" 2>/dev/null || true
if [ -n "${CALLGRIND_KEEP:-}" ]; then
  cp "$(ls -S "$work"/cg.out* | head -1)" "$CALLGRIND_KEEP"
fi
ir=$(for f in "$work"/cg.out*; do callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}'; done | sort -n | tail -1)
python3 - "$work/bench.json" "$ir" "$entry" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
delivered = report["received"]
ir = int(sys.argv[2])
print(f"{sys.argv[3]}: {ir} instructions, {delivered} delivered, {ir / max(delivered, 1):.0f} per message")
EOF
