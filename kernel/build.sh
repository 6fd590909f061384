#!/usr/bin/env bash
# Builds the microVM guest kernel (PVH vmlinux + bzImage) from Debian's
# linux-source package with `allnoconfig` + our fragments, and caches the
# result keyed by the source version and the fragments. A cache hit costs
# nothing; a build takes ~12 min on 2 cores.
#
# Usage: kernel/build.sh [--print-key] [--force]
# Env:   VOLANT_CACHE_DIR (default /var/cache/volant), JOBS (default nproc)
# Ends by printing the paths of vmlinux and bzImage (two lines: `vmlinux=...`, `bzImage=...`).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache_root="${VOLANT_CACHE_DIR:-/var/cache/volant}/kernel"
src_pkg=linux-source-6.1
src_tar=/usr/src/linux-source-6.1.tar.xz
jobs="${JOBS:-$(nproc)}"
force=0
print_key=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --print-key) print_key=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "kernel/build.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

die() { echo "kernel/build.sh: $*" >&2; exit 1; }

src_version=$(dpkg-query -W -f='${Version}' "$src_pkg" 2>/dev/null) ||
  die "$src_pkg is not installed: apt-get install -y $src_pkg flex bison libelf-dev bc libssl-dev"
[ -f "$src_tar" ] || die "$src_tar missing: apt-get install --reinstall -y $src_pkg"

# The merged fragment: every file in fragments/, in name order.
fragment=$(mktemp)
work=""
staging=""
# On any exit (a failed config check or compile included) leave no 1+ GB tree behind.
trap 'rm -f "$fragment"; [ -z "$work" ] || rm -rf "$work"; [ -z "$staging" ] || rm -rf "$staging"' EXIT
cat "$here"/fragments/*.config | grep -E '^(CONFIG_|# CONFIG_.* is not set)' > "$fragment"

key=$( { echo "$src_pkg $src_version"; cat "$fragment"; echo "build.sh v1"; } | sha256sum | cut -c1-16)
out="$cache_root/$key"
if [ "$print_key" = 1 ]; then echo "$key"; exit 0; fi

publish() {
  ln -sfn "$key" "$cache_root/current.tmp" && mv -T "$cache_root/current.tmp" "$cache_root/current"
  echo "vmlinux=$out/vmlinux"
  echo "bzImage=$out/bzImage"
}

if [ "$force" = 0 ] && [ -f "$out/vmlinux" ] && [ -f "$out/bzImage" ]; then
  echo "kernel: cache hit ($key)" >&2
  publish
  exit 0
fi

# One build per key at a time: a second run used to wipe the first one's tree
# mid-build. It now waits for the lock and then takes the cache hit.
mkdir -p "$cache_root"
exec 9>"$cache_root/.lock-$key"
if ! flock -n 9; then
  echo "kernel: another build of $key is running; waiting for it (lock $cache_root/.lock-$key)" >&2
  flock 9
fi
if [ "$force" = 0 ] && [ -f "$out/vmlinux" ] && [ -f "$out/bzImage" ]; then
  echo "kernel: cache hit after waiting ($key)" >&2
  publish
  exit 0
fi

for tool in make gcc flex bison bc; do
  command -v "$tool" >/dev/null || die "$tool missing: apt-get install -y flex bison libelf-dev bc libssl-dev gcc make"
done

mkdir -p "$cache_root"
work="$cache_root/build-$key"
rm -rf "$work"
mkdir -p "$work"
echo "kernel: extracting $src_tar ($src_version)" >&2
tar -C "$work" -xf "$src_tar"
tree="$work/$src_pkg"

export KBUILD_BUILD_TIMESTAMP="1970-01-01" KBUILD_BUILD_USER=volant KBUILD_BUILD_HOST=volant
echo "kernel: configuring (allnoconfig + fragments)" >&2
make -C "$tree" -s allnoconfig KCONFIG_ALLCONFIG="$fragment" >&2

# Kconfig silently drops symbols whose dependencies are off: every line must survive.
missing=0
while IFS= read -r line; do
  if ! grep -qxF "$line" "$tree/.config"; then
    echo "kernel: fragment line did not survive into .config: $line" >&2
    missing=1
  fi
done < "$fragment"
[ "$missing" = 0 ] || die "config check failed (see lines above); fix kernel/fragments/"

echo "kernel: building vmlinux and bzImage with $jobs jobs (about 12 min on 2 cores)" >&2
start=$(date +%s)
make -C "$tree" -s -j"$jobs" vmlinux bzImage >&2
echo "kernel: built in $(( $(date +%s) - start )) s" >&2

staging="$cache_root/.staging-$key"
rm -rf "$staging"
mkdir -p "$staging"
cp "$tree/vmlinux" "$staging/vmlinux"
cp "$tree/arch/x86/boot/bzImage" "$staging/bzImage"
cp "$tree/.config" "$staging/config"
echo "$src_pkg $src_version" > "$staging/SOURCE"
(cd "$staging" && sha256sum vmlinux bzImage > SHA256SUMS)
rm -rf "$out"
mv "$staging" "$out"
rm -rf "$work"
publish
