#!/usr/bin/env bash
# quick-compare.sh: a first, rough throughput comparison of Hornet and
# Mosquitto on this machine. Not the benchmark harness: 3 scenarios, a few
# short rounds, medians. Every wait is bounded.
#
# For each round (Hornet first in odd rounds, Mosquitto first in even ones)
# and each scenario, a fresh broker is started on a free loopback port with
# the same mosquitto-style configuration, the `throughput` example of the
# hornet crate runs against it with --broker-pid, and the broker is stopped.
#
# Scenarios (64-byte payloads):
#   fan-in-q0   10 publishers -> 1 subscriber,   QoS 0
#   fan-in-q1   10 publishers -> 1 subscriber,   QoS 1
#   fan-out-q0   1 publisher  -> 10 subscribers, QoS 0
#
# Environment: ROUNDS (3), RUN_SECONDS (5), WARMUP_SECONDS (1),
# MOSQUITTO (mosquitto binary, default: found on PATH or /usr/sbin/mosquitto).
# Broker logs and raw JSON results are kept in the directory printed at the end.

set -euo pipefail

ROUNDS=${ROUNDS:-3}
RUN_SECONDS=${RUN_SECONDS:-5}
WARMUP_SECONDS=${WARMUP_SECONDS:-1}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HORNET=$ROOT/target/release/hornet
THROUGHPUT=$ROOT/target/release/examples/throughput
MOSQUITTO=${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hornet-quick-compare.XXXXXX")
RESULTS=$WORK/results.tsv

SCENARIOS=(
    "fan-in-q0|--publishers 10 --subscribers 1 --qos 0 --payload 64"
    "fan-in-q1|--publishers 10 --subscribers 1 --qos 1 --payload 64"
    "fan-out-q0|--publishers 1 --subscribers 10 --qos 0 --payload 64"
)

BROKER_PID=""
cleanup() {
    if [[ -n $BROKER_PID ]]; then
        stop_broker
    fi
}
trap cleanup EXIT

die() {
    echo "quick-compare: $*" >&2
    exit 1
}

[[ -x $MOSQUITTO ]] || die "mosquitto not found (set MOSQUITTO=...)"

# Build, retrying a few times: other work in the tree may break it briefly.
build() {
    local attempt
    for attempt in 1 2 3; do
        if (cd "$ROOT" && cargo build --release -p hornet --examples --bins); then
            return 0
        fi
        if [[ $attempt -lt 3 ]]; then
            echo "quick-compare: build failed (attempt $attempt), retrying in 60 s" >&2
            sleep 60
        fi
    done
    die "build failed"
}

port_in_use() {
    if command -v ss >/dev/null; then
        ss -Hltn "sport = :$1" | grep -q .
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}

free_port() {
    local port i
    for i in $(seq 1 50); do
        port=$((20000 + RANDOM % 40000))
        if ! port_in_use "$port"; then
            echo "$port"
            return 0
        fi
    done
    die "no free port found"
}

# wait_ready PORT: until the broker accepts connections on PORT (at most
# 10 s), failing early if it exits; then checks that it is our broker, not
# another process that happens to listen there, that holds the port.
wait_ready() {
    local port=$1 i
    for i in $(seq 1 100); do
        kill -0 "$BROKER_PID" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            sleep 0.2
            kill -0 "$BROKER_PID" 2>/dev/null || return 1
            if command -v ss >/dev/null; then
                ss -Hltnp "sport = :$port" | grep -q "pid=$BROKER_PID," || return 1
            fi
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# start_broker NAME PORT LOG: starts the broker with the shared
# configuration and sets BROKER_PID.
start_broker() {
    local name=$1 port=$2 log=$3 conf=$WORK/$1-$2.conf
    # The same file for both: Hornet reads this mosquitto.conf subset
    # (`persistence false` is what it does anyway, so it is accepted silently).
    cat >"$conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
max_queued_messages 100000
max_inflight_messages 0
persistence false
EOF
    case $name in
        hornet) "$HORNET" -c "$conf" >"$log" 2>&1 & ;;
        mosquitto) "$MOSQUITTO" -c "$conf" >"$log" 2>&1 & ;;
    esac
    BROKER_PID=$!
    if ! wait_ready "$port"; then
        echo "quick-compare: $name did not come up on port $port; its log:" >&2
        tail -n 20 "$log" >&2 || true
        stop_broker
        return 1
    fi
}

