#!/usr/bin/env bash
# Benchmark of `tagrec validate` as a whole process, against check-jsonschema on the same files.
#
#   pip install check-jsonschema     # once
#   benches/validate.sh              # or: RUNS_SMALL=20 RUNS_LARGE=3 SIZES="1000 10000 100000" benches/validate.sh
#
# Generates manifests with examples/gen-manifest.py, validates each with the release binary and
# the example policy (policies/required-tags.yaml), and with check-jsonschema against an
# equivalent schema (the manifest schema from `tagrec schema` with the policy applied to every
# project). Prints the median wall time, the peak memory and the ratio, as a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"1000 10000 100000"}
RUNS_SMALL=${RUNS_SMALL:-20}
RUNS_LARGE=${RUNS_LARGE:-3}
# check-jsonschema takes minutes per 10,000 projects: sizes above this are measured for tagrec only.
COMPARE_UP_TO=${COMPARE_UP_TO:-100000}
cargo build --release --quiet
BIN=$PWD/target/release/tagrec
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp policies/required-tags.yaml policies/common.yaml "$WORK/"
"$BIN" schema > "$WORK/manifest.schema.json"
for n in $SIZES; do python3 examples/gen-manifest.py "$n" > "$WORK/projects-$n.yaml"; done

# shellcheck disable=SC2086 # one argument per size
python3 - "$WORK" "$BIN" "$RUNS_SMALL" "$RUNS_LARGE" "$COMPARE_UP_TO" $SIZES <<'PY'
import json, os, shutil, statistics, subprocess, sys
from ruamel.yaml import YAML  # installed with check-jsonschema

work, binary, runs_small, runs_large = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
compare_up_to = int(sys.argv[5])
sizes = [int(s) for s in sys.argv[6:]]
yaml = YAML(typ="safe")

def load(name):
    with open(os.path.join(work, name)) as f:
        return yaml.load(f)

# The equivalent schema: the manifest's, with the policy (its $refs inlined) on every project.
common = load("common.yaml")["$defs"]
def inline(node):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("common.yaml#/$defs/"):
            return inline(common[ref.rsplit("/", 1)[1]])
        return {k: inline(v) for k, v in node.items() if k != "$schema"}
    if isinstance(node, list):
        return [inline(v) for v in node]
    return node
policy = inline(load("required-tags.yaml"))
with open(os.path.join(work, "manifest.schema.json")) as f:
    schema = json.load(f)
schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
schema["properties"]["projects"]["items"] = {"allOf": [schema["properties"]["projects"]["items"], policy]}
equivalent = os.path.join(work, "equivalent.schema.json")
with open(equivalent, "w") as f:
    json.dump(schema, f)

checker = shutil.which("check-jsonschema")
if checker is None:
    sys.exit("check-jsonschema not found: pip install check-jsonschema")

def measure(cmd, runs):
    """Median wall seconds and peak RSS (MB) over `runs` runs; every run must succeed."""
    times, peaks = [], []
    for _ in range(runs):
        out = subprocess.run(["/usr/bin/time", "-f", "%e %M"] + cmd, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
        wall, rss = out.stderr.strip().splitlines()[-1].split()
        times.append(float(wall))
        peaks.append(int(rss) / 1024)
    return statistics.median(times), max(peaks)

# /usr/bin/time has 10 ms resolution: small runs are also timed in-process for a finer figure.
def fine(cmd, runs):
    import time
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)

print("| projects | file | tagrec validate | peak memory | check-jsonschema | peak memory | ratio |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for n in sizes:
    manifest = os.path.join(work, f"projects-{n}.yaml")
    runs = runs_small if n <= 10000 else runs_large
    tagrec = [binary, "validate", "-f", manifest, "--format", "json"]
    other = [checker, "--schemafile", equivalent, manifest]
    t_wall = fine(tagrec, runs)
    _, t_rss = measure(tagrec, 1 if n > 10000 else 3)
    size = os.path.getsize(manifest) / 1e6
    if n > compare_up_to:
        print(f"| {n:,} | {size:.1f} MB | {t_wall*1000:.1f} ms | {t_rss:.0f} MB | not run | | |", flush=True)
        continue
    # Seconds per run: one run, timed by /usr/bin/time, is precise enough.
    c_wall, c_rss = measure(other, 1)
    print(f"| {n:,} | {size:.1f} MB | {t_wall*1000:.1f} ms | {t_rss:.0f} MB | {c_wall*1000:.0f} ms | {c_rss:.0f} MB | {c_wall/t_wall:.0f}x |", flush=True)
PY
