/**
 * The guest boot chain, booted for real under QEMU with the host's accelerator
 * decision (TCG here; no network needed):
 * kernel -> shim (/init) -> agent image on vda -> launcher -> deno -> kestrel,
 * and the shim's failure paths: one clear console line, then poweroff (QEMU
 * exits 0 promptly, no hang, no panic loop).
 *
 * Needs the kernel from `deno task kernel`; artifacts are built through
 * scripts/agent_image.ts into the cache without touching `agent/current`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import {
  type AgentArtifacts,
  bootEntries,
  buildAgentArtifacts,
} from "../../scripts/agent_image.ts";
import { writeCpio } from "../../scripts/cpio_newc.ts";
import { encodeManifest, type PluginManifest } from "../../src/manifest/mod.ts";
import { guestKernel, GuestVm, hostQemuAccel, requireQemu } from "./_guest_vm.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const CACHE = Deno.env.get("VOLANT_CACHE_DIR") ?? "/var/cache/volant";
const STAND_IN = join(REPO, "tests/e2e/fixtures/stand_in_kestrel.ts");
const KESTREL_MAIN = join(REPO, "agent/main.ts");
/** Generous for a loaded 2-core host under TCG; a healthy boot takes a few seconds. */
const BOOT_TIMEOUT_MS = 90_000;

let standIn: AgentArtifacts | undefined;
async function standInArtifacts(): Promise<AgentArtifacts> {
  standIn ??= await buildAgentArtifacts({
    kestrel: { kind: "entry", path: STAND_IN },
    cacheDir: CACHE,
    setCurrent: false,
    log: () => {},
  });
  return standIn;
}

