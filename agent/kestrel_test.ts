/**
 * kestrel as a whole process in host mode (not PID 1: no mounts, no network,
 * no reboot): a real workload server, the API on a random port, fatal paths
 * that must print exactly one line and exit, and a graceful SIGTERM.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { encodeManifest } from "../src/manifest/cmdline.ts";
import type { PluginManifest } from "../src/manifest/plugin.ts";
import { sampleManifest } from "./testdata/manifests.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function spawnKestrel(cmdline: string, apiPort: number) {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "--cmdline",
      cmdline,
      "--host",
      "127.0.0.1",
      "--port",
      String(apiPort),
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function fatalLines(cmdline: string, apiPort = freePort()): Promise<string[]> {
  const child = spawnKestrel(cmdline, apiPort);
  const out = await child.output();
  assertEquals(out.code, 1, "a fatal error exits 1 in host mode (poweroff in the guest)");
  return new TextDecoder().decode(out.stderr).split("\n").filter((l) => l.length > 0);
}

Deno.test("kestrel: missing, bad and invalid manifests give exactly one console line", async () => {
  assertEquals(await fatalLines("console=ttyS0"), [
    "kestrel: fatal: volant.manifest is missing from the kernel command line",
  ]);
  const bad = { ...sampleManifest, resources: { cpu_cores: 0, memory_mb: 128 } } as PluginManifest;
  const lines = await fatalLines(`volant.manifest=${await encodeManifest(bad)}`);
  assertEquals(lines.length, 1, lines.join("\n"));
  assert(lines[0].startsWith("kestrel: fatal: volant.manifest is not a valid manifest: "));
  assert(lines[0].includes("resources.cpu_cores"));
  const on8080 = {
    ...sampleManifest,
    workload: { ...sampleManifest.workload, base_url: "http://127.0.0.1:8080" },
  } as PluginManifest;
  const port = await fatalLines(`volant.manifest=${await encodeManifest(on8080)}`, 8080);
  assertEquals(port, [
    "kestrel: fatal: workload.base_url: port 8080 is reserved for kestrel's API; use another port",
  ]);
  const garbage = await fatalLines("volant.manifest=H4sI!!");
  assertEquals(garbage.length, 1);
  const net = await fatalLines(
    `volant.ip=10.0.0.1 volant.manifest=${await encodeManifest(sampleManifest)}`,
  );
  assertEquals(net.length, 1);
  assert(net[0].startsWith("kestrel: fatal: bad kernel command line: volant.ip:"), net[0]);
});

Deno.test("kestrel: starts the workload, gates ready on health, stops it on SIGTERM", async () => {
  const www = await Deno.makeTempDir();
  await Deno.writeTextFile(`${www}/index.html`, "hello from the workload\n");
  const port = freePort();
  const apiPort = freePort();
  const manifest = {
    ...sampleManifest,
    workload: {
      type: "http",
      base_url: `http://127.0.0.1:${port}`,
      entrypoint: ["busybox", "httpd", "-f", "-p", `127.0.0.1:${port}`, "-h", www],
    },
    health_check: { endpoint: "/index.html", timeout_ms: 10_000 },
  } as PluginManifest;
  const child = spawnKestrel(`volant.manifest=${await encodeManifest(manifest)}`, apiPort);
  const stderr: string[] = [];
  const reader = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) stderr.push(dec.decode(chunk));
  })();
  let exited = false;
  try {
    const deadline = performance.now() + 20_000;
    while (!/kestrel: ready in \d+ ms/.test(stderr.join("")) && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert(/kestrel: ready in \d+ ms/.test(stderr.join("")), stderr.join(""));
    const hz = await fetch(`http://127.0.0.1:${apiPort}/healthz`);
    assertEquals(hz.status, 200);
    await hz.body?.cancel();
    const page = await fetch(`http://127.0.0.1:${apiPort}/v1/index.html`);
    assertEquals(await page.text(), "hello from the workload\n");
    const status = await (await fetch(`http://127.0.0.1:${apiPort}/v1/status`)).json();
    assert(status.boot.timings_ms.workload_spawned > 0);
    assert(status.boot.timings_ms.ready >= status.boot.timings_ms.workload_spawned);
    const workloadPid = status.workload.pid;
    child.kill("SIGTERM");
    const code = (await child.status).code;
    exited = true;
    await reader;
    assertEquals(code, 0);
    const text = stderr.join("");
    assert(text.includes("kestrel: shutting down: SIGTERM received"), text);
    assert(text.includes("kestrel: workload stopped (terminated)"), text);
    let gone = false;
    try {
      gone = Deno.readTextFileSync(`/proc/${workloadPid}/stat`).includes(") Z ");
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      gone = true;
    }
    assert(gone, "the workload process is gone");
  } finally {
    // Only if an assertion failed before kestrel exited: end it by its pid.
    if (!exited) {
      child.kill("SIGKILL");
      await child.status;
    }
    await child.stdout.cancel();
    await Deno.remove(www, { recursive: true });
  }
});
