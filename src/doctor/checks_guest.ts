/**
 * What a guest boots with: QEMU and its microvm machine, the accelerator (the
 * same probe and cache volantd uses), and the guest kernel, agent image and
 * boot initramfs, each checked against the SHA256SUMS its build wrote beside it.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { basename, dirname } from "node:path";
import { VolantError } from "../errors.ts";
import { accelResolverFor } from "../vmm/accel/mod.ts";
import { resolveBinary } from "../vmm/spawn.ts";
import { type Check, type CheckResult, firstLine, runCommand } from "./check.ts";

export const qemuCheck: Check = {
  id: "qemu",
  title: "QEMU + microvm",
  critical: (ctx) => ctx.config.hypervisor === "qemu",
  async run() {
    const bin = await resolveBinary("qemu-system-x86_64");
    if (!bin) {
      return {
        status: "fail",
        detail: "qemu-system-x86_64 not found on PATH",
        fix: "apt-get install --no-install-recommends qemu-system-x86",
      };
    }
    const version = firstLine((await runCommand(bin, ["--version"])).stdout);
    const machines = (await runCommand(bin, ["-machine", "help"])).stdout;
    const have = ["microvm", "q35"].filter((m) => new RegExp(`^${m}\\s`, "m").test(machines));
    if (!have.includes("microvm")) {
      return {
        status: "fail",
        detail: `${version || bin}: no microvm machine`,
        fix: "install QEMU >= 4.2 (Debian 12: apt-get install qemu-system-x86)",
      };
    }
    return { status: "ok", detail: `${version} (${bin}); machines: ${have.join(", ")}` };
  },
};

export const accelCheck: Check = {
  id: "accel",
  title: "accelerator",
  critical: (ctx) => ctx.config.accel === "kvm",
  async run(ctx) {
    try {
      const d = await accelResolverFor(ctx.config).decision();
      const when = d.cached
        ? ` [probe cached from ${d.probedAt}]`
        : d.probeMs !== null
        ? ` [probed now, ${d.probeMs} ms]`
        : "";
      if (d.accel === "kvm" && !d.provisional) {
        return { status: "ok", detail: `kvm (accel = ${d.mode}): ${d.reason}${when}` };
      }
      if (d.mode === "tcg") return { status: "ok", detail: `tcg: ${d.reason}` };
      return {
        status: "warn",
        detail: `${d.accel} (accel = ${d.mode}): ${d.reason}${when}`,
        fix: d.accel === "tcg"
          ? "VMs boot under TCG (emulation, several times slower); see docs/troubleshooting.md"
          : "build the guest kernel (deno task kernel) so the KVM boot can be tried",
      };
    } catch (error) {
      if (!(error instanceof VolantError)) throw error;
      return {
        status: "fail",
        detail: error.message,
        fix: "start volantd with --accel auto (or VOLANT_ACCEL=auto)",
      };
    }
  },
};

/** sha256 of a file, streamed. */
async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  using f = await Deno.open(path);
  for await (const chunk of f.readable) hash.update(chunk);
  return hash.digest("hex");
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Present, a file, and matching the SHA256SUMS of its build dir. */
export async function checkArtifact(
  path: string,
  what: string,
  build: string,
): Promise<CheckResult> {
  let real: string;
  let size: number;
  try {
    real = await Deno.realPath(path);
    const st = await Deno.stat(real);
    if (!st.isFile) return { status: "fail", detail: `${path} is not a file`, fix: build };
    size = st.size;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    return { status: "fail", detail: `${what} missing: ${path}`, fix: build };
  }
  const sumsPath = `${dirname(real)}/SHA256SUMS`;
  let sums: string;
  try {
    sums = await Deno.readTextFile(sumsPath);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    return {
      status: "warn",
      detail: `${real} (${mib(size)}); no SHA256SUMS beside it, so it cannot be verified`,
      fix: `rebuild it (${build}) or keep a SHA256SUMS next to it`,
    };
  }
  const name = basename(real);
  const want = sums.split("\n").map((l) => /^([0-9a-f]{64})\s+\*?(.+)$/.exec(l.trim()))
    .find((m) => m && m[2] === name)?.[1];
  if (!want) {
    return {
      status: "warn",
      detail: `${real} (${mib(size)}); ${sumsPath} has no line for ${name}`,
      fix: `rebuild it (${build})`,
    };
  }
  const got = await fileSha256(real);
  if (got !== want) {
    return {
      status: "fail",
      detail: `${real}: sha256 ${got.slice(0, 12)}... does not match SHA256SUMS ` +
        `(${want.slice(0, 12)}...)`,
      fix: `the file changed after its build: rebuild it (${build})`,
    };
  }
  return {
    status: "ok",
    detail: `${real} (${mib(size)}), sha256 ${got.slice(0, 12)}... matches SHA256SUMS`,
  };
}

export const kernelCheck: Check = {
  id: "kernel",
  title: "guest kernel",
  critical: true,
  run: (ctx) =>
    checkArtifact(ctx.config.kernel, "guest kernel", "deno task kernel, or volantd --kernel PATH"),
};

export const agentImageCheck: Check = {
  id: "agent_image",
  title: "agent image",
  critical: true,
  run: (ctx) =>
    checkArtifact(
      ctx.config.agentImage,
      "agent image",
      "deno task agent, or volantd --agent-image PATH",
    ),
};

export const bootInitramfsCheck: Check = {
  id: "boot_initramfs",
  title: "boot initramfs",
  // Only plugins that ship a rootfs and no initramfs of their own need it: a warning at most.
  critical: false,
  async run(ctx) {
    const r = await checkArtifact(
      ctx.config.bootInitramfs,
      "boot initramfs (rootfs-only plugins need it)",
      "deno task agent, or volantd --boot-initramfs PATH",
    );
    return r.status === "fail" ? { ...r, status: "warn" } : r;
  },
};
