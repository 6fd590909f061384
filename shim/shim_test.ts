/**
 * The shim's pure parts in C, compiled with musl-gcc (as the shim is) into a
 * small driver (testdata/units.c): the kernel command line split as kestrel
 * splits it, and `volant.run` decoded exactly as volantd encodes it
 * (src/manifest/run_spec.ts). The launcher's V8 flags match the build's
 * warm-up (a mismatch would make V8 refuse the code cache). About 2 s.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { join } from "node:path";
import { encodeRunSpec } from "../src/manifest/run_spec.ts";
import { parseCmdline } from "../src/manifest/cmdline.ts";
import type { PluginManifest } from "../src/manifest/plugin.ts";
import { KESTREL_V8_FLAGS } from "../scripts/agent_image.ts";

const SHIM = new URL(".", import.meta.url).pathname;

async function driver(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "shim-units-" });
  const out = join(dir, "units");
  const cc = await new Deno.Command("musl-gcc", {
    args: ["-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-o", out]
      .concat(["testdata/units.c", "boot_args.c", "run_spec.c"]),
    cwd: SHIM,
    stderr: "piped",
  }).output().catch((e: Error) => {
    throw new Error(`musl-gcc: ${e.message} (apt-get install -y musl-tools)`);
  });
  if (!cc.success) throw new Error(`musl-gcc: ${new TextDecoder().decode(cc.stderr)}`);
  return out;
}

async function run(bin: string, args: string[]): Promise<string[]> {
  const o = await new Deno.Command(bin, { args, stdout: "piped" }).output();
  assert(o.success);
  return new TextDecoder().decode(o.stdout).trim().split("\n");
}

Deno.test("shim units: cmdline keys as kestrel reads them, volant.run as volantd writes it", async () => {
  const bin = await driver();
  try {
    const line = 'console=ttyS0 volant.hostname=a volant.runtime=x volant.q="a b" ' +
      "volant.hostname=b  volant.ip=10.0.0.2/24\tlast";
    const keys = ["volant.hostname", "volant.run", "volant.q", "volant.ip", "last", "console"];
    const js = parseCmdline(line);
    assertEquals(
      await run(bin, ["args", line, ...keys]),
      keys.map((k) => `${k}=${js.has(k) && js.get(k) !== "" ? js.get(k) : "(none)"}`),
    );

    const m = {
      name: "web",
      version: "1",
      initramfs: { url: "https://example.com/w.cpio.gz" },
      resources: { cpu_cores: 1, memory_mb: 128 },
      workload: {
        type: "http",
        base_url: "http://127.0.0.1:80",
        entrypoint: ["httpd", "-f", "two words"],
        env: { A: "1", B: "x=y" },
        workdir: "/srv",
        user: "1000:1000",
      },
    } as PluginManifest;
    assertEquals(await run(bin, ["run", encodeRunSpec(m, true)!]), [
      "arg httpd",
      "arg -f",
      "arg two words",
      "env A=1",
      "env B=x=y",
      "workdir /srv",
      "user 1000:1000",
      "switch_root 1",
    ]);
    assertEquals(await run(bin, ["run", "!!"]), [
      "refused: volant.run is not base64url or too long",
    ]);
    assertEquals(await run(bin, ["run", btoa("v2\0ax").replace(/=+$/, "")]), [
      "refused: volant.run: unknown version",
    ]);
  } finally {
    await Deno.remove(join(bin, ".."), { recursive: true });
  }
});

Deno.test("launcher V8 flags are the warm-up's", async () => {
  const launcher = await Deno.readTextFile(join(SHIM, "launcher.c"));
  assert(launcher.includes(`#define V8_FLAGS "${KESTREL_V8_FLAGS}"`), KESTREL_V8_FLAGS);
});
