/**
 * Per-VM cgroups on this host's real hierarchy (root only): limits from
 * resources, create with limits, a live member makes removal a conflict,
 * a cgroup emptied while removal waits is removed, the parent goes with its
 * last VM. Takes ~1.5 s.
 */
import assert from "node:assert/strict";
import { VolantError } from "../errors.ts";
import {
  cgroupDirs,
  type CgroupHost,
  cgroupParentFor,
  createVmCgroup,
  detectCgroups,
  limitsFor,
  removeVmCgroup,
} from "./cgroup.ts";

Deno.test("limits follow the VM's resources", () => {
  assert.deepEqual(limitsFor({ cpus: 2, memoryMb: 512 }), {
    cpuQuotaUs: 300_000,
    memoryBytes: (512 + 320) * 1024 * 1024,
    pids: 132,
  });
});

Deno.test("the default runtime root keeps the plain parent; others get their own", () => {
  assert.equal(cgroupParentFor("/run/volant/vms", "/run/volant/vms"), "volant");
  const a = cgroupParentFor("/tmp/a/run", "/run/volant/vms");
  assert.match(a, /^volant-[0-9a-f]{8}$/);
  assert.notEqual(a, cgroupParentFor("/tmp/b/run", "/run/volant/vms"));
  assert.equal(a, cgroupParentFor("/tmp/a/run", "/run/volant/vms"));
});

/** This host's hierarchy; the tests need root and cgroups, and say so. */
async function hostCgroups(): Promise<CgroupHost> {
  if (Deno.uid() !== 0) throw new Error("cgroup tests need root: run as root");
  const host = await detectCgroups();
  if ("reason" in host) throw new Error(`this test needs cgroups: ${host.reason}`);
  return host;
}

/** A shell that joins every `procs` file, then execs `then` (e.g. `sleep 30`). */
function joiner(procs: string[], then: string): Deno.ChildProcess {
  return new Deno.Command("sh", {
    args: ["-c", `for f in "$@"; do echo $$ > "$f"; done; exec ${then}`, "sh", ...procs],
  }).spawn();
}

Deno.test({
  name: "a VM cgroup on the host: limits written, busy while a process is in it, then removed",
  sanitizeResources: false,
}, async () => {
  const host = await hostCgroups();
  const group = { parent: `volant-test-${Deno.pid}`, name: "vm1" };
  const limits = limitsFor({ cpus: 1, memoryMb: 64 });
  const procs = await createVmCgroup(host, group, limits);
  const child = joiner(procs, "sleep 30");
  try {
    const dirs = cgroupDirs(host, group.parent, group.name);
    const read = (p: string) => Deno.readTextFile(p).then((t) => t.trim());
    for (let i = 0; i < 50; i++) {
      if ((await read(procs[0])).includes(String(child.pid))) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    if (host.version === 1) {
      assert.equal(Number(await read(`${dirs[1]}/memory.limit_in_bytes`)), limits.memoryBytes);
      assert.equal(Number(await read(`${dirs[2]}/pids.max`)), limits.pids);
    } else {
      assert.equal(Number(await read(`${dirs[0]}/memory.max`)), limits.memoryBytes);
    }
    for (const p of procs) assert.equal(await read(p), String(child.pid));
    await assert.rejects(
      removeVmCgroup(host, group),
      (e: unknown) => e instanceof VolantError && e.code === "conflict",
    );
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
  await removeVmCgroup(host, group);
  for (const d of cgroupDirs(host, group.parent, group.name)) {
    await assert.rejects(Deno.stat(d), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(d.slice(0, d.lastIndexOf("/"))), Deno.errors.NotFound);
  }
});

Deno.test({
  name: "removal waits up to settleMs for a cgroup whose last process is exiting",
  sanitizeResources: false,
}, async () => {
  const host = await hostCgroups();
  const group = { parent: `volant-test-${Deno.pid}-settle`, name: "vm1" };
  const procs = await createVmCgroup(host, group, limitsFor({ cpus: 1, memoryMb: 64 }));
  // Joins every hierarchy, then lingers 0.4 s: like QEMU's threads after its leader's exit.
  const child = joiner(procs, "sleep 0.4");
  try {
    for (let i = 0; i < 50; i++) {
      if ((await Deno.readTextFile(procs[0])).includes(String(child.pid))) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await removeVmCgroup(host, group, 5_000);
    for (const d of cgroupDirs(host, group.parent, group.name)) {
      await assert.rejects(Deno.stat(d), Deno.errors.NotFound);
    }
  } finally {
    await child.status;
  }
});
