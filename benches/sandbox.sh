#!/usr/bin/env bash
# Throughput of `tagrec sandbox serve` on loopback, measured with wrk (Debian: apt-get install wrk):
# lists (the default page of 20, and pages of 100), retrieves, and modifies that rewrite and fsync
# the state file. The account is seeded with 250 projects of 6 tags each.
# Usage: benches/sandbox.sh [SECONDS_PER_RUN] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-32}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

cargo build --release --quiet
bin=target/release/tagrec
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

{
  printf '['
  for i in $(seq 1 250); do
    [ "$i" -gt 1 ] && printf ','
    printf '{"id":"proj_bench%015d","name":"Project-%d","tags":{"Application":"App%d","Environment":"Production","Team":"Team%d","CostCenter":"CC-%04d","Owner":"owner%d","ManagedBy":"platform"}}' \
      "$i" "$i" "$i" "$((i % 7))" "$i" "$((i % 13))"
  done
  printf ']\n'
} >"$work/seed.json"

"$bin" sandbox serve --listen 127.0.0.1:0 --seed "$work/seed.json" --state "$work/state.json" >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 100); do [ -s "$work/out" ] && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$work/out")
[ -n "$base" ] || { cat "$work/err" >&2; exit 1; }

cat >"$work/modify.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"add_tags": {"Owner": "bench"}, "remove_tag_keys": ["Legacy"]}'
wrk.headers["Content-Type"] = "application/json"
LUA

run() {
  local label=$1; shift
  local out
  out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency "$@")
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '| %-44s | %10s | %8s | %8s | %6s |\n' "$label" "$rps" "$p50" "$p99" "${errors:-0}"
}

echo "wrk -t2 -c$connections -d${seconds}s, $(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
printf '| %-44s | %10s | %8s | %8s | %6s |\n' "request" "req/s" "p50" "p99" "non-2xx"
printf '|%s|%s|%s|%s|%s|\n' "----------------------------------------------" "------------" "----------" "----------" "--------"
run "GET /organization/projects (page of 20)" "$base/organization/projects"
run "GET /organization/projects?limit=100" "$base/organization/projects?limit=100"
run "GET /organization/projects?limit=100&after=" "$base/organization/projects?limit=100&after=proj_bench000000000000200"
run "GET /organization/projects/{id}" "$base/organization/projects/proj_bench000000000000125"
run "POST /organization/projects/{id} (state fsync)" -s "$work/modify.lua" "$base/organization/projects/proj_bench000000000000125"
