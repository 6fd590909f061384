/**
 * The jail's private root: which paths a VM gets and how (pure), what the
 * host part holds here, and, for real (root only), that a process started
 * through the jail's wrapper sees only those paths, can write only its
 * runtime dir, and runs as the jail user. The "VMM" is dash so the check
 * can be a shell line with builtins only (no other binary is in the root).
 * Takes ~1 s.
 */
import assert from "node:assert/strict";
import type { VmSpec } from "../service/ports.ts";
import { Jail, resolveJail } from "./jail.ts";
import { systemMounts, vmMounts } from "./jail_root.ts";
import { resolveBinary } from "./spawn.ts";

const ID = 64_500 + (Deno.pid % 400);

Deno.test("vmMounts: runtime dir and overlays writable, artifacts read-only, devices by need", () => {
  const spec = {
    runtimeDir: "/run/volant/vms/a",
    kernel: "/s/k",
    initramfs: "/s/i",
    disks: [
      {
        id: "d0",
        path: "/s/vms/a/d0.qcow2",
        format: "qcow2",
        readonly: false,
        backingImage: "/s/b",
      },
      { id: "d1", path: "/s/ro.img", format: "raw", readonly: true },
      { id: "d2", path: "/s/ro.img", format: "raw", readonly: true },
    ],
  } as Pick<VmSpec, "runtimeDir" | "kernel" | "initramfs" | "disks">;
  assert.deepEqual(vmMounts(spec, "tcg"), [
    { kind: "rw", path: "/run/volant/vms/a", dir: true },
    { kind: "ro", path: "/s/k" },
    { kind: "ro", path: "/s/i" },
    { kind: "rw", path: "/s/vms/a/d0.qcow2" },
    { kind: "ro", path: "/s/b" },
    { kind: "ro", path: "/s/ro.img" },
  ]);
  const kvm = vmMounts({ ...spec, vsock: { cid: 3 } }, "kvm").map((m) => `${m.kind}:${m.path}`);
  assert.ok(kvm.includes("dev:/dev/kvm") && kvm.includes("dev:/dev/vhost-vsock"));
  assert.ok(!vmMounts(spec, "tcg").some((m) => m.path === "/dev/kvm"));
  // A restore's RAM image is bound into the root (rw: QEMU 7.2 opens it so), nothing else of
  // the snapshot dir.
  const restored = vmMounts({ ...spec, ramImage: "/s/snap/vmm/guest-ram.bin" }, "tcg");
  assert.deepEqual(restored.filter((m) => m.path.startsWith("/s/snap")), [
    { kind: "rw", path: "/s/snap/vmm/guest-ram.bin" },
  ]);
});

Deno.test("systemMounts: libraries, firmware, loader cache, the binaries, a few devices", async () => {
  const m = (await systemMounts(["/usr/bin/qemu-system-x86_64", "/opt/x/vmm"]))
    .map((e) => `${e.kind}:${e.path}`);
  assert.ok(m.includes("ro:/usr/lib"), m.join(" "));
  assert.ok(m.includes("dev:/dev/urandom") || !(await exists("/dev/urandom")));
  assert.ok(m.includes("ro:/usr/bin/qemu-system-x86_64"));
  assert.ok(m.includes("ro:/opt/x/vmm"));
  assert.ok(!m.some((e) => e.endsWith(":/etc") || e.endsWith(":/usr") || e.endsWith(":/")));
});

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.lstat(p);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

Deno.test("a process started through the jail sees only its own root", async () => {
  if (Deno.uid() !== 0) throw new Error("jail tests need root: run as root");
  const dash = await resolveBinary("dash");
  if (!dash) throw new Error("needs dash (apt-get install dash)");
  const tmp = await Deno.makeTempDir({ prefix: "volant-jailroot-" });
  try {
    const { jail } = await resolveJail({
      enabled: true,
      user: `${ID}:${ID}`,
      vmmBinary: dash,
      rootMount: `${tmp}/mnt`,
    });
    assert.ok(jail?.root, "this host gives VMMs their own root");
    assert.equal(jail.status([]).mountNs, true);
    const spec = {
      name: "vm1",
      runtimeDir: `${tmp}/run/vm1`,
      stateDir: `${tmp}/state/vms/vm1`,
      kernel: `${tmp}/state/kernel`,
      disks: [],
      cpus: 1,
      memoryMb: 64,
    } as unknown as VmSpec;
    await Deno.mkdir(spec.runtimeDir, { recursive: true });
    await Deno.mkdir(spec.stateDir, { recursive: true });
    await Deno.writeTextFile(spec.kernel, "kernel", { mode: 0o600 });
    await Deno.writeTextFile(`${tmp}/state/volant.db`, "secret");
    await Deno.mkdir(`${tmp}/run/vm2`);
    await jail.prepareVm(spec);
    // No cgroups in this check (spawnFor would create real ones).
    const bare = new Jail(jail.user, ID, ID, null, jail.setpriv, jail.sh, jail.root);
    const { wrapper } = await bare.spawnFor(spec, "unused");
    const line = [
      `read k < ${spec.kernel}; echo "kernel=$k"`,
      `echo run > ${spec.runtimeDir}/out && echo wrote-run`,
      `(echo x > ${spec.kernel}) 2>/dev/null || echo kernel-ro`,
      `(echo x > /new) 2>/dev/null || echo root-ro`,
      `[ -e /etc/shadow ] || echo no-shadow`,
      `[ -e ${tmp}/state/volant.db ] || echo no-db`,
      `[ -e ${tmp}/run/vm2 ] || echo no-sibling`,
      `[ -e /sys/kernel ] || echo no-sys`,
      `[ -e /proc/self ] || echo no-proc`,
      `[ -e /usr/bin/dash ] && echo has-vmm`,
    ].join("; ");
    const out = await new Deno.Command(wrapper[0], {
      args: [...wrapper.slice(1), dash, "-c", line],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.ok(out.success, new TextDecoder().decode(out.stderr) + text);
    for (
      const want of [
        "kernel=kernel",
        "wrote-run",
        "kernel-ro",
        "root-ro",
        "no-shadow",
        "no-db",
        "no-sibling",
        "no-sys",
        "no-proc",
        "has-vmm",
      ]
    ) assert.ok(text.split("\n").includes(want), `${want} missing in:\n${text}`);
    assert.equal(await Deno.readTextFile(`${spec.runtimeDir}/out`), "run\n");
    assert.equal((await Deno.stat(`${spec.runtimeDir}/out`)).uid, ID);
    // The host's mount table is untouched: the namespace was private.
    const mounts = await Deno.readTextFile("/proc/self/mounts");
    assert.ok(!mounts.includes(`${tmp}/mnt`), "no jail mount leaked to the host");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
