#!/usr/bin/env bash
# Volant installer (docs/install.md).
#
#   curl -fsSL https://github.com/volantvm/volant/releases/latest/download/install.sh | sudo bash
#   curl -fsSL .../install.sh | sudo bash -s -- --version v0.2.0
#
# Downloads SHA256SUMS, the program archive and the guest artifacts (vmlinux, bzImage,
# agent.img.gz, boot.cpio.gz) from one release, verifies every checksum before anything
# is installed, then installs the program and its persona links (volantd, volar, fledge)
# into --prefix and the guest artifacts into --data-dir. Running it again upgrades in
# place (unchanged files are left alone); --uninstall removes exactly what it installed
# (the list is kept in <data-dir>/install-manifest).
#
# Options:
#   --version TAG     release to install (default: the newest; v0.2.0 or 0.2.0)
#   --prefix DIR      where volant and the links go (default /usr/local/bin); a bundle-shape
#                     release also puts its JS in DIR/../lib/volant
#   --data-dir DIR    guest artifacts: DIR/kernel/{vmlinux,bzImage},
#                     DIR/agent/{agent.img,boot.cpio.gz,shim} (default /var/lib/volant)
#   --no-restart      do not restart a running volantd service after an upgrade
#   --uninstall       remove what an earlier run installed (same --prefix/--data-dir)
#   -h, --help        this text
# Env: VOLANT_RELEASE_URL  base URL holding the assets (mirrors, tests); "{version}" in it
#                          is replaced by the tag.
#
# Everything runs inside main(), called on the last line, so a truncated download runs
# nothing and no command can read the rest of the script from a `curl | bash` pipe.
set -euo pipefail

REPO_URL="https://github.com/volantvm/volant"

say() { printf 'volant-install: %s\n' "$*" >&2; }
fail() {
  printf 'volant-install: %s\n' "$*" >&2
  exit 1
}

usage() {
  cat <<'EOF'
usage: install.sh [--version TAG] [--prefix DIR] [--data-dir DIR] [--no-restart] [--uninstall]
  curl -fsSL <release-url>/install.sh | sudo bash -s -- --version v0.2.0
Env: VOLANT_RELEASE_URL overrides where the assets are downloaded from.
EOF
}

# Absolute path without requiring it to exist.
absolute() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PWD" "$1" ;;
  esac
}

detect_platform() {
  local os arch
  os="$(uname -s)"
  arch="$(uname -m)"
  [ "$os" = "Linux" ] || fail "Volant runs on Linux only (this is $os)"
  case "$arch" in
    x86_64 | amd64) printf 'linux-x86_64\n' ;;
    *) fail "no Volant release for linux-$arch yet (only linux-x86_64)" ;;
  esac
}

need_tools() {
  local t missing=""
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing="$missing $t"; done
  [ -z "$missing" ] || fail "missing tools:$missing (Debian: apt-get install -y curl tar gzip coreutils)"
}

# download NAME DEST: with a progress bar when stderr is a terminal, a line otherwise.
download() {
  local name="$1" dest="$2" url="$BASE_URL/$1"
  if [ -t 2 ]; then
    say "downloading $name"
    curl --fail --location --retry 3 --connect-timeout 20 --progress-bar \
      --output "$dest" "$url" </dev/null || fail "cannot download $url"
  else
    curl --fail --location --retry 3 --connect-timeout 20 --silent --show-error \
      --output "$dest" "$url" </dev/null || fail "cannot download $url"
    say "downloaded $name ($(wc -c <"$dest" | tr -d ' ') bytes)"
  fi
}

# verify NAME: the file in $DL must match its SHA256SUMS line exactly.
verify() {
  local name="$1" expected actual
  expected="$(awk -v f="$name" '$2 == f || $2 == "*" f { print $1; exit }' "$DL/SHA256SUMS")"
  [ -n "$expected" ] || fail "$name is not listed in SHA256SUMS; nothing was installed"
  actual="$(sha256sum "$DL/$name" | awk '{ print $1 }')"
  if [ "$expected" != "$actual" ]; then
    fail "checksum mismatch for $name: expected sha256:$expected, actual sha256:$actual; nothing was installed"
  fi
}

# The install record: one "kind<TAB>path" line per thing installed (file, link, dir).
RECORD_LINES=()
record() { RECORD_LINES+=("$1	$2"); }

# ensure_dir DIR: creates DIR and missing parents, recording each one created.
ensure_dir() {
  local d="$1"
  [ -d "$d" ] && return 0
  ensure_dir "$(dirname "$d")"
  mkdir -m 0755 "$d"
  record dir "$d"
}

