/**
 * `volar doctor`'s host checks: a list of small checks (check.ts), run
 * together, one table row each. The checks read the host and need no daemon
 * (only the `daemon` row asks it, through src/client). To add a row (a VFIO
 * check, the VMM jail), write a Check and append it to DEFAULT_CHECKS.
 *
 * Why this lives outside src/cli: the CLI acts on the daemon only through
 * src/client; reading this host (files, a throwaway namespace, the same KVM
 * probe volantd runs) is not acting on the daemon, so the CLI may import this
 * module for `volar doctor` and nothing else.
 *
 * @example
 * ```ts
 * import { DEFAULT_CHECKS, runChecks } from "./mod.ts";
 * const rows = await runChecks(DEFAULT_CHECKS, ctx);
 * ```
 *
 * @module
 */
import type { Check } from "./check.ts";
import { diskCheck, runtimeDirCheck, socketCheck, stateDirCheck } from "./checks_dirs.ts";
import { daemonCheck } from "./checks_daemon.ts";
import {
  accelCheck,
  agentImageCheck,
  bootInitramfsCheck,
  kernelCheck,
  qemuCheck,
} from "./checks_guest.ts";
import { ipForwardCheck, netnsBridgeCheck, nftablesCheck, tunCheck } from "./checks_net.ts";
import { jailCheck } from "./checks_jail.ts";
import { seedToolsCheck, vfioCheck } from "./checks_fields.ts";

export * from "./check.ts";
export { checkArtifact } from "./checks_guest.ts";

/** Every row, in table order. */
export const DEFAULT_CHECKS: readonly Check[] = [
  tunCheck,
  netnsBridgeCheck,
  nftablesCheck,
  ipForwardCheck,
  qemuCheck,
  accelCheck,
  jailCheck,
  kernelCheck,
  agentImageCheck,
  bootInitramfsCheck,
  stateDirCheck,
  runtimeDirCheck,
  diskCheck,
  daemonCheck,
  socketCheck,
  vfioCheck,
  seedToolsCheck,
];
