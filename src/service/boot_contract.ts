/**
 * The boot contract of a plugin's (or a VM's pinned) initramfs, decided once
 * per artifact digest by looking inside it (src/initramfs/contract.ts) and
 * remembered in memory: artifacts are content-addressed, so the answer for a
 * digest never changes. Nothing is stored: a restarted daemon looks again.
 *
 * `volant` changes how a VM boots (src/service/volant_boot.ts): kernel `ip=`,
 * no agent disk, rootfs at vda, health from the workload's base_url.
 *
 * @module
 */
import { type BootContract, bootContractOf, type ContractFinding } from "../initramfs/contract.ts";
import type { ArtifactRecord } from "../manifest/api.ts";

export type { BootContract, ContractFinding };

const cache = new Map<string, ContractFinding>();
const MAX_CACHED = 1024;

const NO_INITRAMFS: ContractFinding = {
  contract: "volant-ts",
  reason: "no initramfs of its own: shared boot initramfs + agent image",
};

/** A plugin record with its boot contract filled in. */
export function withBootContract<T extends { artifacts: ArtifactRecord[] }>(
  record: T,
): T & { boot_contract: ContractFinding } {
  return { ...record, boot_contract: bootContractFor(record.artifacts) };
}

/** The contract of the initramfs among `artifacts` (ours when there is none). */
export function bootContractFor(artifacts: readonly ArtifactRecord[]): ContractFinding {
  const a = artifacts.find((x) => x.kind === "initramfs");
  if (!a) return NO_INITRAMFS;
  const hit = cache.get(a.sha256);
  if (hit) return hit;
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(a.path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    return { contract: "volant-ts", reason: `initramfs ${a.path} is missing` };
  }
  let finding: ContractFinding;
  try {
    finding = bootContractOf(bytes);
  } catch (error) {
    // A corrupt archive is the boot's to report (the kernel says it); here it is just not Volant's.
    if (!(error instanceof Error)) throw error;
    finding = { contract: "volant-ts", reason: `could not inspect: ${error.message}` };
  }
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
  cache.set(a.sha256, finding);
  return finding;
}
