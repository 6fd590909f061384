#!/usr/bin/env bash
# Installs Volant from a release for the fledge GitHub Action: downloads the release
# tarball and its SHA256SUMS, verifies the tarball against it, unpacks it into
# INSTALL_DIR and puts `volant` and a `fledge` link on the PATH ($GITHUB_PATH).
#
# Env: VOLANT_VERSION (tag, required), VOLANT_REPOSITORY (owner/name),
#      VOLANT_ASSET (file name; {version} is replaced), INSTALL_DIR,
#      VOLANT_RELEASE_BASE_URL (default https://github.com/<repo>/releases/download/<tag>).
set -euo pipefail

fail() { echo "install-volant: $*" >&2; exit 1; }

[ -n "${VOLANT_VERSION:-}" ] || fail "volant-version is required (a release tag such as v0.1.0)"
case "$VOLANT_VERSION" in
  *[!A-Za-z0-9._+-]*) fail "volant-version '$VOLANT_VERSION' is not a release tag" ;;
esac
default_asset='volant-{version}-linux-x86_64.tar.gz'
asset="${VOLANT_ASSET:-$default_asset}"
asset="${asset//"{version}"/$VOLANT_VERSION}"
case "$asset" in
  */* | "") fail "asset '$asset' must be a plain file name" ;;
esac
if [ -z "${VOLANT_RELEASE_BASE_URL:-}" ]; then
  [ -n "${VOLANT_REPOSITORY:-}" ] || fail "volant-repository is required (owner/name)"
  VOLANT_RELEASE_BASE_URL="https://github.com/${VOLANT_REPOSITORY}/releases/download/${VOLANT_VERSION}"
fi
install_dir="${INSTALL_DIR:-${RUNNER_TEMP:-/tmp}/volant-${VOLANT_VERSION}}"
download_dir="$(mktemp -d "${RUNNER_TEMP:-/tmp}/volant-dl.XXXXXX")"
trap 'rm -rf "$download_dir"' EXIT

fetch() {
  curl --fail --silent --show-error --location --retry 3 --max-time 300 \
    --output "$download_dir/$1" "$VOLANT_RELEASE_BASE_URL/$1" || fail "cannot download $VOLANT_RELEASE_BASE_URL/$1"
}
fetch SHA256SUMS
fetch "$asset"

# Verify: the tarball must be listed, and must match.
expected="$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1 }' "$download_dir/SHA256SUMS")"
[ -n "$expected" ] || fail "$asset is not listed in SHA256SUMS"
actual="$(sha256sum "$download_dir/$asset" | awk '{ print $1 }')"
[ "$expected" = "$actual" ] || fail "checksum mismatch for $asset: expected sha256:$expected, got sha256:$actual"

rm -rf "$install_dir"
mkdir -p "$install_dir"
tar -xzf "$download_dir/$asset" -C "$install_dir" --no-same-owner
# The release layout (scripts/release.ts): volant-<tag>-linux-x86_64/{bin/volant,
# bin/{volantd,volar,fledge} -> volant, share/volant/shim, lib/volant/ (bundle shape only)}.
volant="$(find "$install_dir" -mindepth 3 -maxdepth 3 -path '*/bin/volant' -type f -perm -u+x | sort | head -n 1)"
[ -n "$volant" ] || fail "$asset has no executable bin/volant"
bin_dir="$(dirname "$volant")"
if [ -d "$(dirname "$bin_dir")/lib/volant" ] && ! command -v "${VOLANT_DENO:-deno}" >/dev/null; then
  fail "$asset is the bundle shape (see its README) and needs Deno 2.9 on the runner: add denoland/setup-deno"
fi
for persona in fledge volar volantd; do
  [ -e "$bin_dir/$persona" ] || ln -s volant "$bin_dir/$persona"
done
# The static shim fledge puts at /init ships in the same tarball.
shim="$(dirname "$bin_dir")/share/volant/shim"
[ -f "$shim" ] || fail "$asset has no share/volant/shim (fledge needs it for /init)"
if [ -n "${GITHUB_PATH:-}" ]; then echo "$bin_dir" >> "$GITHUB_PATH"; fi
if [ -n "${GITHUB_ENV:-}" ]; then echo "FLEDGE_SHIM=$shim" >> "$GITHUB_ENV"; fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "bin-dir=$bin_dir" >> "$GITHUB_OUTPUT"
  echo "shim-path=$shim" >> "$GITHUB_OUTPUT"
fi
echo "install-volant: $asset (sha256:$actual) -> $bin_dir"
