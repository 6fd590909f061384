/**
 * cloud-init NoCloud seed images: a FAT filesystem labelled `CIDATA` with
 * `user-data`, `meta-data` (and `network-config`) in its root, which is what
 * the NoCloud datasource looks for on a block device (cloud-init's
 * `DataSourceNoCloud`: a filesystem labelled cidata). Built with dosfstools
 * (`mkfs.vfat -C`) and mtools (`mcopy`), rootless and without mounting.
 * Written beside, then renamed over the old seed, so a VM never sees half a seed.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { VolantError } from "../../errors.ts";
import type { SeedFile, SeedWriter } from "../../service/ports.ts";

const TOOLS = [
  ["mkfs.vfat", "dosfstools"],
  ["mcopy", "mtools"],
] as const;

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { MTOOLS_SKIP_CHECK: "1" },
  })
    .output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim();
    throw new VolantError("internal", `cloud-init seed: ${cmd} failed: ${err}`);
  }
}

async function onPath(tool: string): Promise<boolean> {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    try {
      if ((await Deno.stat(join(dir, tool))).isFile) return true;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return false;
}

export class VfatSeedWriter implements SeedWriter {
  async available(): Promise<{ ok: true } | { ok: false; reason: string }> {
    const missing = [];
    for (const [tool, pkg] of TOOLS) if (!await onPath(tool)) missing.push([tool, pkg]);
    if (missing.length === 0) return { ok: true };
    return {
      ok: false,
      reason: `cloud-init seeds need ${missing.map((m) => m[0]).join(" and ")} ` +
        `(apt-get install -y ${missing.map((m) => m[1]).join(" ")})`,
    };
  }

  async write(path: string, files: readonly SeedFile[]): Promise<void> {
    await Deno.mkdir(dirname(path), { recursive: true, mode: 0o750 });
    const bytes = files.map((f) => new TextEncoder().encode(f.content));
    const total = bytes.reduce((n, b) => n + b.length, 0);
    // FAT12 with room to spare; 1 MiB minimum keeps mkfs.vfat's geometry happy.
    const kib = Math.max(1024, Math.ceil((total * 2) / 1024) + 512);
    const tmp = `${path}.tmp`;
    const staged = await Deno.makeTempDir({ dir: dirname(path), prefix: ".seed-" });
    try {
      await Deno.remove(tmp).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
      await run("mkfs.vfat", ["-C", "-n", "CIDATA", tmp, String(kib)]);
      for (const [i, f] of files.entries()) {
        const src = join(staged, f.name);
        await Deno.writeFile(src, bytes[i]);
        await run("mcopy", ["-o", "-i", tmp, src, `::${f.name}`]);
      }
      await Deno.chmod(tmp, 0o640);
      await Deno.rename(tmp, path);
    } catch (error) {
      await Deno.remove(tmp).catch(() => undefined);
      throw error;
    } finally {
      await Deno.remove(staged, { recursive: true });
    }
  }
}
