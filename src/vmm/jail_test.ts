/**
 * The jail's host side, for real (root only): resolution and what it refuses,
 * the spawn wrapper really drops to the user (checked in /proc by a process
 * it starts), and prepareVm's grants let that user read the artifacts and
 * own its runtime dir, while a 0700 directory on the way becomes
 * traverse-only for the jail group. Takes ~1 s.
 */
import assert from "node:assert/strict";
import { VolantError } from "../errors.ts";
import type { VmSpec } from "../service/ports.ts";
import { Jail, resolveJail } from "./jail.ts";

const ID = 64_000 + (Deno.pid % 1000); // an unused uid/gid for the test

function spec(root: string): VmSpec {
  return {
    name: "vm1",
    runtimeDir: `${root}/run/vm1`,
    stateDir: `${root}/state/vms/vm1`,
    kernel: `${root}/state/kernel`,
    disks: [{ id: "d0", path: `${root}/state/vms/vm1/d0.qcow2`, format: "qcow2", readonly: false }],
    cpus: 1,
    memoryMb: 64,
    cmdline: "",
    machine: "microvm",
    serialLogMaxBytes: 1024,
  } as VmSpec;
}

Deno.test("resolveJail: off when disabled or not root; refuses root ids and bad names", async () => {
  const off = await resolveJail({ enabled: false, user: "volant-vmm" });
  assert.equal(off.jail, null);
  assert.match(off.status.notes[0], /jail = false/);
  const notRoot = await resolveJail({ enabled: true, user: "volant-vmm", uid: 1000 });
  assert.equal(notRoot.jail, null);
  assert.match(notRoot.status.notes[0], /needs root/);
  if (Deno.uid() !== 0) return;
  await assert.rejects(resolveJail({ enabled: true, user: "0:0" }), VolantError);
  await assert.rejects(resolveJail({ enabled: true, user: "Bad;Name" }), VolantError);
  const byId = await resolveJail({ enabled: true, user: `${ID}:${ID}` });
  assert.equal(byId.status.enabled, true);
  assert.equal(byId.status.uid, ID);
  assert.equal(byId.status.seccomp, true);
});

Deno.test("prepareVm grants the jail user exactly its files; the wrapper drops to it", async () => {
  if (Deno.uid() !== 0) throw new Error("jail tests need root: run as root");
  const { jail } = await resolveJail({ enabled: true, user: `${ID}:${ID}` });
  assert.ok(jail instanceof Jail);
  const root = await Deno.makeTempDir({ prefix: "volant-jail-" }); // 0700, root's
  try {
    const s = spec(root);
    await Deno.mkdir(s.runtimeDir, { recursive: true, mode: 0o700 });
    await Deno.mkdir(s.stateDir, { recursive: true, mode: 0o700 });
    await Deno.chmod(`${root}/state`, 0o700);
    await Deno.writeTextFile(s.kernel, "kernel", { mode: 0o600 });
    await Deno.writeTextFile(s.disks[0].path, "overlay", { mode: 0o600 });
    await jail.prepareVm(s);
    assert.equal((await Deno.stat(s.runtimeDir)).uid, ID);
    assert.equal((await Deno.stat(s.disks[0].path)).uid, ID);
    const state = await Deno.stat(`${root}/state`);
    assert.equal(state.gid, ID);
    assert.equal(state.mode! & 0o777, 0o710, "traverse-only for the jail group");
    const kernel = await Deno.stat(s.kernel);
    assert.equal(kernel.uid, 0, "artifacts stay root's");
    assert.equal(kernel.mode! & 0o777, 0o640);

    // The wrapper (no cgroups here: spawnFor would create them) as the VMM would run.
    const { wrapper } = await new Jail(jail.user, ID, ID, null, jail.setpriv, jail.sh)
      .spawnFor(s, "unused");
    const out = await new Deno.Command(wrapper[0], {
      args: [
        ...wrapper.slice(1),
        "/bin/sh",
        "-c",
        `cat ${s.kernel}; grep -E "^(Uid|Groups|NoNewPrivs|CapEff):" /proc/self/status; ` +
        `ls ${root}/state 2>/dev/null || echo nolist`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    assert.match(text, /^kernel/);
    assert.match(text, new RegExp(`Uid:\\s+${ID}\\s+${ID}\\s+${ID}`));
    assert.match(text, /NoNewPrivs:\s+1/);
    assert.match(text, /CapEff:\s+0+\n/);
    assert.match(text, /nolist/, "the state dir cannot be listed");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
