/**
 * The jailed VMM's filesystem: a private mount namespace whose root is a
 * small read-only tmpfs holding only what the VMM needs, each at its host
 * path (so the command line, QMP and serial sockets mean the same on both
 * sides): its runtime dir and writable overlays (read-write), its kernel,
 * initramfs and read-only disks (read-only), the VMM binary, the shared
 * libraries and firmware/ROM directories, the loader cache, and a few
 * device nodes. No /proc, no /sys, no /etc beyond ld.so.cache, no state dir,
 * no other VM's files.
 *
 * Built by `unshare --mount` + one sh script run as root before the drop to
 * the VMM user (same pid throughout: unshare and sh exec in place):
 * tmpfs root, bind mounts, remount read-only, `pivot_root . .`, detach the
 * old root, then exec setpriv -> VMM. util-linux umount needs a mountinfo to
 * detach the old root, so a proc is mounted for that one step and unmounted
 * again (an empty /proc directory stays).
 *
 * @module
 */
import type { VmSpec } from "../service/ports.ts";

/** One entry of the jail's tree: `ro`/`rw` bind, `dev` node bind, `ln` copied symlink. */
export interface JailMount {
  kind: "ro" | "rw" | "dev" | "ln";
  path: string;
}

/** Where the jail's tmpfs root is mounted inside each VMM's own namespace (empty on the host). */
export const DEFAULT_JAIL_ROOT_MOUNT = "/run/volant-vmm-root";

/** Library and firmware directories a VMM may load from (those that exist are bound). */
const SYSTEM_DIRS = [
  "/usr/lib",
  "/usr/lib64",
  "/usr/lib32",
  "/usr/share/qemu",
  "/usr/share/seabios",
  "/usr/share/ipxe",
  "/usr/share/qemu-efi",
  "/usr/share/ovmf",
  "/usr/share/cloud-hypervisor",
];
/** Top-level entries that are symlinks into /usr on merged-/usr hosts, real dirs elsewhere. */
const TOP_LEVEL = ["/bin", "/sbin", "/lib", "/lib64", "/lib32"];
/** Device nodes every VMM gets (entropy and the null sinks QEMU opens). */
const DEVICES = ["/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"];

async function kindOf(path: string): Promise<"dir" | "file" | "link" | null> {
  try {
    const st = await Deno.lstat(path);
    return st.isSymlink ? "link" : st.isDirectory ? "dir" : "file";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/**
 * The host part of every jail's tree, resolved once at daemon start:
 * `binaries` (the VMM, setpriv, umount; absolute, resolved) plus the host's
 * library and firmware dirs, its top-level /lib-style links and ld.so.cache.
 */
export async function systemMounts(binaries: string[]): Promise<JailMount[]> {
  const out: JailMount[] = [];
  for (const p of TOP_LEVEL) {
    const k = await kindOf(p);
    // A symlink is copied; a real /lib (unmerged /usr) is bound read-only.
    if (k === "link") out.push({ kind: "ln", path: p });
    else if (k === "dir") out.push({ kind: "ro", path: p });
  }
  for (const p of SYSTEM_DIRS) {
    const k = await kindOf(p);
    if (k === "link") out.push({ kind: "ln", path: p });
    else if (k === "dir") out.push({ kind: "ro", path: p });
  }
  if (await kindOf("/etc/ld.so.cache") === "file") {
    out.push({ kind: "ro", path: "/etc/ld.so.cache" });
  }
  const covered = (p: string) => out.some((m) => m.kind === "ro" && p.startsWith(`${m.path}/`));
  for (const b of binaries) if (!covered(b)) out.push({ kind: "ro", path: b });
  for (const d of DEVICES) if (await kindOf(d) === "file") out.push({ kind: "dev", path: d });
  return out;
}

/**
 * The per-VM part: its runtime dir and writable overlays read-write; kernel,
 * initramfs, read-only disks and backing images read-only; /dev/kvm only
 * under KVM, /dev/vhost-vsock only with a vsock.
 */
export function vmMounts(
  spec: Pick<VmSpec, "runtimeDir" | "kernel" | "initramfs" | "disks" | "vsock">,
  accel: "kvm" | "tcg",
): JailMount[] {
  const out: JailMount[] = [{ kind: "rw", path: spec.runtimeDir }];
  out.push({ kind: "ro", path: spec.kernel });
  if (spec.initramfs) out.push({ kind: "ro", path: spec.initramfs });
  for (const d of spec.disks) {
    out.push({ kind: d.readonly ? "ro" : "rw", path: d.path });
    if (d.backingImage) out.push({ kind: "ro", path: d.backingImage });
  }
  if (accel === "kvm") out.push({ kind: "dev", path: "/dev/kvm" });
  if (spec.vsock) out.push({ kind: "dev", path: "/dev/vhost-vsock" });
  // One path bound once: a disk listed twice (or an artifact shared) must not stack mounts.
  const seen = new Set<string>();
  return out.filter((m) => !seen.has(m.path) && seen.add(m.path));
}

/**
 * The namespace script. Arguments: cgroup.procs files, `--`, the tmpfs
 * mountpoint, umount's path, `kind:path` entries, `--`, then the command
 * (setpriv ... VMM) it execs inside the new root. Any failure exits
 * non-zero before the VMM runs, with the reason on stderr (the VMM log).
 */
export const JAIL_SCRIPT = [
  "set -e",
  "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
  'while [ "$1" != -- ]; do echo $$ >"$1" || exit 125; shift; done; shift',
  "r=$1; u=$2; shift 2",
  'mount -t tmpfs -o mode=0755,nosuid,nodev,size=1m volant-vmm-root "$r"',
  'while [ "$1" != -- ]; do',
  "  k=${1%%:*}; p=${1#*:}; t=$r$p",
  '  mkdir -p "${t%/*}"',
  '  if [ "$k" = ln ]; then ln -s "$(readlink "$p")" "$t"; shift; continue; fi',
  '  if [ -d "$p" ]; then mkdir -p "$t"; else : >"$t"; fi',
  "  case $k in",
  '    ro) mount -o bind,ro,nosuid,nodev "$p" "$t" ;;',
  '    rw) mount -o bind,nosuid,nodev,noexec "$p" "$t" ;;',
  '    dev) mount -o bind,nosuid,noexec "$p" "$t" ;;',
  '    *) echo "volant-jail: bad entry $1" >&2; exit 125 ;;',
  "  esac",
  "  shift",
  "done",
  "shift",
  'mkdir "$r/proc"',
  'mount -t proc -o nosuid,nodev,noexec proc "$r/proc"',
  'mount -o remount,ro,nosuid,nodev "$r"',
  'cd "$r"',
  "pivot_root . .",
  '"$u" -l .',
  '"$u" /proc',
  "cd /",
  'exec "$@"',
].join("\n");

/** The script's arguments between the cgroup files and the command. */
export function jailRootArgs(rootMount: string, umount: string, mounts: JailMount[]): string[] {
  return [rootMount, umount, ...mounts.map((m) => `${m.kind}:${m.path}`), "--"];
}
