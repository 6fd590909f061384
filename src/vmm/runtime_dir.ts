/**
 * The per-VM runtime dir (`/run/volant/vms/<name>/`) and the identity record
 * that lets a restarted daemon re-attach to a VMM without trusting a recycled
 * pid: pid + process start time (/proc/<pid>/stat field 22) + argv.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import { DNS_LABEL } from "../manifest/names.ts";
import { DEFAULTS } from "../config/defaults.ts";

/** Default roots (the config's); the daemon passes its configured ones. */
export const DEFAULT_RUNTIME_ROOT: string = DEFAULTS.runtime_dir;
export const DEFAULT_STATE_ROOT = `${DEFAULTS.state_dir}/vms`;

/** File names inside a VM's runtime dir. */
export const RUNTIME_FILES = {
  pid: "pid",
  identity: "vmm.json",
  qmp: "qmp.sock",
  api: "api.sock",
  serialSocket: "serial.sock",
  /** Cloud Hypervisor only: the daemon's console fan-out in front of serial.sock. */
  console: "console.sock",
  serialLog: "serial.log",
  vmmLog: "vmm.log",
  /** Present once the driver was asked to stop the VM: an exit after it is `requested`. */
  stopRequested: "stop-requested",
  /**
   * Cloud Hypervisor only: the hybrid-vsock socket (`--vsock socket=`). CH binds it at boot and
   * removes it only on a clean exit, so a crash leaves it behind and the next bind fails.
   */
  vsock: "vsock.sock",
  /** QEMU: the agent channel's chardev socket (VmSpec.agentChannel), QEMU listening. */
  agentChannel: "agent.sock",
  /**
   * Written by the daemon once kestrel first answered on the agent channel: this VM's guest speaks
   * the channel, so after a daemon restart requests wait for the new link instead of taking the
   * network (a guest with its own init never gets it, and is never waited for).
   */
  channelSpoken: "agent-channel-spoken",
  /** Cloud Hypervisor only: its `--event-monitor` file (guest reboot and panic events). */
  events: "events.json",
  /** Written when the driver ended a VMM because the guest rebooted or panicked: `reboot|panic`. */
  guestReset: "guest-reset",
} as const;

/** What the driver writes after spawning a VMM; `adopt` checks it against /proc. */
export interface IdentityRecord {
  kind: "qemu" | "cloud-hypervisor";
  name: string;
  pid: number;
  startTime: string;
  argv: string[];
  /** Paths the driver needs again after adoption. */
  controlSocket: string;
  serialSocket: string;
  serialLog: string;
  serialLogMaxBytes: number;
  bootedAt: string;
}

/** Roots a driver confines its per-VM dirs to. */
export interface DirRoots {
  runtimeRoot: string;
  stateRoot: string;
}

function normalize(path: string): string {
  if (!path.startsWith("/")) return "";
  const parts: string[] = [];
  for (const p of path.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") parts.pop();
    else parts.push(p);
  }
  return "/" + parts.join("/");
}

/** Throws `invalid_input` naming the field unless `name` is a DNS label. */
export function validateVmName(name: string, field = "name"): void {
  if (typeof name !== "string" || !DNS_LABEL.test(name)) {
    throw new VolantError("invalid_input", `invalid VM name ${JSON.stringify(name)}`, {
      problems: [{
        field,
        message: "must be a DNS label: 1-63 lower-case letters, digits or '-', " +
          "not starting or ending with '-'",
      }],
    });
  }
}

/**
 * Checks that `dir` is exactly `<root>/<name>` (absolute, no `..` escape), so a
 * driver never creates or removes anything outside its roots.
 */
export function validateVmDir(name: string, dir: string, root: string, field: string): string {
  validateVmName(name);
  const want = normalize(root) + "/" + name;
  const got = normalize(dir);
  if (got !== want) {
    throw new VolantError("invalid_input", `${field} must be ${want}, got ${JSON.stringify(dir)}`, {
      problems: [{ field, message: `must be the VM's dir under ${normalize(root)}: ${want}` }],
    });
  }
  return got;
}

/** Validates both per-VM dirs of a spec against the driver's roots. */
export function validateSpecDirs(
  spec: { name: string; runtimeDir: string; stateDir: string },
  roots: DirRoots,
): void {
  validateVmDir(spec.name, spec.runtimeDir, roots.runtimeRoot, "runtimeDir");
  validateVmDir(spec.name, spec.stateDir, roots.stateRoot, "stateDir");
}

/** Absolute path of one runtime file. */
export function runtimePath(runtimeDir: string, file: keyof typeof RUNTIME_FILES): string {
  return `${runtimeDir}/${RUNTIME_FILES[file]}`;
}

/** Writes the pid file and identity record atomically (temp file + rename). */
export async function writeIdentity(runtimeDir: string, record: IdentityRecord): Promise<void> {
  await writeAtomic(runtimePath(runtimeDir, "pid"), `${record.pid}\n`);
  await writeAtomic(
    runtimePath(runtimeDir, "identity"),
    JSON.stringify(record, null, 2) + "\n",
  );
}

/** Reads the identity record; null when absent, `internal` error when corrupt. */
export async function readIdentity(runtimeDir: string): Promise<IdentityRecord | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(runtimePath(runtimeDir, "identity"));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new VolantError("internal", `corrupt identity record in ${runtimeDir}`, { cause: e });
  }
  const r = parsed as Partial<IdentityRecord>;
  if (
    typeof r?.pid !== "number" || typeof r.startTime !== "string" || !Array.isArray(r.argv) ||
    typeof r.kind !== "string" || typeof r.controlSocket !== "string"
  ) {
    throw new VolantError("internal", `incomplete identity record in ${runtimeDir}`);
  }
  return r as IdentityRecord;
}

/** Marks that the driver asked the VMM to stop (survives a daemon restart). */
export async function markStopRequested(runtimeDir: string): Promise<void> {
  await writeAtomic(runtimePath(runtimeDir, "stopRequested"), new Date().toISOString() + "\n");
}

/** True when a stop was requested since the last boot. */
export async function stopWasRequested(runtimeDir: string): Promise<boolean> {
  try {
    await Deno.stat(runtimePath(runtimeDir, "stopRequested"));
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Records that the guest rebooted or panicked (the driver then ends the VMM: a crash). */
export async function markGuestReset(runtimeDir: string, what: "reboot" | "panic"): Promise<void> {
  await writeAtomic(runtimePath(runtimeDir, "guestReset"), what + "\n");
}

/** The guest reset recorded since the last boot, if any. */
export async function guestResetOf(runtimeDir: string): Promise<"reboot" | "panic" | null> {
  try {
    const text = (await Deno.readTextFile(runtimePath(runtimeDir, "guestReset"))).trim();
    return text === "panic" ? "panic" : "reboot";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** Removes a file; a missing one is fine. */
export async function removeIfExists(path: string, recursive = false): Promise<void> {
  try {
    await Deno.remove(path, { recursive });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** Removes the files of the previous boot that would confuse this one (sockets, markers). */
export async function clearBootFiles(runtimeDir: string): Promise<void> {
  const files = [
    "pid",
    "identity",
    "qmp",
    "api",
    "serialSocket",
    "console",
    "stopRequested",
    "vsock",
    "agentChannel",
    "events",
    "guestReset",
  ] as const;
  for (const f of files) {
    await removeIfExists(runtimePath(runtimeDir, f));
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, text, { mode: 0o600 });
  await Deno.rename(tmp, path);
}
