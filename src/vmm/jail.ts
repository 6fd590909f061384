/**
 * The VMM jail: QEMU runs as an unprivileged system user (no capabilities,
 * no_new_privs, no supplementary groups), under its own seccomp sandbox, in a
 * per-VM cgroup with cpu, memory and pids limits. The credentials are set at
 * spawn by setpriv(1) (QEMU's `-runas` with `elevateprivileges=deny` dies of
 * SIGSYS), and a one-line sh joins the cgroup before exec, so every page of
 * guest memory is charged to it. The TAP is opened by the daemon and passed
 * as an fd; the VMM owns only its runtime dir and its writable overlays, and
 * reads the shared artifacts through group-only traverse rights.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { VmSpec } from "../service/ports.ts";
import {
  CGROUP_SETTLE_MS,
  type CgroupHost,
  createVmCgroup,
  detectCgroups,
  limitsFor,
  oomKills,
  removeVmCgroup,
  VMM_OVERHEAD_MB,
} from "./cgroup.ts";
import { resolveBinary } from "./spawn.ts";
import {
  DEFAULT_JAIL_ROOT_MOUNT,
  JAIL_SCRIPT,
  type JailMount,
  jailRootArgs,
  systemMounts,
  vmMounts,
} from "./jail_root.ts";

/** QEMU's seccomp filter: what a jailed VMM may not do even as its own user. */
export const QEMU_SANDBOX =
  "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny";

/** The KVM device a jailed VMM opens under KVM. */
export const KVM_DEVICE = "/dev/kvm";

/** Default system user of jailed VMMs. */
export const DEFAULT_VMM_USER = "volant-vmm";

/** What the jail does on this host, for logs and system/info. */
export interface JailStatus {
  enabled: boolean;
  user: string | null;
  uid: number | null;
  gid: number | null;
  seccomp: boolean;
  cgroup: "v1" | "v2" | null;
  /** The VMM sees only its own files (private mount namespace, see jail_root.ts). */
  mountNs: boolean;
  /** What the host lacks or what was turned off, one sentence each. */
  notes: string[];
}

/** How a jailed VMM is started. */
export interface JailSpawn {
  /** Runs before the VMM's own argv: join the cgroup, drop to the user, exec. */
  wrapper: string[];
}

/** Joins each cgroup.procs named before `--`, then execs the rest. */
const JOIN_AND_EXEC = 'while [ "$1" != -- ]; do echo $$ >"$1" || exit 125; shift; done; ' +
  'shift; exec "$@"';

/** What the mount namespace needs on the host (resolved once at daemon start). */
export interface JailRootHost {
  unshare: string;
  umount: string;
  /** The empty directory each VMM's tmpfs root is mounted on, inside its own namespace. */
  rootMount: string;
  /** Binaries, libraries, firmware and device nodes every VMM's tree holds. */
  system: JailMount[];
}

/** What spawnFor needs of a VM: its resources, and its files when it gets its own root. */
export type JailSpec =
  & Pick<VmSpec, "name" | "cpus" | "memoryMb">
  & Partial<
    Pick<
      VmSpec,
      "runtimeDir" | "kernel" | "initramfs" | "disks" | "vsock" | "agentChannel" | "ramImage"
    >
  >;

/** A resolved jail: the user, the cgroup hierarchy, the helper binaries. */
export class Jail {
  readonly #checkedDirs = new Set<string>();
  /** What the VMM may use beyond guest RAM (config `vmm_memory_overhead_mb`). */
  memoryOverheadMb = VMM_OVERHEAD_MB;
  constructor(
    readonly user: string,
    readonly uid: number,
    readonly gid: number,
    readonly cgroups: CgroupHost | null,
    readonly setpriv: string,
    readonly sh: string,
    /** The mount namespace's host side; null = the VMM sees the host filesystem. */
    readonly root: JailRootHost | null = null,
  ) {}

