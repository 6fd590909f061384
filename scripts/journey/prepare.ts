/**
 * Brings a fresh Debian machine to where microVMs can boot: apt packages,
 * the guest kernel (cached build), the agent image and boot initramfs
 * (cached build). Each step prints one line with its time.
 *
 * @module
 */
import { ensureAptPackages } from "../prereqs.ts";
import { REPO } from "../_repo.ts";

export interface GuestArtifacts {
  kernel: string;
  bzImage: string;
  agentImage: string;
  bootInitramfs: string;
  shim: string;
}

/** `key=value` lines of a build script's stdout. */
export function keyValues(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const m = /^([A-Za-z_]+)=(\S+)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}

async function capture(cmd: string, args: string[]): Promise<string> {
  const child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).spawn();
  const out = await child.output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code})`);
  return new TextDecoder().decode(out.stdout);
}

/** Runs `fn`, printing `label ... N.Ns` to stderr. */
export async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await fn();
  console.error(`prepare: ${label} (${((performance.now() - start) / 1000).toFixed(1)} s)`);
  return result;
}

/** Apt packages, kernel and agent artifacts; returns the artifact paths. */
export async function prepareHost(): Promise<GuestArtifacts> {
  await timed("apt packages present", ensureAptPackages);
  const kernel = keyValues(
    await timed("guest kernel ready", () => capture("bash", [`${REPO}/kernel/build.sh`])),
  );
  const agent = keyValues(
    await timed(
      "agent image ready",
      () => capture(Deno.execPath(), ["run", "-A", `${REPO}/scripts/agent_image.ts`]),
    ),
  );
  const need = (map: Record<string, string>, key: string, from: string) => {
    if (!map[key]) throw new Error(`${from} did not print ${key}=<path>`);
    return map[key];
  };
  return {
    kernel: need(kernel, "vmlinux", "kernel/build.sh"),
    bzImage: need(kernel, "bzImage", "kernel/build.sh"),
    agentImage: need(agent, "agent_image", "scripts/agent_image.ts"),
    bootInitramfs: need(agent, "boot_initramfs", "scripts/agent_image.ts"),
    shim: need(agent, "shim", "scripts/agent_image.ts"),
  };
}
