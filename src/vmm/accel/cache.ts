/**
 * The probe's result on disk, keyed by what could change it: the guest kernel,
 * the QEMU binary, the KVM device node, the host kernel and this boot of the
 * host. Any change gives a new key, so a rebuilt kernel, an upgraded QEMU, a
 * reloaded KVM module or a reboot probes again; the same inputs (another
 * daemon start, a test helper, the demo) reuse the answer. Writes are atomic
 * (temp file + rename) so concurrent probes never leave half a record.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";

/** Bump when the probe's meaning changes, so old answers are not reused. */
const PROBE_VERSION = 1;

/** What the key is computed from. */
export interface ProbeKeyInputs {
  kernel: string;
  binary: string;
  kvmDevice: string;
  machine: string;
}

async function identity(path: string): Promise<string> {
  try {
    const real = await Deno.realPath(path);
    const st = await Deno.stat(real);
    return [real, st.size, st.mtime?.getTime(), st.ino, st.rdev, st.ctime?.getTime()].join(":");
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return `${path}:missing`;
    if (error instanceof Deno.errors.PermissionDenied) return `${path}:denied`;
    throw error;
  }
}

async function bootId(): Promise<string> {
  try {
    return (await Deno.readTextFile("/proc/sys/kernel/random/boot_id")).trim();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "no-boot-id";
    throw error;
  }
}

/** The cache key: sha256 over the identities of everything the answer depends on. */
export async function probeKey(i: ProbeKeyInputs): Promise<string> {
  const parts = [
    `v${PROBE_VERSION}`,
    `machine ${i.machine}`,
    `kernel ${await identity(i.kernel)}`,
    `qemu ${await identity(i.binary)}`,
    `kvm ${await identity(i.kvmDevice)}`,
    `host ${Deno.osRelease()}`,
    `boot ${await bootId()}`,
  ];
  return createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 24);
}

/** A cached boot-step answer. */
export interface CachedProbe {
  key: string;
  usable: boolean;
  reason: string;
  probedAt: string;
  probeMs: number;
}

/** The cached answer for `key`, or null (none, unreadable or malformed). */
export async function readCachedProbe(dir: string, key: string): Promise<CachedProbe | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, `${key}.json`));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied) {
      return null;
    }
    throw error;
  }
  try {
    const v = JSON.parse(text) as Partial<CachedProbe>;
    if (
      v.key === key && typeof v.usable === "boolean" && typeof v.reason === "string" &&
      typeof v.probedAt === "string" && typeof v.probeMs === "number"
    ) return v as CachedProbe;
    return null;
  } catch (error) {
    if (error instanceof SyntaxError) return null; // a torn or foreign file: probe again
    throw error;
  }
}

/**
 * Stores an answer; returns why not when the dir is not writable (a non-root
 * run against /var/cache/volant), so the caller can log it. Never throws for that.
 */
export async function writeCachedProbe(dir: string, entry: CachedProbe): Promise<string | null> {
  const file = join(dir, `${entry.key}.json`);
  const tmp = `${file}.${Deno.pid}.tmp`;
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
    await Deno.writeTextFile(tmp, JSON.stringify(entry, null, 2) + "\n", { mode: 0o644 });
    await Deno.rename(tmp, file);
    return null;
  } catch (error) {
    if (
      error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable ||
      error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory
    ) return `cannot write ${file}: ${error.message}`;
    throw error;
  }
}