CHANGED=0
# put_file SRC DEST MODE: atomic replace (rename) unless DEST already has these bytes.
put_file() {
  local src="$1" dest="$2" mode="$3"
  record file "$dest"
  if [ -f "$dest" ] && [ ! -L "$dest" ] && cmp -s "$src" "$dest"; then
    chmod "$mode" "$dest"
    return 0
  fi
  cp "$src" "$dest.volant-new"
  chmod "$mode" "$dest.volant-new"
  mv -f "$dest.volant-new" "$dest"
  CHANGED=1
  say "installed $dest"
}

# put_link TARGET DEST
put_link() {
  record link "$2"
  if [ -L "$2" ] && [ "$(readlink "$2")" = "$1" ]; then return 0; fi
  ln -sfn "$1" "$2"
  CHANGED=1
  say "linked $2 -> $1"
}

# put_tree SRC DEST: replaces directory DEST with SRC as one rename (bundle JS).
put_tree() {
  local src="$1" dest="$2"
  record tree "$dest"
  if [ -d "$dest" ] && diff -r "$src" "$dest" >/dev/null 2>&1; then return 0; fi
  rm -rf "$dest.volant-new" "$dest.volant-old"
  cp -R "$src" "$dest.volant-new"
  if [ -e "$dest" ]; then mv "$dest" "$dest.volant-old"; fi
  mv "$dest.volant-new" "$dest"
  rm -rf "$dest.volant-old"
  CHANGED=1
  say "installed $dest/"
}

# in_record PATH: this run installed PATH (as file, link or tree).
in_record() {
  local line
  for line in "${RECORD_LINES[@]}"; do
    [ "${line#*	}" = "$1" ] && return 0
  done
  return 1
}

# writable DIR: DIR, or its nearest existing ancestor, may be written by us.
writable() {
  local d="$1"
  while [ ! -e "$d" ]; do d="$(dirname "$d")"; done
  [ -d "$d" ] && [ -w "$d" ]
}

write_record() {
  local tmp="$RECORD.volant-new"
  {
    printf '# volant install.sh record: what --uninstall removes (kind<TAB>path)\n'
    printf 'version\t%s\n' "$TAG"
    printf '%s\n' "${RECORD_LINES[@]}"
  } >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$RECORD"
}

# Lines of an earlier record of one kind, as paths.
recorded() {
  [ -f "$RECORD" ] || return 0
  awk -F '\t' -v k="$1" '$1 == k { print $2 }' "$RECORD"
}

uninstall() {
  [ -f "$RECORD" ] || fail "nothing to uninstall: no install record at $RECORD"
  if [ -f /etc/systemd/system/volantd.service ]; then
    say "note: /etc/systemd/system/volantd.service exists; 'volar setup --uninstall' removes it"
  fi
  local path
  while IFS= read -r path; do
    if [ -L "$path" ]; then rm -f "$path" && say "removed $path"; fi
  done < <(recorded link)
  while IFS= read -r path; do
    if [ -f "$path" ]; then rm -f "$path" && say "removed $path"; fi
  done < <(recorded file)
  while IFS= read -r path; do
    if [ -d "$path" ]; then rm -rf "$path" && say "removed $path/"; fi
  done < <(recorded tree)
  local dirs
  dirs="$(recorded dir)"
  rm -f "$RECORD"
  # Directories it created, deepest first, only when empty (state such as volant.db stays).
  while IFS= read -r path; do
    [ -n "$path" ] || continue
    if [ -d "$path" ] && rmdir "$path" 2>/dev/null; then say "removed $path/"; fi
  done < <(printf '%s\n' "$dirs" | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2-)
  say "uninstalled"
}

