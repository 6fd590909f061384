/**
 * The hand-run baseline the demo compares itself with: the same guest
 * (kernel, the plugin's initramfs, the agent image, the same manifest) booted
 * by a plain `qemu-system-x86_64` command, no daemon, no network; the time
 * from spawning QEMU to kestrel's `ready in N ms` console line. The
 * accelerator is the one the daemon chose (the caller passes it from
 * `GET /api/v1/system/info`), so both arms run on the same one.
 *
 * @module
 */
import { encodeManifest, parseManifest } from "../../src/manifest/mod.ts";
import { hostTscKhz } from "../../src/vmm/host.ts";
import { accelArgs } from "../../src/vmm/qemu/args.ts";
import type { GuestArtifacts } from "./prepare.ts";

const READY = /kestrel: ready in \d+ ms/;

/**
 * Boots once by hand with `accel` (the daemon's decision); resolves to ms until
 * the ready line. `dist` holds fledge's output.
 */
export async function handRunBaseline(
  artifacts: GuestArtifacts,
  dist: string,
  workDir: string,
  accel: "kvm" | "tcg",
  timeoutMs = 180_000,
): Promise<number> {
  const manifestFile = [...Deno.readDirSync(dist)].find((e) => e.name.endsWith(".manifest.json"));
  if (!manifestFile) throw new Error(`no *.manifest.json in ${dist}`);
  const manifest = parseManifest(
    JSON.parse(await Deno.readTextFile(`${dist}/${manifestFile.name}`)),
  );
  const initramfs = `${dist}/${manifest.initramfs!.url}`;
  const kvm = accel === "kvm";
  const khz = await hostTscKhz();
  const cmdline = [
    "console=ttyS0",
    "panic=-1",
    "reboot=t",
    ...(kvm || khz === null ? [] : [`tsc_early_khz=${khz}`]),
    "volant.agent_device=vda",
    `volant.hostname=${manifest.name}`,
    `volant.manifest=${await encodeManifest(manifest)}`,
  ].join(" ");
  const qemu = new Deno.Command("qemu-system-x86_64", {
    args: [
      "-M",
      "microvm",
      ...accelArgs(accel),
      "-smp",
      String(manifest.resources.cpu_cores),
      "-m",
      `${manifest.resources.memory_mb}M`,
      "-no-reboot",
      "-nodefaults",
      "-no-user-config",
      "-display",
      "none",
      "-monitor",
      "none",
      "-kernel",
      artifacts.kernel,
      "-initrd",
      initramfs,
      "-append",
      cmdline,
      "-drive",
      `id=agent,file=${artifacts.agentImage},format=raw,if=none,readonly=on`,
      "-device",
      "virtio-blk-device,drive=agent",
      "-serial",
      "stdio",
    ],
    cwd: workDir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const start = performance.now();
  const child = qemu.spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  let text = "";
  let readyAt: number | null = null;
  const dec = new TextDecoder();
  try {
    for await (const chunk of child.stdout) {
      text += dec.decode(chunk, { stream: true });
      if (READY.test(text)) {
        readyAt = performance.now() - start;
        break;
      }
    }
  } finally {
    clearTimeout(timer);
    child.kill("SIGKILL");
    await child.status;
    await child.stderr.cancel();
  }
  if (readyAt === null) {
    throw new Error(`hand-run QEMU never printed the ready line; console:\n${text.slice(-2000)}`);
  }
  return readyAt;
}
