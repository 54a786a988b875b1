#!/usr/bin/env bash
# Installs a prebuilt tagrec release for this machine, checked against the release's SHA256SUMS,
# and falls back to `cargo binstall`, then `cargo install --locked`, when no archive fits.
# Used by the GitHub Action (action.yml) and usable as is from any CI (GitLab, Jenkins...) or a
# shell: everything comes from environment variables, all optional.
#
#   TAGREC_VERSION       0.2.0, v0.2.0 or latest                          (default: latest)
#   TAGREC_REPOSITORY    where releases are published  (default: https://github.com/tagrec/tagrec)
#   TAGREC_RELEASE_URL   the base the archives are under, laid out as <base>/v<version>/<archive>
#                        and <base>/v<version>/SHA256SUMS: a URL, a file:// URL or a directory
#                        (default: $TAGREC_REPOSITORY/releases/download)
#   TAGREC_TARGET        the Rust target triple to install, instead of the detected one
#   TAGREC_INSTALL_DIR   the directory the `tagrec` binary goes to
#                        (default: $RUNNER_TOOL_CACHE, else ~/.cache, /tagrec/<version>/<target>)
#
#   install.sh             installs (or reuses a binary already there), prints the directory on
#                          stdout; messages go to stderr. With GITHUB_PATH set, the directory is
#                          added to it; with GITHUB_OUTPUT set, version, target, dir and method
#                          (cached, release, binstall or cargo) are written to it.
#   install.sh --resolve   installs nothing: prints (and writes to GITHUB_OUTPUT) version=,
#                          target= and dir=, for a cache key.
#
# Exit 0 when `tagrec --version` of the installed binary reports the wanted version, 1 otherwise
# (a checksum mismatch is always an error, never a reason to fall back).
set -euo pipefail

repository=${TAGREC_REPOSITORY:-https://github.com/tagrec/tagrec}
release_url=${TAGREC_RELEASE_URL:-$repository/releases/download}
release_url=${release_url%/}

say() { printf 'tagrec install: %s\n' "$*" >&2; }
fail() {
  say "error: $*"
  exit 1
}

# The Rust target triple of the release archive that runs here; empty when none is built for it.
detect_target() {
  local os arch
  os=$(uname -s)
  arch=$(uname -m)
  case "$os:$arch" in
    Linux:x86_64 | Linux:amd64) echo x86_64-unknown-linux-musl ;;
    Linux:aarch64 | Linux:arm64) echo aarch64-unknown-linux-musl ;;
    Darwin:x86_64) echo x86_64-apple-darwin ;;
    Darwin:arm64 | Darwin:aarch64) echo aarch64-apple-darwin ;;
    MINGW*:x86_64 | MSYS*:x86_64 | CYGWIN*:x86_64 | Windows_NT:x86_64 | Windows_NT:AMD64)
      echo x86_64-pc-windows-msvc
      ;;
    *) echo "" ;;
  esac
}

# Copies a URL, a file:// URL or a local path to a file. Fails quietly: callers say what failed.
fetch() {
  local from=$1 to=$2
  case "$from" in
    file://*) cp "${from#file://}" "$to" 2>/dev/null ;;
    http://* | https://*)
      if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 3 --connect-timeout 20 -o "$to" "$from" 2>/dev/null
      elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$to" "$from"
      else
        fail "neither curl nor wget is installed: cannot download $from"
      fi
      ;;
    *) cp "$from" "$to" 2>/dev/null ;;
  esac
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    openssl dgst -sha256 -r "$1" | cut -d' ' -f1
  fi
}

# latest -> the version of the newest release, read from where GitHub's /releases/latest redirects.
resolve_version() {
  local wanted=${TAGREC_VERSION:-latest}
  if [ "$wanted" != latest ]; then
    echo "${wanted#v}"
    return
  fi
  case "$repository" in
    https://github.com/*) ;;
    *) fail "TAGREC_VERSION=latest needs a GitHub repository; set TAGREC_VERSION to a version" ;;
  esac
  local landed
  landed=$(curl -fsSLI -o /dev/null -w '%{url_effective}' "$repository/releases/latest") ||
    fail "could not find the latest release at $repository/releases/latest"
  case "$landed" in
    */releases/tag/v*) echo "${landed##*/releases/tag/v}" ;;
    *) fail "no release found at $repository/releases/latest (landed on $landed)" ;;
  esac
}

binary_name() {
  case "$1" in
    *windows*) echo tagrec.exe ;;
    *) echo tagrec ;;
  esac
}

# Whether DIR holds a tagrec that says it is VERSION.
has_version() {
  local bin=$1/$2
  [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "tagrec $3" ]
}

write_output() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    printf '%s\n' "$@" >>"$GITHUB_OUTPUT"
  fi
}

