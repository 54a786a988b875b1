#!/usr/bin/env bash
# `tagrec plan` as a whole process on an account of 1,000 projects served by a local emulator
# (`tagrec sandbox serve`), timed with hyperfine. Usage: benches/plan-process.sh [N]
# Builds the release binary first; numbers go in BENCHMARKS.md, section `plan`.
set -euo pipefail
n=${1:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)
# TAGREC_BIN=path times another build (e.g. target/debug/tagrec) instead of the release one.
bin=${TAGREC_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
  bin="$root/target/release/tagrec"
fi
work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# N live projects (the default one included): 1 in 10 needs a tag change, the rest match.
python3 - "$n" "$work" <<'PY'
import json, sys
n, work = int(sys.argv[1]), sys.argv[2]
owner = "platform/bedrock-projects"
seed, lines = [], ["version: 1", "target: {region: us-east-1}", f"owner: {owner}", "prune: true",
                   "defaults:", "  tags:", "    Environment: Production", "projects:"]
for i in range(n - 1):
    tags = {"Application": f"App{i % 97}", "Environment": "Production", "Team": f"Team{i % 13}",
            "CostCenter": f"CC-{i:04d}", "Owner": f"owner{i % 211}", "ManagedBy": owner}
    if i % 10 == 0:
        tags["Owner"] = "someone-else"
    seed.append({"id": f"proj_{i:020d}", "name": f"Project-{i:04d}", "status": "active", "tags": tags})
    lines.append(f"  - {{name: Project-{i:04d}, tags: {{Application: App{i % 97}, Team: Team{i % 13}, "
                 f"CostCenter: CC-{i:04d}, Owner: owner{i % 211}}}}}")
json.dump(seed, open(f"{work}/seed.json", "w"))
open(f"{work}/projects.yaml", "w").write("\n".join(lines) + "\n")
PY

"$bin" sandbox serve --listen 127.0.0.1:0 --seed "$work/seed.json" > "$work/serve.out" 2>/dev/null &
server=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break
  sleep 0.05
done
url=$(sed -n 's/^listening on //p' "$work/serve.out")
cd "$work"
"$bin" plan -f projects.yaml --endpoint "$url" --color never | tail -1
hyperfine --warmup 3 --runs 30 -N \
  "$bin plan -f projects.yaml --endpoint $url --color never --format json" \
  "$bin plan -f projects.yaml --endpoint $url --color never"