  /**
   * Gives the VMM user what it needs and nothing more: its runtime dir and
   * writable overlays become its own; read-only artifacts stay root's, made
   * readable through the jail group where "other" cannot already read them.
   */
  async prepareVm(spec: VmSpec): Promise<void> {
    // In its own mount namespace the VMM reaches its files through the jail's
    // tmpfs dirs, so host directories on the way (the 0700 state dir) stay closed.
    const ancestors = this.root === null;
    await this.#reach(spec.runtimeDir, false, ancestors);
    await Deno.chown(spec.runtimeDir, this.uid, this.gid);
    const readable = [spec.kernel, ...(spec.initramfs ? [spec.initramfs] : [])];
    for (const d of spec.disks) {
      if (d.readonly) readable.push(d.path);
      else {
        await this.#reach(d.path, false, ancestors);
        await Deno.chown(d.path, this.uid, this.gid);
        // The overlay's directory too: QEMU may reopen the image (e.g. on commit).
        await Deno.chown(parent(d.path), this.uid, this.gid);
      }
      if (d.backingImage) readable.push(d.backingImage);
    }
    for (const p of readable) await this.#reach(p, true, ancestors);
    if (spec.ramImage) {
      // QEMU 7.2 opens a RAM image read-write even for a private (copy-on-write) mapping,
      // so the jail group gets write too; the checksum before every restore catches a change.
      await this.#reach(spec.ramImage, true, ancestors);
      await this.#grant(spec.ramImage, 0o002, 0o020);
    }
  }

