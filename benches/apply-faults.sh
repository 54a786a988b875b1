#!/usr/bin/env bash
# Does apply converge in one run under faults? The 300-change scenario (100 creates, 180 tag fixes,
# 20 archives) against `tagrec sandbox serve --fail-rate 0.2 --drop-after-commit-rate 0.2
# --rate-limit 50`, once per fault seed. For each run: the exit code, the passes apply needed, the
# wall time, that every create was committed exactly once (the emulator's --request-log), and that
# a plan afterwards finds nothing to do.
# Reproduce: cargo build --release && benches/apply-faults.sh
#   (BIN=... SEEDS="1 2 3" FAIL_RATE=... DROP_RATE=... RATE_LIMIT=... to vary)
set -euo pipefail

BIN=${BIN:-target/release/tagrec}
SEEDS=${SEEDS:-$(seq 1 20)}
FAIL_RATE=${FAIL_RATE:-0.2}
DROP_RATE=${DROP_RATE:-0.2}
RATE_LIMIT=${RATE_LIMIT:-50}
CREATES=100
UPDATES=180
ARCHIVES=20
OWNER=platform/bedrock-projects
work=$(mktemp -d "${TMPDIR:-/tmp}/tagrec-apply-faults.XXXXXX")
server_pid=
cleanup() {
    # Only the script itself cleans up, never a subshell that inherited the trap.
    [ "${BASHPID:-$$}" = "$$" ] || return 0
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

{
    echo '['
    for i in $(seq 1 "$UPDATES"); do
        printf '{"id":"proj_fix%010d","name":"Fix-%03d","tags":{"Team":"wrong","Legacy":"x","ManagedBy":"%s"}},\n' "$i" "$i" "$OWNER"
    done
    for i in $(seq 1 "$ARCHIVES"); do
        sep=$([ "$i" -lt "$ARCHIVES" ] && echo , || true)
        printf '{"id":"proj_gone%010d","name":"Gone-%03d","tags":{"ManagedBy":"%s"}}%s\n' "$i" "$i" "$OWNER" "$sep"
    done
    echo ']'
} >"$work/seed.json"
{
    printf 'version: 1\ntarget:\n  region: us-east-1\nowner: %s\nprune: true\nprojects:\n' "$OWNER"
    for i in $(seq 1 "$CREATES"); do
        printf '  - name: New-%03d\n    tags: {Team: t%d, CostCenter: CC-%d}\n' "$i" "$i" "$i"
    done
    for i in $(seq 1 "$UPDATES"); do
        printf '  - name: Fix-%03d\n    tags: {Team: t%d}\n' "$i" "$i"
    done
} >"$work/projects.yaml"

echo "tagrec apply under faults: $CREATES creates, $UPDATES updates, $ARCHIVES archives;" \
    "--fail-rate $FAIL_RATE --drop-after-commit-rate $DROP_RATE --rate-limit $RATE_LIMIT ($(nproc) cores)"
printf '%-6s %-5s %-7s %9s %8s %8s %8s %s\n' seed exit passes "wall (s)" requests lost creates "plan after"
converged=0 runs=0 duplicates=0
: >"$work/times"
for seed in $SEEDS; do
    runs=$((runs + 1))
    rm -f "$work/requests.jsonl" "$work/serve.out"
    "$BIN" sandbox serve --listen 127.0.0.1:0 --seed "$work/seed.json" --request-log "$work/requests.jsonl" \
        --fail-rate "$FAIL_RATE" --drop-after-commit-rate "$DROP_RATE" --rate-limit "$RATE_LIMIT" \
        --fault-seed "$seed" >"$work/serve.out" 2>"$work/serve.err" &
    server_pid=$!
    url=
    for _ in $(seq 1 200); do
        url=$(sed -n 's/^listening on //p' "$work/serve.out")
        [ -n "$url" ] && break
        sleep 0.05
    done
    [ -n "$url" ] || { cat "$work/serve.err" >&2; exit 1; }

    start=$(date +%s.%N)
    status=0
    TAGREC_API_KEY=bench "$BIN" apply -f "$work/projects.yaml" --endpoint "$url" --auto-approve \
        --allow-archive >"$work/apply.out" 2>"$work/apply.err" || status=$?
    end=$(date +%s.%N)
    wall=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')
    passes=$(sed -n 's/^pass \([0-9]*\): .*/\1/p' "$work/apply.err" | tail -1)
    passes=${passes:-1}
    requests=$(wc -l <"$work/requests.jsonl")
    lost=$(grep -c '"status":null' "$work/requests.jsonl" || true)
    # Committed creates: POST /v1/organization/projects (no id in the path) that were done.
    creates=$(grep '"method":"POST","path":"/v1/organization/projects",' "$work/requests.jsonl" |
        grep -c '"committed":true' || true)
    plan_status=0
    TAGREC_API_KEY=bench "$BIN" -q plan -f "$work/projects.yaml" --endpoint "$url" --detailed-exitcode \
        >/dev/null 2>"$work/plan.err" || plan_status=$?
    case $plan_status in
        0) after="no changes" ;;
        2) after="CHANGES LEFT" ;;
        *) after="error ($(tail -1 "$work/plan.err"))" ;;
    esac
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=

    if [ "$creates" -ne "$CREATES" ]; then
        duplicates=$((duplicates + 1))
    fi
    if [ "$status" -eq 0 ] && [ "$plan_status" -eq 0 ] && [ "$creates" -eq "$CREATES" ]; then
        converged=$((converged + 1))
    else
        echo "seed $seed did not converge:" >&2
        tail -n 8 "$work/apply.out" "$work/apply.err" >&2 || true
    fi
    echo "$wall" >>"$work/times"
    printf '%-6s %-5s %-7s %9s %8s %8s %8s %s\n' "$seed" "$status" "$passes" "$wall" "$requests" "$lost" \
        "$creates" "$after"
done

sort -n "$work/times" | awk -v c="$converged" -v r="$runs" -v d="$duplicates" '
    { t[NR] = $1; sum += $1 }
    END {
        median = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
        printf "converged in one run: %d/%d; runs with a create committed other than once: %d\n", c, r, d
        printf "wall time: min %.1f s, median %.1f s, max %.1f s, mean %.1f s\n", t[1], median, t[NR], sum / NR
    }'
[ "$converged" -eq "$runs" ]
