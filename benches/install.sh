#!/usr/bin/env bash
# Benchmark of the release download: the size of this host's `dist` archive (against the
# `release` binary), and the time action/install.sh takes to install it from a local release
# layout (no network: what remains is the checksum, unpacking and the version check), cold
# (nothing installed) and cached (the binary already there, as after actions/cache restores it).
#
#   benches/install.sh            # builds the dist and release profiles first (dist is slow: LTO)
#   RUNS=30 benches/install.sh
#
# Uses hyperfine when it is installed (apt-get install hyperfine), else a loop timed with date.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
nice -n 19 cargo build --quiet --profile dist
nice -n 19 cargo build --quiet --release
version=$(target/dist/tagrec --version | cut -d' ' -f2)
target=$(TAGREC_VERSION=$version bash action/install.sh --resolve | sed -n 's/^target=//p')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
name=tagrec-$version-$target
mkdir -p "$work/release/v$version" "$work/$name"
cp -R target/dist/tagrec README.md CHANGELOG.md LICENSE docs policies "$work/$name/"
tar -czf "$work/release/v$version/$name.tar.gz" -C "$work" "$name"
(cd "$work/release/v$version" && sha256sum -- *.tar.gz > SHA256SUMS)

size() { wc -c < "$1" | tr -d ' '; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
archive=$(size "$work/release/v$version/$name.tar.gz")
dist=$(size target/dist/tagrec)
release=$(size target/release/tagrec)
echo "| what | bytes | |"
echo "|---|---|---|"
echo "| \`release\` binary | $release | $(mib "$release") |"
if command -v strip > /dev/null; then
  # release keeps line tables for backtraces: stripped, it compares with dist on code alone.
  strip -o "$work/release-stripped" target/release/tagrec
  stripped=$(size "$work/release-stripped")
  echo "| \`release\` binary, stripped | $stripped | $(mib "$stripped") |"
fi
echo "| \`dist\` binary | $dist | $(mib "$dist") ($(awk -v a="$dist" -v b="$release" 'BEGIN { printf "%.0f%%", 100 * a / b }') of release) |"
echo "| \`$name.tar.gz\` | $archive | $(mib "$archive") |"
echo

export TAGREC_VERSION=$version TAGREC_RELEASE_URL=file://$work/release TAGREC_INSTALL_DIR=$work/bin
install="bash action/install.sh"
if command -v hyperfine > /dev/null; then
  hyperfine --runs "$RUNS" --warmup 2 --export-markdown "$work/cold.md" \
    --prepare "rm -rf '$work/bin'" -n "install, cold" "$install" > /dev/null 2>&1
  hyperfine --runs "$RUNS" --warmup 2 --export-markdown "$work/cached.md" \
    -n "install, cached" "$install" > /dev/null 2>&1
  cat "$work/cold.md"
  tail -n 1 "$work/cached.md"
else
  for mode in cold cached; do
    total=0
    for _ in $(seq "$RUNS"); do
      if [ "$mode" = cold ]; then rm -rf "${work:?}/bin"; fi
      start=$(date +%s%N)
      $install > /dev/null 2>&1
      total=$((total + $(date +%s%N) - start))
    done
    echo "install, $mode: mean $((total / RUNS / 1000000)) ms over $RUNS runs"
  done
fi