  /** Creates the VM's cgroup and returns how to spawn into it as the jail user. */
  async spawnFor(
    spec: JailSpec,
    cgroupParent: string,
    accel: "kvm" | "tcg" = "tcg",
  ): Promise<JailSpawn> {
    const group = { parent: cgroupParent, name: spec.name };
    let head: string[];
    if (this.root) {
      if (!spec.runtimeDir || !spec.kernel || !spec.disks) {
        throw new Error(`vm ${spec.name}: a VMM in its own root needs its runtime dir and files`);
      }
      const files = vmMounts(
        {
          runtimeDir: spec.runtimeDir,
          kernel: spec.kernel,
          initramfs: spec.initramfs,
          disks: spec.disks,
          vsock: spec.vsock,
          agentChannel: spec.agentChannel,
          ramImage: spec.ramImage,
        },
        accel,
      );
      const mounts = jailRootArgs(this.root.rootMount, this.root.umount, [
        ...this.root.system,
        ...files,
      ]);
      const procs = this.cgroups
        ? await createVmCgroup(this.cgroups, group, limitsFor(spec, this.memoryOverheadMb))
        : [];
      // unshare execs sh in place (no --fork): the pid the daemon tracks stays the VMM's.
      head = [
        this.root.unshare,
        "--mount",
        "--propagation",
        "private",
        "--",
        this.sh,
        "-c",
        JAIL_SCRIPT,
        "volant-jail",
        ...procs,
        "--",
        ...mounts,
      ];
    } else {
      const procs = this.cgroups
        ? await createVmCgroup(this.cgroups, group, limitsFor(spec, this.memoryOverheadMb))
        : [];
      head = [this.sh, "-c", JOIN_AND_EXEC, "volant-jail", ...procs, "--"];
    }
    return {
      wrapper: [
        ...head,
        this.setpriv,
        `--reuid=${this.uid}`,
        `--regid=${this.gid}`,
        ...(await this.#groups(accel)),
        "--nnp",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--",
      ],
    };
  }

  /**
   * Supplementary groups: none, except under KVM the group of /dev/kvm when
   * only that group may open it (root:kvm 0660 on most distributions).
   */
  async #groups(accel: "kvm" | "tcg"): Promise<string[]> {
    if (accel !== "kvm") return ["--clear-groups"];
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(KVM_DEVICE);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return ["--clear-groups"];
      throw e;
    }
    const mode = st.mode! & 0o777;
    if ((mode & 0o006) === 0o006 || st.gid === 0 || (mode & 0o060) !== 0o060) {
      return ["--clear-groups"];
    }
    return [`--groups=${st.gid}`];
  }

  /** True when the kernel OOM-killed a process in the VM's cgroup (its memory limit). */
  async oomKilled(name: string, cgroupParent: string): Promise<boolean> {
    if (!this.cgroups) return false;
    return ((await oomKills(this.cgroups, { parent: cgroupParent, name })) ?? 0) > 0;
  }

  /** Removes the VM's cgroup once its VMM has exited. */
  async release(name: string, cgroupParent: string): Promise<void> {
    if (this.cgroups) {
      await removeVmCgroup(this.cgroups, { parent: cgroupParent, name }, CGROUP_SETTLE_MS);
    }
  }

  status(notes: string[]): JailStatus {
    return {
      enabled: true,
      user: this.user,
      uid: this.uid,
      gid: this.gid,
      seccomp: true,
      cgroup: this.cgroups ? (this.cgroups.version === 2 ? "v2" : "v1") : null,
      mountNs: this.root !== null,
      notes,
    };
  }

  /**
   * Makes `path` reachable by the jail: each ancestor directory that "other"
   * cannot traverse gets the jail group with traverse-only (g+x) rights, and
   * the file itself, if `read`, group read. Only root-group entries are
   * regrouped; anything else is refused with a message saying what to change.
   */
  async #reach(path: string, read: boolean, ancestors: boolean): Promise<void> {
    const dirs: string[] = [];
    for (let d = parent(path); ancestors && d !== "/"; d = parent(d)) dirs.push(d);
    for (const d of dirs.reverse()) {
      if (this.#checkedDirs.has(d)) continue;
      await this.#grant(d, 0o001, 0o010);
      this.#checkedDirs.add(d);
    }
    if (read) await this.#grant(path, 0o004, 0o040);
  }

  async #grant(path: string, otherBit: number, groupBit: number): Promise<void> {
    const st = await Deno.stat(path);
    const mode = st.mode! & 0o7777;
    if (mode & otherBit) return;
    if (st.gid === this.gid && (mode & groupBit)) return;
    if (st.gid !== 0 && st.gid !== this.gid) {
      throw new VolantError(
        "unavailable",
        `the VMM user ${this.user} cannot reach ${path} (group ${st.gid}, mode ` +
          `${mode.toString(8)}): make it group ${this.user} or world-${
            otherBit === 1 ? "traversable" : "readable"
          }, or turn the jail off (jail = false)`,
      );
    }
    if (st.gid !== this.gid) await Deno.chown(path, null, this.gid);
    await Deno.chmod(path, mode | groupBit);
  }
}

function parent(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}

/** passwd entry of `user`: [uid, gid] or null. */
async function lookupUser(user: string): Promise<[number, number] | null> {
  const text = await Deno.readTextFile("/etc/passwd");
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f[0] === user && f.length >= 4) return [Number(f[2]), Number(f[3])];
  }
  return null;
}