# stop_broker: SIGTERM, up to 5 s to exit, then SIGKILL.
stop_broker() {
    local i pid=$BROKER_PID
    BROKER_PID=""
    [[ -n $pid ]] || return 0
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "quick-compare: broker $pid ignored SIGTERM for 5 s, killing it" >&2
        kill -9 "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# json_field NAME LINE: the value of a flat JSON number field, or "null".
json_field() {
    local v
    v=$(sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$2")
    echo "${v:-null}"
}

run_one() {
    local broker=$1 round=$2 scenario=$3 args=$4 port log out line
    port=$(free_port)
    log=$WORK/$broker-$scenario-r$round.log
    out=$WORK/$broker-$scenario-r$round.json
    if ! start_broker "$broker" "$port" "$log"; then
        printf '%s\t%s\t%s\tnull\tnull\tnull\tnull\tnull\tfailed-to-start\n' \
            "$broker" "$scenario" "$round" >>"$RESULTS"
        return 0
    fi
    # shellcheck disable=SC2086 # $args is a list of options
    if timeout $((WARMUP_SECONDS + RUN_SECONDS + 30)) "$THROUGHPUT" --port "$port" $args \
        --seconds "$RUN_SECONDS" --warmup "$WARMUP_SECONDS" --broker-pid "$BROKER_PID" \
        >"$out" 2>"$out.err"; then
        line=$(tail -n 1 "$out")
    else
        line=""
        echo "quick-compare: throughput failed against $broker ($scenario, round $round):" >&2
        tail -n 5 "$out.err" >&2 || true
    fi
    if ! kill -0 "$BROKER_PID" 2>/dev/null; then
        echo "quick-compare: $broker died during $scenario, round $round" >&2
    fi
    stop_broker
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$broker" "$scenario" "$round" \
        "$(json_field delivered_per_s "$line")" "$(json_field cpu_us_per_msg "$line")" \
        "$(json_field published_per_s "$line")" "$(json_field delivery_ratio "$line")" \
        "$(json_field broker_rss_mib "$line")" "errors=$(json_field errors "$line")" \
        >>"$RESULTS"
    printf '  round %s  %-10s %-9s delivered/s %-9s cpu-us/msg %-7s ratio %-6s rss %s MiB\n' \
        "$round" "$scenario" "$broker" "$(json_field delivered_per_s "$line")" \
        "$(json_field cpu_us_per_msg "$line")" "$(json_field delivery_ratio "$line")" \
        "$(json_field broker_rss_mib "$line")"
}

# median BROKER SCENARIO COLUMN: median of the numeric values of a column.
median() {
    awk -F'\t' -v b="$1" -v s="$2" -v c="$3" \
        '$1 == b && $2 == s && $c != "null" { print $c }' "$RESULTS" |
        sort -g | awk '{ v[NR] = $1 } END {
            if (NR == 0) print "null";
            else if (NR % 2) print v[(NR + 1) / 2];
            else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "null" || b == "null" || b + 0 == 0) print "n/a";
        else printf "%.2f", a / b }'
}

build
[[ -x $HORNET && -x $THROUGHPUT ]] || die "build did not produce $HORNET and $THROUGHPUT"
echo "quick-compare: $(nproc) cores, $ROUNDS rounds x ${#SCENARIOS[@]} scenarios x 2 brokers," \
    "${WARMUP_SECONDS}+${RUN_SECONDS} s each; logs in $WORK"
: >"$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
    if ((round % 2)); then order="hornet mosquitto"; else order="mosquitto hornet"; fi
    for entry in "${SCENARIOS[@]}"; do
        scenario=${entry%%|*}
        args=${entry#*|}
        for broker in $order; do
            run_one "$broker" "$round" "$scenario" "$args"
        done
    done
done

echo
echo "Medians over $ROUNDS rounds (delivered msgs/s at the subscribers; broker CPU-us per delivered msg;"
echo "ratio = delivered / (published x subscribers); H/M = Hornet / Mosquitto)"
printf '%-11s | %12s %12s %7s | %9s %9s %7s | %7s %7s\n' scenario \
    "hornet msg/s" "mosq msg/s" "H/M" "hornet us" "mosq us" "H/M" "h ratio" "m ratio"
printf '%s\n' "------------+--------------------------------------+-----------------------------+----------------"
for entry in "${SCENARIOS[@]}"; do
    s=${entry%%|*}
    hd=$(median hornet "$s" 4) md=$(median mosquitto "$s" 4)
    hc=$(median hornet "$s" 5) mc=$(median mosquitto "$s" 5)
    hr=$(median hornet "$s" 7) mr=$(median mosquitto "$s" 7)
    printf '%-11s | %12s %12s %7s | %9s %9s %7s | %7s %7s\n' "$s" \
        "$hd" "$md" "$(ratio "$hd" "$md")" "$hc" "$mc" "$(ratio "$hc" "$mc")" "$hr" "$mr"
done

echo
failures=$(awk -F'\t' '$4 == "null" || ($9 != "errors=0") { n++ } END { print n + 0 }' "$RESULTS")
echo "runs with failures or client-side errors: $failures (details: $RESULTS)"
echo "Hornet log lines at WARN/ERROR level:"
cat "$WORK"/hornet-*.log | grep -E ' (WARN|ERROR) ' | sed 's/^[^ ]* //' | sort | uniq -c | sort -rn | head -n 10 || true
echo "logs: $WORK"
