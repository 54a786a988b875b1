#!/usr/bin/env bash
# Benchmark of `tagrec audit` and `tagrec import` on an account of 1,000 live projects, against a
# local `tagrec sandbox serve` (release build). Prints the requests each command makes (from the
# emulator's request log) and hyperfine's whole-process timings. Needs hyperfine (apt-get install
# hyperfine). Usage: benches/audit-import.sh   (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${TAGREC_BIN:-}" ]; then
  cargo build --release --bin tagrec
fi
bin="${TAGREC_BIN:-$PWD/target/release/tagrec}"
work="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

# 1,000 active projects (half of them compliant, all with 7 tags) plus `default`: 11 list pages.
{
  echo '['
  echo '{"id": "default", "name": "default", "tags": {}}'
  for i in $(seq 1 1000); do
    if (( i % 2 )); then cc="CC-$(printf '%04d' "$i")"; else cc="$i"; fi
    printf ',{"id": "proj_%020d", "name": "Project-%04d", "tags": {"Application": "App%d", "Environment": "Production", "DataClassification": "Internal", "Team": "Team%d", "CostCenter": "%s", "Owner": "owner%d", "Note": "1.10"}}\n' \
      "$i" "$i" "$i" "$((i % 17))" "$cc" "$i"
  done
  echo ']'
} > "$work/live.json"
cp -r policies "$work/policies"
printf 'version: 1\ntarget: {region: us-east-1}\npolicy: policies/required-tags.yaml\nprojects: []\n' > "$work/projects.yaml"

"$bin" sandbox serve --listen 127.0.0.1:0 --seed "$work/live.json" --state "$work/state.json" \
  --read-only-api-key bench-key --request-log "$work/requests.jsonl" > "$work/serve.out" 2>&1 &
server=$!
for _ in $(seq 1 100); do grep -q '^listening on ' "$work/serve.out" && break; sleep 0.05; done
TAGREC_ENDPOINT="$(sed -n 's/^listening on //p' "$work/serve.out")"
export TAGREC_ENDPOINT TAGREC_API_KEY=bench-key AWS_REGION=us-east-1
cd "$work"

for cmd in "audit" "import --out - --force"; do
  : > requests.jsonl
  set +e
  # shellcheck disable=SC2086 # the command's words
  "$bin" $cmd > /dev/null
  code=$?
  set -e
  echo "tagrec $cmd: exit $code, requests:"
  sed 's/"status".*//' requests.jsonl | sort | uniq -c
done

hyperfine --warmup 3 --runs "${RUNS:-30}" -N \
  "$bin audit --format json" \
  "$bin import --out -" \
  --ignore-failure
