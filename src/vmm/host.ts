/**
 * Host facts a driver needs: the TSC frequency the guest must be told about
 * under TCG (microvm hangs at TSC calibration on a busy host without
 * `tsc_early_khz`). Whether KVM works is the probe's question (src/vmm/accel):
 * a device that opens read-write is not an answer.
 *
 * @module
 */

/** Parses the first "cpu MHz" of /proc/cpuinfo into kHz (rounded). */
export function parseCpuKhz(cpuinfo: string): number | null {
  const m = /^cpu MHz\s*:\s*([0-9.]+)/m.exec(cpuinfo);
  if (!m) return null;
  const khz = Math.round(Number(m[1]) * 1000);
  return Number.isFinite(khz) && khz > 0 ? khz : null;
}

/** The host's TSC frequency in kHz, or null when /proc/cpuinfo does not say. */
export async function hostTscKhz(): Promise<number | null> {
  return parseCpuKhz(await Deno.readTextFile("/proc/cpuinfo"));
}
