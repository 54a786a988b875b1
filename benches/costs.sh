#!/usr/bin/env bash
# The emulator's Cost Explorer over a year of daily spend for 1,000 projects (365,000 rows): how
# long `tagrec sandbox serve --costs` takes to read the file, how much memory it holds, and how
# long one GetCostAndUsage for the whole year grouped by a tag key takes (monthly and daily),
# measured with hyperfine around curl on loopback.
# Usage: benches/costs.sh [PROJECTS] [DAYS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
projects=${1:-1000}
days=${2:-365}
runs=${3:-20}
command -v hyperfine >/dev/null || { echo "hyperfine is needed: apt-get install hyperfine" >&2; exit 1; }

cargo build --release --quiet
bin=target/release/tagrec
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# Projects with 6 tags, CostCenter one of 50 values; every 10th project has no CostCenter.
awk -v n="$projects" 'BEGIN {
  printf "["
  for (i = 1; i <= n; i++) {
    cc = (i % 10 == 0) ? "" : sprintf("\"CostCenter\":\"CC-%04d\",", i % 50)
    printf "%s{\"id\":\"proj_bench%015d\",\"name\":\"Project-%d\",\"tags\":{%s\"Application\":\"App%d\",\"Environment\":\"Production\",\"Team\":\"Team%d\",\"Owner\":\"owner%d\",\"ManagedBy\":\"platform\"}}", (i > 1 ? "," : ""), i, i, cc, i, i % 7, i % 13
  }
  print "]"
}' >"$work/seed.json"

# One row per project and day from 2025-12-01, amounts with up to 10 decimals; plus the default
# project's spend each day.
awk -v n="$projects" -v days="$days" 'BEGIN {
  split("31 28 31 30 31 30 31 31 30 31 30 31", len, " ")
  y = 2025; m = 12; d = 1
  printf "["
  first = 1
  for (day = 0; day < days; day++) {
    date = sprintf("%04d-%02d-%02d", y, m, d)
    for (i = 1; i <= n; i++) {
      printf "%s{\"date\":\"%s\",\"service\":\"Amazon Bedrock\",\"project_id\":\"proj_bench%015d\",\"amount\":\"%d.%010d\"}\n", (first ? "" : ","), date, i, (i * 7 + day * 13) % 50, (i * 7919 + day * 104729) % 10000000000
      first = 0
    }
    printf ",{\"date\":\"%s\",\"service\":\"Amazon Bedrock\",\"project_id\":\"default\",\"amount\":\"3.5\"}\n", date
    d++
    if (d > len[m] + (m == 2 && y % 4 == 0)) { d = 1; m++; if (m > 12) { m = 1; y++ } }
  }
  print "]"
}' >"$work/costs.json"
rows=$(grep -c '"date"' "$work/costs.json")
size=$(du -h "$work/costs.json" | cut -f1)

start=$(date +%s.%N)
"$bin" sandbox serve --listen 127.0.0.1:0 --seed "$work/seed.json" --costs "$work/costs.json" \
  --active-cost-tags CostCenter >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 600); do grep -q '^cost explorer on' "$work/out" 2>/dev/null && break; sleep 0.05; done
ready=$(date +%s.%N)
root=$(sed -n 's/^cost explorer on //p' "$work/out")
[ -n "$root" ] || { cat "$work/err" >&2; exit 1; }
rss=$(awk '/VmRSS/ {print $2 / 1024 " MiB"}' "/proc/$pid/status")

body() {
  printf '{"TimePeriod":{"Start":"2025-12-01","End":"2026-12-01"},"Granularity":"%s","Filter":{"Dimensions":{"Key":"SERVICE","Values":["Amazon Bedrock"]}},"Metrics":["UnblendedCost"],"GroupBy":[{"Type":"TAG","Key":"%s"}]}' "$1" "$2"
}
body MONTHLY CostCenter >"$work/monthly.json"
body DAILY CostCenter >"$work/daily.json"
body MONTHLY Application >"$work/application.json"
call() {
  echo "curl -sf -o /dev/null $root -H 'Content-Type: application/x-amz-json-1.1' -H 'X-Amz-Target: AWSInsightsIndexService.GetCostAndUsage' --data-binary @$work/$1.json"
}
# One answer, checked: every period there, the sums exact.
curl -sf "$root" -H 'Content-Type: application/x-amz-json-1.1' \
  -H 'X-Amz-Target: AWSInsightsIndexService.GetCostAndUsage' --data-binary "@$work/monthly.json" >"$work/answer.json"
periods=$(grep -o '"TimePeriod"' "$work/answer.json" | wc -l)
groups=$(grep -o '"Keys"' "$work/answer.json" | wc -l)

echo "$(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $projects projects x $days days = $rows rows ($size)"
awk -v a="$start" -v b="$ready" -v rss="$rss" 'BEGIN { printf "serve ready (read and index the costs file): %.0f ms; RSS %s\n", (b - a) * 1000, rss }'
echo "monthly answer: $periods periods, $groups groups"
# The request alone (curl's time_total, without starting curl): median and fastest of RUNS.
for q in monthly daily application; do
  for _ in $(seq 1 "$runs"); do
    curl -sf -o /dev/null -w '%{time_total}\n' "$root" -H 'Content-Type: application/x-amz-json-1.1' \
      -H 'X-Amz-Target: AWSInsightsIndexService.GetCostAndUsage' --data-binary "@$work/$q.json"
  done | sort -n | awk -v q="$q" '{ t[NR] = $1 * 1000 } END { printf "request %-11s median %.1f ms, min %.1f ms (%d runs)\n", q, t[int((NR + 1) / 2)], t[1], NR }'
done
# The whole client process, as a script would run it.
hyperfine --warmup 3 --runs "$runs" --style basic \
  -n "GetCostAndUsage, year, MONTHLY, by CostCenter (46 groups)" "$(call monthly)" \
  -n "GetCostAndUsage, year, DAILY, by CostCenter (365 periods)" "$(call daily)" \
  -n "GetCostAndUsage, year, MONTHLY, by Application (not active)" "$(call application)"

# `tagrec costs` itself against this emulator: its own CPU time (user + sys of the tagrec process;
# the emulator is another process) beside its wall time, and the requests it counted, which must
# be exactly the pages Cost Explorer answered plus the key's status.
manifest="$work/projects.yaml"
{
  echo "version: 1"
  echo "target: {region: us-east-1}"
  echo "projects:"
  awk -v n="$projects" 'BEGIN { for (i = 1; i <= n; i++) { if (i % 10 == 0) continue; printf "  - {name: Project-%d, tags: {CostCenter: CC-%04d}}\n", i, i % 50 } }'
} >"$manifest"
for granularity in monthly daily; do
  for _ in $(seq 1 5); do
    /usr/bin/time -f '%U %S %e' -o "$work/time" "$bin" costs -f "$manifest" --by CostCenter \
      --since 2025-12-01 --until 2026-12-01 --granularity "$granularity" --format json \
      --billing-endpoint "$root" >"$work/costs.out"
    read -r user sys wall <"$work/time"
    echo "$user $sys $wall $(grep -o '"requests": [0-9]*' "$work/costs.out" | grep -o '[0-9]*$')"
  done | sort -n | awk -v g="$granularity" '{ own[NR] = $1 + $2; wall[NR] = $3; req = $4 } END {
    printf "tagrec costs, year, %s: own CPU (user+sys) median %.2f s, wall median %.2f s, %d requests\n", g, own[int((NR + 1) / 2)], wall[int((NR + 1) / 2)], req }'
done
