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
  /** A directory (its mountpoint is a directory; else an empty file). */
  dir?: boolean;
  /** `ln`: the link's target, copied as is. */
  target?: string;
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
    if (k === "link") out.push({ kind: "ln", path: p, target: await Deno.readLink(p) });
    else if (k === "dir") out.push({ kind: "ro", path: p, dir: true });
  }
  for (const p of SYSTEM_DIRS) {
    const k = await kindOf(p);
    if (k === "link") out.push({ kind: "ln", path: p, target: await Deno.readLink(p) });
    else if (k === "dir") out.push({ kind: "ro", path: p, dir: true });
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
 * under KVM, /dev/vhost-vsock only with a QEMU vhost-vsock device (none when
 * the agent channel, a virtio-serial port in the runtime dir, carries the
 * agent instead; Cloud Hypervisor's vsock is userspace, its socket in the
 * runtime dir, so its driver passes no `vsock` here).
 */
export function vmMounts(
  spec:
    & Pick<VmSpec, "runtimeDir" | "kernel" | "initramfs" | "disks" | "vsock" | "agentChannel">
    & Partial<Pick<VmSpec, "ramImage">>,
  accel: "kvm" | "tcg",
): JailMount[] {
  const out: JailMount[] = [{ kind: "rw", path: spec.runtimeDir, dir: true }];
  out.push({ kind: "ro", path: spec.kernel });
  if (spec.initramfs) out.push({ kind: "ro", path: spec.initramfs });
  for (const d of spec.disks) {
    out.push({ kind: d.readonly ? "ro" : "rw", path: d.path });
    if (d.backingImage) out.push({ kind: "ro", path: d.backingImage });
  }
  // A restore's RAM image: rw because QEMU 7.2 opens it so (its mapping stays private).
  if (spec.ramImage) out.push({ kind: "rw", path: spec.ramImage });
  if (accel === "kvm") out.push({ kind: "dev", path: "/dev/kvm" });
  if (spec.vsock && !spec.agentChannel) out.push({ kind: "dev", path: "/dev/vhost-vsock" });
  // One path bound once: a disk listed twice (or an artifact shared) must not stack mounts.
  const seen = new Set<string>();
  return out.filter((m) => !seen.has(m.path) && seen.add(m.path));
}

/**
 * The namespace script. Arguments: cgroup.procs files, `--`, the tmpfs
 * mountpoint, umount's path, the directories and the empty files to make
 * in the tmpfs (newline-separated, already under the mountpoint: one mkdir
 * for all), `kind:path` bind entries (`ln:path=target` for links), `--`,
 * then the command (setpriv ... VMM) it execs inside the new root. Every
 * exec counts on a loaded host (tens of ms each), so the tree is made with
 * as few as possible. Any failure exits non-zero before the VMM runs, with
 * the reason on stderr (the VMM log).
 */
export const JAIL_SCRIPT = [
  "set -e",
  "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
  'while [ "$1" != -- ]; do echo $$ >"$1" || exit 125; shift; done; shift',
  "r=$1; u=$2; dirs=$3; files=$4; shift 4",
  'mount -t tmpfs -o mode=0755,nosuid,nodev,size=1m volant-vmm-root "$r"',
  "IFS='",
  "'",
  "mkdir -p $dirs",
  'for f in $files; do : >"$f"; done',
  "unset IFS",
  'while [ "$1" != -- ]; do',
  "  k=${1%%:*}; p=${1#*:}",
  "  case $k in",
  '    ln) ln -s "${p#*=}" "$r${p%%=*}" ;;',
  '    ro) mount -o bind,ro,nosuid,nodev "$p" "$r$p" ;;',
  '    rw) mount -o bind,nosuid,nodev,noexec "$p" "$r$p" ;;',
  '    dev) mount -o bind,nosuid,noexec "$p" "$r$p" ;;',
  '    *) echo "volant-jail: bad entry $1" >&2; exit 125 ;;',
  "  esac",
  "  shift",
  "done",
  "shift",
  'mount -t proc -o nosuid,nodev,noexec proc "$r/proc"',
  'mount -o remount,ro,nosuid,nodev "$r"',
  'cd "$r"',
  "pivot_root . .",
  '"$u" -l .',
  '"$u" /proc',
  "cd /",
  'exec "$@"',
].join("\n");

function parentOf(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}

/** The script's arguments between the cgroup files and the command. */
export function jailRootArgs(rootMount: string, umount: string, mounts: JailMount[]): string[] {
  for (const m of mounts) {
    // Newlines split the dir and file lists; no path Volant makes has one.
    if (m.path.includes("\n") || !m.path.startsWith("/")) {
      throw new Error(`jail: unusable path ${JSON.stringify(m.path)}`);
    }
  }
  const dirs = new Set<string>(["/proc"]);
  const files: string[] = [];
  for (const m of mounts) {
    for (let d = parentOf(m.path); d !== "/"; d = parentOf(d)) dirs.add(d);
    if (m.kind === "ln") continue;
    if (m.dir) dirs.add(m.path);
    else files.push(m.path);
  }
  const under = (p: string) => `${rootMount}${p}`;
  return [
    rootMount,
    umount,
    [...dirs].map(under).join("\n"),
    files.map(under).join("\n"),
    ...mounts.map((m) => m.kind === "ln" ? `ln:${m.path}=${m.target}` : `${m.kind}:${m.path}`),
    "--",
  ];
}
