#!/usr/bin/env bash
# `tagrec plan` over an estate: M manifests of N projects each, every manifest its own account
# served by its own `tagrec sandbox serve --latency-ms L` (seeded; 1 project in CHANGES needs a
# tag change). Measures the wall time of the whole estate's plan for each --jobs value against the
# bound that the list pages and --jobs set, and the peak memory (max RSS) for fewer and more
# manifests at one --jobs, to show what memory grows with.
#
# Usage: benches/estate.sh        (defaults: M=50 N=1000 L=50 JOBS="1 4 16" RUNS=3
#                                  MEMORY="10 50" MEMORY_JOBS="1 4 16" FORMAT=json
#                                  CHANGES=10: 1 project in 10 to update, 0 for none)
# Numbers go in BENCHMARKS.md, section `estate`. Needs hyperfine and GNU time (/usr/bin/time).
set -euo pipefail
manifests=${M:-50}
projects=${N:-1000}
latency=${L:-50}
jobs_list=${JOBS:-1 4 16}
runs=${RUNS:-3}
memory_counts=${MEMORY:-10 50}
memory_jobs=${MEMORY_JOBS:-1 4 16}
format=${FORMAT:-json}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${TAGREC_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
  bin="$root/target/release/tagrec"
fi
case "$bin" in /*) ;; *) bin=$PWD/$bin ;; esac
command -v hyperfine >/dev/null || { echo "hyperfine is needed" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time (/usr/bin/time) is needed" >&2; exit 1; }

work=$(mktemp -d)
servers=()
cleanup() {
  for pid in ${servers[@]+"${servers[@]}"}; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# One seed and one manifest shape for every account: N live projects (the default one
# included), 1 in CHANGES with a tag to change.
python3 - "$projects" "$work" "${CHANGES:-10}" <<'PY'
import json, sys
n, work, every = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
owner = "platform/bedrock-projects"
seed, lines = [], ["version: 1", "target: {endpoint: 'ENDPOINT'}", f"owner: {owner}",
                   "defaults:", "  tags:", "    Environment: Production", "projects:"]
for i in range(n - 1):
    tags = {"Application": f"App{i % 97}", "Environment": "Production", "Team": f"Team{i % 13}",
            "CostCenter": f"CC-{i:04d}", "Owner": f"owner{i % 211}", "ManagedBy": owner}
    if every and i % every == 0:
        tags["Owner"] = "someone-else"
    seed.append({"id": f"proj_{i:020d}", "name": f"Project-{i:04d}", "status": "active", "tags": tags})
    lines.append(f"  - {{name: Project-{i:04d}, tags: {{Application: App{i % 97}, Team: Team{i % 13}, "
                 f"CostCenter: CC-{i:04d}, Owner: owner{i % 211}}}}}")
json.dump(seed, open(f"{work}/seed.json", "w"))
open(f"{work}/manifest.template", "w").write("\n".join(lines) + "\n")
PY

# An emulator per account, each manifest pointing at its own.
mkdir -p "$work/accounts"
for i in $(seq -w 1 "$manifests"); do
  "$bin" sandbox serve --listen 127.0.0.1:0 --seed "$work/seed.json" --latency-ms "$latency" \
    >"$work/serve-$i.out" 2>/dev/null &
  servers+=($!)
done
for i in $(seq -w 1 "$manifests"); do
  for _ in $(seq 200); do
    grep -q '^listening on ' "$work/serve-$i.out" 2>/dev/null && break
    sleep 0.05
  done
  url=$(sed -n 's/^listening on //p' "$work/serve-$i.out")
  [ -n "$url" ] || { echo "emulator $i did not start" >&2; exit 1; }
  sed "s|ENDPOINT|$url|" "$work/manifest.template" >"$work/accounts/account-$i.yaml"
done
cd "$work"

pages=$(((projects + 99) / 100))
echo "== $manifests manifests x $projects projects, $latency ms per answer: $pages list pages each"
"$bin" plan -f 'accounts/*.yaml' --jobs 16 --color never | tail -1
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"

for jobs in $jobs_list; do
  rounds=$(((manifests + jobs - 1) / jobs))
  bound=$(python3 -c "print(f'{$rounds * $pages * $latency / 1000:.2f}')")
  echo
  echo "== --jobs $jobs: bound ceil($manifests/$jobs) x $pages pages x $latency ms = ${bound} s"
  hyperfine --runs "$runs" --warmup 1 -N --export-json "$work/jobs-$jobs.json" \
    "$bin plan -f accounts/*.yaml --jobs $jobs --color never --format json" >/dev/null
  python3 - "$work/jobs-$jobs.json" "$bound" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))["results"][0]
bound = float(sys.argv[2])
median, low, high = result["median"], result["min"], result["max"]
print(f"wall: median {median:.2f} s (min {low:.2f}, max {high:.2f}); "
      f"{median / bound:.2f}x the bound")
PY
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
done

echo
echo "== peak memory (max RSS, /usr/bin/time -v), --format $format"
for jobs in $memory_jobs; do
  for count in $memory_counts; do
    files=()
    for i in $(seq -w 1 "$count"); do files+=(-f "accounts/account-$i.yaml"); done
    /usr/bin/time -v "$bin" plan "${files[@]}" --jobs "$jobs" --color never --format "$format" \
      >/dev/null 2>"$work/time.txt"
    rss=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$work/time.txt")
    echo "--jobs $jobs, $count manifests: $((rss / 1024)) MB"
  done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