/** Boots one guest in a fresh temp dir; always kills QEMU (by PID) and removes the dir. */
async function withGuest<T>(
  o: {
    initrd: string;
    disks?: { path: string; readonly?: boolean }[];
    append?: string;
    machine?: "microvm" | "q35";
    kernelKind?: "vmlinux" | "bzImage";
  },
  body: (vm: GuestVm) => Promise<T>,
): Promise<T> {
  await requireQemu();
  const kernel = await guestKernel(o.kernelKind);
  const dir = await Deno.makeTempDir({ prefix: "volant-guest-test-" });
  const vm = new GuestVm({ kernel, dir, accel: await hostQemuAccel(), ...o });
  try {
    return await body(vm);
  } finally {
    await vm.kill();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Lines the shim printed (it prefixes every line with `volant-shim:`). */
function shimLines(console: string): string[] {
  return console.split(/\r?\n/).filter((l) => l.startsWith("volant-shim:"));
}

Deno.test("guest: shim mounts the agent image and execs kestrel through the launcher", async () => {
  const a = await standInArtifacts();
  await withGuest(
    { initrd: a.bootInitramfs, disks: [{ path: a.agentImage, readonly: true }] },
    async (vm) => {
      const { match } = await vm.waitFor(
        /STAND-IN-KESTREL READY pid=(\d+) mem_used_kib=(\d+)/,
        BOOT_TIMEOUT_MS,
      );
      assert.equal(match[1], "1", "kestrel must run as PID 1 (the shim execs, never forks)");
      assert.ok(Number(match[2]) > 0);
      const exit = await vm.waitExit(30_000);
      assert.equal(exit.code, 0, "the guest powered off cleanly");
      assert.deepEqual(shimLines(await vm.console()), [], "the shim is silent when all is well");
    },
  );
});

Deno.test("guest: the same chain from the bzImage on q35 with virtio-pci", async () => {
  const a = await standInArtifacts();
  await withGuest(
    {
      initrd: a.bootInitramfs,
      disks: [{ path: a.agentImage, readonly: true }],
      machine: "q35",
      kernelKind: "bzImage",
    },
    async (vm) => {
      const { match } = await vm.waitFor(/STAND-IN-KESTREL READY pid=(\d+)/, BOOT_TIMEOUT_MS);
      assert.equal(match[1], "1");
      assert.equal((await vm.waitExit(30_000)).code, 0, "ACPI poweroff on q35 ends QEMU with 0");
    },
  );
});

Deno.test("guest: without the agent disk the shim prints one line and powers off", async () => {
  const a = await standInArtifacts();
  await withGuest({ initrd: a.bootInitramfs }, async (vm) => {
    const exit = await vm.waitExit(BOOT_TIMEOUT_MS);
    assert.equal(exit.code, 0, "reboot(RB_POWER_OFF) makes QEMU exit 0");
    const lines = shimLines(await vm.console());
    assert.equal(lines.length, 1, `exactly one shim line, got: ${JSON.stringify(lines)}`);
    assert.match(lines[0], /^volant-shim: cannot mount \/dev\/vda on \/volant\/agent: /);
    assert.doesNotMatch(await vm.console(), /Kernel panic/);
  });
});

Deno.test("guest: a wrong agent disk (not ext4 / no kestrel) gives one line and a poweroff", async (t) => {
  const a = await standInArtifacts();
  const dir = await Deno.makeTempDir({ prefix: "volant-disks-" });
  try {
    const zeros = join(dir, "zeros.img");
    await Deno.writeFile(zeros, new Uint8Array(4 << 20));
    const empty = join(dir, "empty.img");
    const mk = await new Deno.Command("mke2fs", {
      args: ["-q", "-F", "-t", "ext4", empty, "4M"],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(mk.success, new TextDecoder().decode(mk.stderr));
    const cases: [string, string, RegExp][] = [
      ["not a filesystem", zeros, /^volant-shim: cannot mount \/dev\/vda on \/volant\/agent: \S/],
      [
        "ext4 without kestrel",
        empty,
        /^volant-shim: cannot exec \/volant\/agent\/kestrel: No such file/,
      ],
    ];
    for (const [name, disk, line] of cases) {
      await t.step(name, async () => {
        await withGuest(
          { initrd: a.bootInitramfs, disks: [{ path: disk, readonly: true }] },
          async (vm) => {
            assert.equal((await vm.waitExit(BOOT_TIMEOUT_MS)).code, 0);
            const lines = shimLines(await vm.console());
            assert.equal(lines.length, 1, JSON.stringify(lines));
            assert.match(lines[0], line);
          },
        );
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("guest: a bad volant.agent_device is refused with one line and a poweroff", async () => {
  const a = await standInArtifacts();
  await withGuest(
    { initrd: a.bootInitramfs, append: "volant.agent_device=../sda" },
    async (vm) => {
      const exit = await vm.waitExit(BOOT_TIMEOUT_MS);
      assert.equal(exit.code, 0);
      const lines = shimLines(await vm.console());
      assert.equal(lines.length, 1, JSON.stringify(lines));
      assert.match(lines[0], /^volant-shim: bad volant\.agent_device='\.\.\/sda'/);
    },
  );
});

Deno.test("guest: /bin/kestrel in the initramfs is preferred over the agent image", async () => {
  const a = await standInArtifacts();
  const dir = await Deno.makeTempDir({ prefix: "volant-initrd-" });
  try {
    const script = '#!/bin/sh\necho "LOCAL-KESTREL pid=$$ argv0=$0"\nexec poweroff -f\n';
    const entries = await bootEntries(await Deno.readFile(a.shim));
    entries.push({
      path: "bin/kestrel",
      type: "file",
      data: new TextEncoder().encode(script),
      mode: 0o755,
    });
    const initrd = join(dir, "initrd.cpio.gz");
    await Deno.writeFile(initrd, gzipSync(writeCpio(entries)));
    // No agent disk attached: if the shim looked for one it would fail instead.
    await withGuest({ initrd }, async (vm) => {
      const { match } = await vm.waitFor(/LOCAL-KESTREL pid=(\d+)/, BOOT_TIMEOUT_MS);
      assert.equal(match[1], "1");
      assert.equal((await vm.waitExit(30_000)).code, 0);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("guest: /.volant_init names a custom init the shim execs instead of kestrel", async () => {
  const a = await standInArtifacts();
  const dir = await Deno.makeTempDir({ prefix: "volant-initrd-" });
  try {
    const script =
      '#!/bin/sh\necho "CUSTOM-INIT pid=$$ proc=$(ls /proc/self >/dev/null && echo ok)"\n' +
      "exec poweroff -f\n";
    const entries = await bootEntries(await Deno.readFile(a.shim));
    entries.push(
      { path: "sbin/my-init", type: "file", data: new TextEncoder().encode(script), mode: 0o755 },
      {
        path: ".volant_init",
        type: "file",
        data: new TextEncoder().encode("/sbin/my-init\n"),
        mode: 0o644,
      },
    );
    const initrd = join(dir, "initrd.cpio.gz");
    await Deno.writeFile(initrd, gzipSync(writeCpio(entries)));
    // No agent disk: the custom init runs instead of looking for kestrel.
    await withGuest({ initrd }, async (vm) => {
      const { match } = await vm.waitFor(/CUSTOM-INIT pid=(\d+) proc=(\w+)/, BOOT_TIMEOUT_MS);
      assert.equal(match[1], "1", "the custom init runs as PID 1");
      assert.equal(match[2], "ok", "after the shim's mounts");
      assert.equal((await vm.waitExit(30_000)).code, 0);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("guest: real kestrel with a bad manifest prints one clear line and powers off", async () => {
  try {
    await Deno.stat(KESTREL_MAIN);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    throw new Error(`${KESTREL_MAIN} does not exist yet: kestrel (agent/) must be written first`);
  }
  const a = await buildAgentArtifacts({
    kestrel: { kind: "entry", path: KESTREL_MAIN },
    cacheDir: CACHE,
    setCurrent: false,
    log: () => {},
  });
  // Valid encoding, invalid content: resources.memory_mb below the minimum.
  const bad = await encodeManifest({
    name: "bad",
    version: "1",
    initramfs: { url: "https://example.invalid/x.cpio.gz" },
    resources: { cpu_cores: 1, memory_mb: 1 },
    workload: { type: "http", base_url: "http://127.0.0.1:80/", entrypoint: ["/bin/true"] },
  } as PluginManifest);
  await withGuest(
    {
      initrd: a.bootInitramfs,
      disks: [{ path: a.agentImage, readonly: true }],
      append: `volant.boot=initramfs volant.manifest=${bad}`,
    },
    async (vm) => {
      const exit = await vm.waitExit(BOOT_TIMEOUT_MS);
      assert.equal(exit.code, 0, "kestrel powers off instead of hanging or panicking");
      const text = await vm.console();
      const lines = text.split(/\r?\n/).filter((l) => /memory_mb/.test(l));
      assert.equal(
        lines.length,
        1,
        `one console line naming the field, got:\n${text.slice(-2000)}`,
      );
      assert.doesNotMatch(text, /Kernel panic/);
    },
  );
});
