#!/usr/bin/env bash
# Runs `fledge build --json` for the fledge GitHub Action and turns the summary into
# step outputs ($GITHUB_OUTPUT): artifact, artifact-path, checksum, manifest-path,
# sha256sums-path.
#
# With FLEDGE_SIGNING_KEY (a minisign secret key file's text, from a secret) it also signs
# the manifest and SHA256SUMS (`fledge build --sign`) and outputs their .minisig paths and
# the key id; the key is written to a 0600 file under RUNNER_TEMP and removed on exit.
#
# Env: FLEDGE_CONFIG, FLEDGE_OUTPUT, FLEDGE_BASE_URL (optional), FLEDGE (the command,
#      default `fledge`); FLEDGE_SHIM (set by install_volant.sh) is read by fledge itself;
#      FLEDGE_SIGNING_KEY, FLEDGE_KEY_PASSWORD (optional, for an encrypted key).
set -euo pipefail

fail() { echo "fledge-build: $*" >&2; exit 1; }
command -v jq >/dev/null || fail "jq is required (preinstalled on GitHub runners; apt-get install jq)"

args=(build -c "${FLEDGE_CONFIG:-fledge.toml}" -o "${FLEDGE_OUTPUT:-dist}" --json)
if [ -n "${FLEDGE_BASE_URL:-}" ]; then args+=(--base-url "$FLEDGE_BASE_URL"); fi
if [ -n "${FLEDGE_SIGNING_KEY:-}" ]; then
  keyfile="$(umask 077 && mktemp "${RUNNER_TEMP:-/tmp}/fledge-key.XXXXXX")"
  trap 'rm -f "$keyfile"' EXIT
  printf '%s\n' "$FLEDGE_SIGNING_KEY" > "$keyfile"
  args+=(--sign "$keyfile")
fi

summary="$(${FLEDGE:-fledge} "${args[@]}")" || { echo "$summary"; fail "fledge build failed"; }
[ "$(jq -r .ok <<<"$summary")" = "true" ] || fail "unexpected summary: $summary"

# Absolute paths: later steps may run in another working directory.
abs() { realpath "$(jq -r "$1" <<<"$summary")"; }
out="${GITHUB_OUTPUT:-/dev/stdout}"
{
  echo "artifact=$(jq -r .artifact.file <<<"$summary")"
  echo "artifact-path=$(abs .artifact.path)"
  echo "checksum=$(jq -r .artifact.checksum <<<"$summary")"
  echo "manifest-path=$(abs .manifest.path)"
  echo "sha256sums-path=$(abs .sha256sums)"
  if [ -n "${FLEDGE_SIGNING_KEY:-}" ]; then
    echo "manifest-signature-path=$(abs .signatures.manifest)"
    echo "sha256sums-signature-path=$(abs .signatures.sha256sums)"
    echo "signing-key-id=$(jq -r .signatures.key_id <<<"$summary")"
  fi
} >> "$out"