async function createUser(user: string): Promise<string | null> {
  const useradd = await resolveBinary("useradd");
  if (!useradd) return "useradd not found (apt-get install passwd)";
  const out = await new Deno.Command(useradd, {
    args: [
      "--system",
      "--user-group",
      "--no-create-home",
      "--home-dir",
      "/nonexistent",
      "--shell",
      "/usr/sbin/nologin",
      user,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  return out.success
    ? null
    : `useradd ${user} failed: ${new TextDecoder().decode(out.stderr).trim()}`;
}

/** `uid:gid` or a user name (letters, digits, `_`, `-`). */
const USER_RE = /^([a-z_][a-z0-9_-]{0,31}|\d+:\d+)$/;

/**
 * Resolves the jail at daemon start: the user (created as a system user when
 * missing), setpriv, and the cgroup hierarchy. Without root, setpriv or a
 * usable user the jail is off and the status says why; without cgroups it
 * runs without limits and says so.
 */
export async function resolveJail(
  o: {
    enabled: boolean;
    user: string;
    uid?: number;
    /** The VMM binary (absolute) its private root must hold; absent = no mount namespace. */
    vmmBinary?: string;
    rootMount?: string;
    /** Config `vmm_memory_overhead_mb`: the cgroup's memory limit is guest RAM plus this. */
    memoryOverheadMb?: number;
  },
): Promise<{ jail: Jail | null; status: JailStatus }> {
  const off = (note: string): { jail: null; status: JailStatus } => ({
    jail: null,
    status: {
      enabled: false,
      user: null,
      uid: null,
      gid: null,
      seccomp: false,
      cgroup: null,
      mountNs: false,
      notes: [note],
    },
  });
  if (!o.enabled) return off("jail = false: VMMs run as the daemon's user without sandbox");
  const uid = o.uid ?? Deno.uid();
  if (uid !== 0) return off(`the jail needs root (volantd runs as uid ${uid}): VMMs run unjailed`);
  if (!USER_RE.test(o.user)) {
    throw new VolantError("invalid_input", `vmm_user ${o.user}: must be a user name or UID:GID`);
  }
  const setpriv = await resolveBinary("setpriv");
  if (!setpriv) return off("setpriv not found (apt-get install util-linux): VMMs run unjailed");
  const sh = (await resolveBinary("/bin/sh"))!;
  let ids: [number, number] | null;
  if (o.user.includes(":")) {
    ids = o.user.split(":").map(Number) as [number, number];
  } else {
    ids = await lookupUser(o.user);
    if (!ids) {
      const why = await createUser(o.user);
      if (why) return off(`${why}: VMMs run unjailed`);
      ids = await lookupUser(o.user);
      if (!ids) {
        return off(`user ${o.user} was created but is not in /etc/passwd: VMMs run unjailed`);
      }
    }
  }
  if (ids[0] === 0 || ids[1] === 0) {
    throw new VolantError("invalid_input", `vmm_user ${o.user}: must not be root (uid or gid 0)`);
  }
  const notes: string[] = [];
  const cg = await detectCgroups();
  if ("reason" in cg) notes.push(`${cg.reason}: VMMs run without cpu/memory/pids limits`);
  const root = await resolveRoot(o.vmmBinary, setpriv, o.rootMount ?? DEFAULT_JAIL_ROOT_MOUNT);
  if ("reason" in root) {
    notes.push(`${root.reason}: the VMM sees the host filesystem as its user may`);
  }
  const jail = new Jail(
    o.user,
    ids[0],
    ids[1],
    "reason" in cg ? null : cg,
    setpriv,
    sh,
    "reason" in root ? null : root,
  );
  if (o.memoryOverheadMb !== undefined) jail.memoryOverheadMb = o.memoryOverheadMb;
  return { jail, status: jail.status(notes) };
}

/** The mount namespace's host side, or why this host cannot give a VMM its own root. */
async function resolveRoot(
  vmmBinary: string | undefined,
  setpriv: string,
  rootMount: string,
): Promise<JailRootHost | { reason: string }> {
  if (!vmmBinary) return { reason: "no VMM binary to put in a private root" };
  try {
    await Deno.stat("/proc/self/ns/mnt");
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    return { reason: "the kernel has no mount namespaces (CONFIG_NAMESPACES)" };
  }
  const [unshare, umount, pivot] = await Promise.all(
    ["unshare", "umount", "pivot_root"].map((b) => resolveBinary(b)),
  );
  if (!unshare || !umount || !pivot) {
    return { reason: "unshare, umount or pivot_root not found (apt-get install util-linux mount)" };
  }
  await Deno.mkdir(rootMount, { recursive: true, mode: 0o755 });
  const system = await systemMounts([vmmBinary, setpriv, umount]);
  return { unshare, umount, rootMount, system };
}
