/**
 * From `--accel auto|kvm|tcg` and the probe to one decision, made once and
 * kept: `auto` takes KVM only when the probe booted our guest under it;
 * `kvm` on a host where KVM cannot boot the guest is an error (the daemon
 * stops at start with it); `tcg` never probes. A decision the probe could not
 * make yet (no kernel or no QEMU to try with) is provisional and is asked
 * again next time, so building the kernel later does not need a restart.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import type { AccelInfo } from "../../service/ports.ts";
import { type KvmProbeOptions, type KvmProbeResult, probeKvm } from "./probe.ts";

/** `--accel` values. */
export const ACCEL_MODES = ["auto", "kvm", "tcg"] as const;
export type AccelMode = typeof ACCEL_MODES[number];

/** A decision: what VMs get, and whether it may still change. */
export interface AccelDecision extends AccelInfo {
  /** True when KVM could not be tried yet; asked again on the next call. */
  provisional: boolean;
}

export interface AccelResolverOptions extends KvmProbeOptions {
  mode: AccelMode;
  /** The probe (tests pass a stand-in; default {@linkcode probeKvm}). */
  probe?: (o: KvmProbeOptions) => Promise<KvmProbeResult>;
}

/** Turns a mode and a probe answer into a decision; throws for `kvm` that cannot work. */
export async function decideAccel(o: AccelResolverOptions): Promise<AccelDecision> {
  if (o.mode === "tcg") {
    return {
      mode: "tcg",
      accel: "tcg",
      reason: "tcg asked for (accel = tcg); kvm not probed",
      probedAt: null,
      probeMs: null,
      cached: false,
      provisional: false,
    };
  }
  const p = await (o.probe ?? probeKvm)(o);
  const facts = { mode: o.mode, probedAt: p.probedAt, probeMs: p.probeMs, cached: p.cached };
  if (p.usable) {
    return { ...facts, accel: "kvm", reason: `kvm works: ${p.reason}`, provisional: false };
  }
  if (o.mode === "kvm") {
    if (!p.definitive) {
      // The device is a real KVM device; trust the operator until a boot can be tried.
      return {
        ...facts,
        accel: "kvm",
        reason: `kvm asked for (accel = kvm), not verified yet: ${p.reason}`,
        provisional: true,
      };
    }
    throw new VolantError(
      "unavailable",
      `accel kvm: KVM cannot boot the guest on this host (${p.reason}); ` +
        "use --accel auto to fall back to tcg, or --accel tcg",
    );
  }
  return {
    ...facts,
    accel: "tcg",
    reason: p.definitive
      ? `kvm unusable: ${p.reason}; using tcg`
      : `kvm not tried yet: ${p.reason}; using tcg for now`,
    provisional: !p.definitive,
  };
}

/** Holds one decision per process; re-decides only while the decision is provisional. */
export class AccelResolver {
  readonly #options: AccelResolverOptions;
  #current?: Promise<AccelDecision>;

  constructor(options: AccelResolverOptions) {
    this.#options = options;
  }

  get mode(): AccelMode {
    return this.#options.mode;
  }

  /** The decision (probing on first use); rejects for `kvm` that cannot work. */
  async decision(): Promise<AccelDecision> {
    const current = this.#current;
    if (current) {
      const d = await current;
      if (!d.provisional) return d;
      // Another caller is already asking again: share its answer instead of a second probe.
      if (this.#current !== current) return await this.#current!;
    }
    this.#current = decideAccel(this.#options);
    return await this.#current;
  }
}