main() {
  local version="" prefix="/usr/local/bin" data_dir="/var/lib/volant" restart=1 action=install
  while [ $# -gt 0 ]; do
    case "$1" in
      --version) [ $# -ge 2 ] || fail "--version needs a tag"; version="$2"; shift 2 ;;
      --version=*) version="${1#*=}"; shift ;;
      --prefix) [ $# -ge 2 ] || fail "--prefix needs a directory"; prefix="$2"; shift 2 ;;
      --prefix=*) prefix="${1#*=}"; shift ;;
      --data-dir) [ $# -ge 2 ] || fail "--data-dir needs a directory"; data_dir="$2"; shift 2 ;;
      --data-dir=*) data_dir="${1#*=}"; shift ;;
      --no-restart) restart=0; shift ;;
      --uninstall) action=uninstall; shift ;;
      -h | --help) usage; return 0 ;;
      *) usage >&2; fail "unknown option '$1'" ;;
    esac
  done
  prefix="$(absolute "$prefix")"
  data_dir="$(absolute "$data_dir")"
  RECORD="$data_dir/install-manifest"
  TAG=""
  if [ "$action" = uninstall ]; then
    uninstall
    return 0
  fi

  local platform d
  platform="$(detect_platform)"
  need_tools curl tar gzip sha256sum awk cmp mktemp
  if [ -n "$version" ]; then
    case "$version" in
      v*) ;;
      *) version="v$version" ;;
    esac
    case "$version" in
      *[!A-Za-z0-9._+-]*) fail "--version '$version' is not a release tag" ;;
    esac
  fi
  local base="${VOLANT_RELEASE_URL:-}"
  if [ -z "$base" ]; then
    if [ -n "$version" ]; then base="$REPO_URL/releases/download/$version"
    else base="$REPO_URL/releases/latest/download"; fi
  fi
  BASE_URL="${base//\{version\}/$version}"
  BASE_URL="${BASE_URL%/}"

  DL="$(mktemp -d "${TMPDIR:-/tmp}/volant-install.XXXXXX")"
  trap 'rm -rf "$DL"' EXIT
  say "release: $BASE_URL"
  download SHA256SUMS "$DL/SHA256SUMS"
  local archive
  if [ -n "$version" ]; then
    archive="volant-$version-$platform.tar.gz"
  else
    archive="$(awk -v p="-$platform.tar.gz" '{ n = $2; sub(/^\*/, "", n) }
      n ~ /^volant-v[A-Za-z0-9._+-]+/ && substr(n, length(n) - length(p) + 1) == p { print n; exit }' \
      "$DL/SHA256SUMS")"
    [ -n "$archive" ] || fail "SHA256SUMS lists no volant-<version>-$platform.tar.gz"
  fi
  TAG="${archive#volant-}"
  TAG="${TAG%-"$platform".tar.gz}"
  local assets=("$archive" vmlinux bzImage agent.img.gz boot.cpio.gz) name
  for name in "${assets[@]}"; do download "$name" "$DL/$name"; done
  for name in "${assets[@]}"; do verify "$name"; done
  say "verified ${#assets[@]} checksums"

  # Unpack and check everything before the first change to the host.
  mkdir "$DL/x"
  tar -xzf "$DL/$archive" -C "$DL/x" --no-same-owner || fail "cannot unpack $archive"
  local top="$DL/x/volant-$TAG-$platform"
  if [ ! -f "$top/bin/volant" ] || [ ! -x "$top/bin/volant" ]; then fail "$archive has no bin/volant"; fi
  [ -f "$top/share/volant/shim" ] || fail "$archive has no share/volant/shim"
  gzip -dc "$DL/agent.img.gz" >"$DL/agent.img" || fail "cannot decompress agent.img.gz"

  for d in "$prefix" "$data_dir"; do
    writable "$d" || fail "cannot write $d: run as root (curl ... | sudo bash) or pass --prefix/--data-dir"
  done
  local had_record=0
  [ -f "$RECORD" ] && had_record=1
  # Directories an earlier run created stay recorded as ours.
  while IFS= read -r d; do [ -z "$d" ] || record dir "$d"; done < <(recorded dir)

  local libdir
  libdir="$(dirname "$prefix")/lib/volant"
  ensure_dir "$prefix"
  ensure_dir "$data_dir/kernel"
  ensure_dir "$data_dir/agent"
  if [ -d "$top/lib/volant" ]; then
    ensure_dir "$(dirname "$libdir")"
    put_tree "$top/lib/volant" "$libdir"
  fi
  put_file "$top/bin/volant" "$prefix/volant" 0755
  local p
  for p in volantd volar fledge; do put_link volant "$prefix/$p"; done
  put_file "$DL/vmlinux" "$data_dir/kernel/vmlinux" 0644
  put_file "$DL/bzImage" "$data_dir/kernel/bzImage" 0644
  put_file "$DL/agent.img" "$data_dir/agent/agent.img" 0644
  put_file "$DL/boot.cpio.gz" "$data_dir/agent/boot.cpio.gz" 0644
  put_file "$top/share/volant/shim" "$data_dir/agent/shim" 0755

  # What an earlier version installed and this one does not: removed.
  local old
  while IFS= read -r old; do
    [ -n "$old" ] || continue
    in_record "$old" && continue
    if [ -e "$old" ] || [ -L "$old" ]; then rm -rf "$old" && CHANGED=1 && say "removed $old"; fi
  done < <(recorded file; recorded link; recorded tree)
  write_record

  if [ "$CHANGED" = 0 ] && [ "$had_record" = 1 ]; then
    say "volant $TAG is already installed in $prefix: nothing changed"
  else
    say "volant $TAG installed: $prefix/{volant,volantd,volar,fledge}, guest artifacts in $data_dir"
  fi
  if [ "$CHANGED" = 1 ] && [ "$restart" = 1 ] && [ -d /run/systemd/system ] &&
    systemctl is-active --quiet volantd </dev/null 2>/dev/null; then
    # VMMs run in their own sessions; the restarted daemon adopts the running VMs.
    systemctl try-restart volantd </dev/null && say "restarted volantd (running VMs are adopted)"
  fi
  case ":$PATH:" in
    *":$prefix:"*) ;;
    *) say "add $prefix to PATH" ;;
  esac
  say "next: sudo volar setup   (bridge, NAT, systemd unit; see volar setup --help)"
}

main "$@"
