/**
 * The KVM probe: device step (kvm_device.ts), then a real, bounded boot of
 * our guest kernel under `-accel kvm` (boot_try.ts), its answer cached on disk
 * (cache.ts). Only the boot answers are cached (the device step costs
 * microseconds and is always asked afresh), and not a guest that printed but
 * was too slow to finish in time: that may be a busy host, so the next start
 * asks again.
 *
 * @module
 */
import type { MachineKind } from "../../service/ports.ts";
import { resolveBinary } from "../spawn.ts";
import { tryGuestBoot } from "./boot_try.ts";
import { probeKey, readCachedProbe, writeCachedProbe } from "./cache.ts";
import { checkKvmDevice } from "./kvm_device.ts";

/** Inputs of {@linkcode probeKvm}; defaults documented per field. */
export interface KvmProbeOptions {
  /** The guest kernel the probe boots (the one VMs boot). */
  kernel: string;
  /** QEMU binary, name on PATH or absolute (default qemu-system-x86_64). */
  binary?: string;
  /** KVM device node (default /dev/kvm). QEMU itself always opens /dev/kvm. */
  kvmDevice?: string;
  /** Machine model to boot (default microvm). */
  machine?: MachineKind;
  /** Where answers are cached; null = no cache (default null). */
  cacheDir?: string | null;
  /** Bound of the boot step (default 3000 ms). */
  timeoutMs?: number;
  /** Told when the cache cannot be written (not fatal). */
  onCacheError?: (message: string) => void;
}

/** The probe's answer. */
export interface KvmProbeResult {
  usable: boolean;
  reason: string;
  /**
   * False when the probe could not try a boot (no kernel or no QEMU yet): the
   * answer may change without any of the cache key's inputs changing.
   */
  definitive: boolean;
  /** Which step decided. */
  step: "device" | "prerequisites" | "boot";
  /** When the boot step ran (null when it did not). */
  probedAt: string | null;
  probeMs: number | null;
  cached: boolean;
}

/** Asks whether KVM can boot our guest on this host, within the bound. */
export async function probeKvm(o: KvmProbeOptions): Promise<KvmProbeResult> {
  const kvmDevice = o.kvmDevice ?? "/dev/kvm";
  const machine = o.machine ?? "microvm";
  const base = { probedAt: null, probeMs: null, cached: false };
  const device = checkKvmDevice(kvmDevice);
  if (!device.ok) {
    return { ...base, usable: false, reason: device.reason, definitive: true, step: "device" };
  }

  const name = o.binary ?? "qemu-system-x86_64";
  const binary = await resolveBinary(name);
  if (!binary) {
    return {
      ...base,
      usable: false,
      reason: `${name} not found, so a KVM boot could not be tried`,
      definitive: false,
      step: "prerequisites",
    };
  }
  if (!(await isFile(o.kernel))) {
    return {
      ...base,
      usable: false,
      reason: `guest kernel ${o.kernel} missing, so a KVM boot could not be tried`,
      definitive: false,
      step: "prerequisites",
    };
  }

  const cacheDir = o.cacheDir ?? null;
  const key = await probeKey({ kernel: o.kernel, binary, kvmDevice, machine });
  if (cacheDir) {
    const hit = await readCachedProbe(cacheDir, key);
    if (hit) {
      return {
        usable: hit.usable,
        reason: hit.reason,
        definitive: true,
        step: "boot",
        probedAt: hit.probedAt,
        probeMs: hit.probeMs,
        cached: true,
      };
    }
  }
  const probedAt = new Date().toISOString();
  const boot = await tryGuestBoot({
    binary,
    kernel: o.kernel,
    accel: "kvm",
    machine,
    timeoutMs: o.timeoutMs ?? 3000,
  });
  // A guest that was alive but slow may only have met a busy host: ask again next start.
  if (cacheDir && boot.outcome !== "slow") {
    const failed = await writeCachedProbe(cacheDir, {
      key,
      usable: boot.ok,
      reason: boot.reason,
      probedAt,
      probeMs: boot.ms,
    });
    if (failed) o.onCacheError?.(failed);
  }
  return {
    usable: boot.ok,
    reason: boot.reason,
    definitive: true,
    step: "boot",
    probedAt,
    probeMs: boot.ms,
    cached: false,
  };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied) {
      return false;
    }
    throw error;
  }
}
