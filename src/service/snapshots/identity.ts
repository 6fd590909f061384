/**
 * What a snapshot must match to be restored: the VMM (version + accelerator)
 * and the sha256 of the kernel, initramfs and agent image the VM booted
 * with. A guest's memory holds its kernel and agent: restoring it under
 * another one would run code that no longer matches the files on disk.
 *
 * @module
 */
import type { SnapshotIdentity } from "../../manifest/snapshot.ts";
import type { Hypervisor, VmSpec } from "../ports.ts";
import { hashFile } from "./files.ts";

/** Hashes kept per path + size + mtime: the big files are hashed once, not per snapshot. */
const cache = new Map<string, string>();

async function fingerprint(path: string | undefined): Promise<string> {
  if (!path) return "";
  const st = await Deno.stat(path);
  const key = `${path}|${st.size}|${st.mtime?.getTime()}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const { sha256 } = await hashFile(path);
  cache.set(key, sha256);
  return sha256;
}

/** The identity of `spec`'s host software under `hypervisor`. */
export async function identityOf(
  hypervisor: Hypervisor,
  spec: VmSpec,
  agentImage: string | undefined,
): Promise<SnapshotIdentity> {
  const agent = spec.disks.find((d) => d.id === "agent")?.path ?? agentImage;
  return {
    vmm: `${hypervisor.kind}: ${await hypervisor.version?.() ?? "unknown version"}`,
    kernel: await fingerprint(spec.kernel),
    initramfs: await fingerprint(spec.initramfs),
    agent: spec.disks.some((d) => d.id === "agent") ? await fingerprint(agent) : "",
  };
}

const LABELS: Record<keyof SnapshotIdentity, string> = {
  vmm: "VMM",
  kernel: "guest kernel",
  initramfs: "initramfs",
  agent: "agent image",
};

/** The differences between a snapshot's identity and the host's now, one phrase each. */
export function identityDiff(saved: SnapshotIdentity, now: SnapshotIdentity): string[] {
  const out: string[] = [];
  for (const k of Object.keys(LABELS) as (keyof SnapshotIdentity)[]) {
    if (saved[k] === now[k]) continue;
    const show = (v: string) => k === "vmm" ? v : v ? v.slice(0, 12) : "none";
    out.push(`${LABELS[k]} was ${show(saved[k])}, is ${show(now[k])}`);
  }
  return out;
}