version=$(resolve_version)
case "$version" in
  [0-9]*.[0-9]*.[0-9]*) ;;
  *) fail "not a version: '$version' (expected e.g. 0.2.0)" ;;
esac
detected=${TAGREC_TARGET:-$(detect_target)}
# Where the binary goes is keyed by what runs here, so that a cache of it is never reused elsewhere.
key=${detected:-unknown-$(uname -s)-$(uname -m)}
key=$(printf '%s' "$key" | tr 'A-Z /' 'a-z__')
cache_root=${RUNNER_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}}
dir=${TAGREC_INSTALL_DIR:-$cache_root/tagrec/$version/$key}
bin=$(binary_name "$detected")

if [ "${1:-}" = --resolve ]; then
  printf 'version=%s\ntarget=%s\ndir=%s\n' "$version" "$key" "$dir"
  write_output "version=$version" "target=$key" "dir=$dir"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/tagrec-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Unpacks the release archive for $detected into $work/unpacked; returns 1 when the release has
# no archive for it (or cannot be read); exits on a checksum mismatch.
from_release() {
  [ -n "$detected" ] || {
    say "no prebuilt tagrec for $(uname -s) $(uname -m)"
    return 1
  }
  local archive ext base expected actual
  case "$detected" in
    *windows*) ext=zip ;;
    *) ext=tar.gz ;;
  esac
  archive=tagrec-$version-$detected.$ext
  base=$release_url/v$version
  if ! fetch "$base/SHA256SUMS" "$work/SHA256SUMS"; then
    say "could not read $base/SHA256SUMS"
    return 1
  fi
  expected=$(awk -v name="$archive" '$2 == name || $2 == "*" name { print $1; exit }' "$work/SHA256SUMS")
  if [ -z "$expected" ]; then
    say "release v$version has no $archive"
    return 1
  fi
  say "downloading $base/$archive"
  fetch "$base/$archive" "$work/$archive" || fail "could not download $base/$archive"
  actual=$(sha256_of "$work/$archive")
  if [ "$actual" != "$expected" ]; then
    fail "checksum mismatch for $archive: SHA256SUMS says $expected, the download is $actual; nothing installed"
  fi
  mkdir -p "$work/unpacked"
  case "$ext" in
    zip)
      if command -v unzip >/dev/null 2>&1; then
        unzip -q "$work/$archive" -d "$work/unpacked"
      else
        powershell -NoProfile -Command "Expand-Archive -LiteralPath '$work/$archive' -DestinationPath '$work/unpacked'"
      fi
      ;;
    *) tar -xzf "$work/$archive" -C "$work/unpacked" ;;
  esac
  local found=$work/unpacked/tagrec-$version-$detected/$bin
  [ -f "$found" ] || fail "$archive does not hold tagrec-$version-$detected/$bin"
  mv "$found" "$work/$bin"
}

# Builds or fetches tagrec with cargo into $work/$bin: cargo binstall when it is installed, else
# cargo install --locked (a few minutes of compiling).
from_cargo() {
  command -v cargo >/dev/null 2>&1 ||
    fail "no prebuilt tagrec $version for ${detected:-this platform}, and cargo is not installed to build it"
  mkdir -p "$work/root/bin"
  if cargo binstall -V >/dev/null 2>&1; then
    method=binstall
    say "cargo binstall tagrec $version"
    cargo binstall --no-confirm --force --locked --version "$version" \
      --install-path "$work/root/bin" tagrec >&2 || fail "cargo binstall tagrec $version failed"
  else
    method=cargo
    say "cargo install --locked tagrec $version (compiling: this takes a few minutes)"
    cargo install --locked --force --version "$version" --root "$work/root" tagrec >&2 ||
      fail "cargo install tagrec $version failed"
  fi
  local built=$work/root/bin/tagrec
  [ -f "$built" ] || built=$work/root/bin/tagrec.exe
  [ -f "$built" ] || fail "cargo reported success but installed no tagrec binary"
  bin=$(basename "$built")
  mv "$built" "$work/$bin"
}

if has_version "$dir" "$bin" "$version"; then
  method=cached
  say "tagrec $version already in $dir"
else
  method=release
  from_release || from_cargo
  chmod +x "$work/$bin"
  mkdir -p "$dir"
  # Renamed into place, so that an interrupted install never leaves half a binary behind.
  mv -f "$work/$bin" "$dir/$bin.partial"
  mv -f "$dir/$bin.partial" "$dir/$bin"
  has_version "$dir" "$bin" "$version" ||
    fail "the installed $dir/$bin does not report version $version: $("$dir/$bin" --version 2>&1 || true)"
  say "installed tagrec $version ($method) in $dir"
fi

if [ -n "${GITHUB_PATH:-}" ]; then
  echo "$dir" >>"$GITHUB_PATH"
fi
write_output "version=$version" "target=$key" "dir=$dir" "method=$method"
echo "$dir"
