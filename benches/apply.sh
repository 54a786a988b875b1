#!/usr/bin/env bash
# The apply benchmark: N tag fixes (default 1,000 projects, each with one wrong tag) against
# `tagrec sandbox serve --latency-ms 50`, timed end to end (plan read, writes, verification).
# Reproduce: cargo build --release && benches/apply.sh        (BIN=... N=... LATENCY_MS=... to vary)
set -euo pipefail

BIN=${BIN:-target/release/tagrec}
N=${N:-1000}
LATENCY_MS=${LATENCY_MS:-50}
work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

{
    echo '['
    for i in $(seq 1 "$N"); do
        sep=$([ "$i" -lt "$N" ] && echo , || true)
        printf '{"id":"proj_bench%010d","name":"Bench-%04d","tags":{"Team":"wrong","Application":"bench"}}%s\n' "$i" "$i" "$sep"
    done
    echo ']'
} >"$work/seed.json"
{
    printf 'version: 1\ntarget:\n  region: us-east-1\nprojects:\n'
    for i in $(seq 1 "$N"); do
        printf '  - name: Bench-%04d\n    tags: {Team: right, Application: bench}\n' "$i"
    done
} >"$work/projects.yaml"

# run LABEL "SERVE FLAGS" "APPLY FLAGS": a fresh emulator, one timed apply, a check that exactly
# N writes were committed and that a second plan finds nothing to do.
run() {
    local label=$1 serve_flags=$2 apply_flags=$3
    rm -f "$work/requests.jsonl" "$work/serve.out"
    # shellcheck disable=SC2086
    "$BIN" sandbox serve --listen 127.0.0.1:0 --seed "$work/seed.json" --latency-ms "$LATENCY_MS" \
        --request-log "$work/requests.jsonl" $serve_flags >"$work/serve.out" 2>"$work/serve.err" &
    server_pid=$!
    local url=
    for _ in $(seq 1 200); do
        url=$(sed -n 's/^listening on //p' "$work/serve.out")
        [ -n "$url" ] && break
        sleep 0.05
    done
    [ -n "$url" ] || { cat "$work/serve.err" >&2; exit 1; }
    local start end status=0
    start=$(date +%s.%N)
    # Both streams through one pipe, each line stamped on arrival: the plan's last line marks the
    # start of the writes, "Verifying" their end.
    # shellcheck disable=SC2086
    TAGREC_API_KEY=bench "$BIN" apply -f "$work/projects.yaml" --endpoint "$url" --auto-approve \
        $apply_flags 2>&1 | perl -MTime::HiRes=time -ne 'BEGIN { $| = 1 } printf "%.6f %s", time, $_' \
        >"$work/apply.log" || true
    status=${PIPESTATUS[0]}
    end=$(date +%s.%N)
    if [ "$status" -ne 0 ]; then
        echo "$label: apply exited $status" >&2
        tail -20 "$work/apply.log" >&2
        exit 1
    fi
    local writes throttled requests
    writes=$(grep -c '"committed":true' "$work/requests.jsonl" || true)
    throttled=$(grep -c '"status":429' "$work/requests.jsonl" || true)
    requests=$(wc -l <"$work/requests.jsonl")
    if [ "$writes" -ne "$N" ]; then
        echo "$label: $writes writes committed, expected $N" >&2
        exit 1
    fi
    TAGREC_API_KEY=bench "$BIN" -q plan -f "$work/projects.yaml" --endpoint "$url" --detailed-exitcode >/dev/null \
        || { echo "$label: the plan after apply is not empty" >&2; exit 1; }
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    awk -v l="$label" -v s="$start" -v e="$end" -v r="$requests" -v t="$throttled" '
        / Plan: / && !p { p = $1 }
        / Verifying/ && !v { v = $1 }
        END {
            printf "%-40s %6.2f s in all: plan %.2f s, writes %.2f s, verify %.2f s (%d requests, %d answered 429)\n",
                l, e - s, p - s, v - p, e - v, r, t
            printf "%.3f %.3f\n", e - s, v - p > "/dev/stderr"
        }' "$work/apply.log" 2>"$work/last"
}

echo "tagrec apply: $N tag fixes, emulator latency ${LATENCY_MS} ms ($(nproc) cores)"
run "--rate-limit 100, --concurrency 8" "--rate-limit 100" "--concurrency 8"
read -r limited limited_writes <"$work/last"
run "no rate limit, --concurrency 8" "" "--concurrency 8"
read -r parallel parallel_writes <"$work/last"
run "sequential baseline (--concurrency 1)" "" "--concurrency 1"
read -r sequential sequential_writes <"$work/last"
awk -v n="$N" -v lat="$LATENCY_MS" -v a="$limited" -v aw="$limited_writes" -v p="$parallel" \
    -v pw="$parallel_writes" -v s="$sequential" -v sw="$sequential_writes" 'BEGIN {
    floor_rate = n / 100; floor_par = n * lat / 1000 / 8
    printf "rate-limited: %.2f s in all = %.2fx, writes %.2f s = %.2fx the %.2f s the rate limit allows (target < 1.15x)\n", a, a / floor_rate, aw, aw / floor_rate, floor_rate
    printf "concurrent:   %.2f s in all = %.2fx, writes %.2f s = %.2fx of %d x %d ms / 8 = %.2f s (target < 1.2x)\n", p, p / floor_par, pw, pw / floor_par, n, lat, floor_par
    printf "sequential:   %.2f s in all, writes %.2f s; concurrent is %.1fx faster in all, %.1fx in writes\n", s, sw, s / p, sw / pw
}'
