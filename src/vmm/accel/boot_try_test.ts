/**
 * The boot step: a stand-in QEMU that hangs, one that prints and hangs, one
 * that aborts (testdata/fake_qemu.sh says why those are fakes), and the real
 * QEMU with the real guest kernel under KVM (on this host: fails fast, no
 * usable /dev/kvm) and under TCG (reaches the milestone: the positive path).
 * Needs qemu-system-x86 and the guest kernel (`deno task kernel`).
 * About 12 s (three 3 s bounds and one TCG boot).
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { hostTscKhz } from "../host.ts";
import { tryGuestBoot } from "./boot_try.ts";
import { checkKvmDevice } from "./kvm_device.ts";
import { fakeQemu } from "./testdata/fake_qemu.ts";

const KERNEL = Deno.env.get("VOLANT_KERNEL") ??
  `${Deno.env.get("VOLANT_CACHE_DIR") ?? "/var/cache/volant"}/kernel/current/vmlinux`;

async function kernel(): Promise<string> {
  const found = await Deno.stat(KERNEL).then(() => true, () => false);
  if (!found) throw new Error(`guest kernel ${KERNEL} not built: run \`deno task kernel\``);
  return KERNEL;
}

/** True when no process with this pid exists any more. */
function gone(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return false;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return true;
    throw e;
  }
}

/** Pids of processes whose argv mentions `needle` (to prove the fake was killed). */
async function pidsWith(needle: string): Promise<number[]> {
  const out: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const cmd = await Deno.readTextFile(`/proc/${e.name}/cmdline`).catch(() => "");
    if (cmd.includes(needle)) out.push(Number(e.name));
  }
  return out;
}

Deno.test("boot try: a QEMU whose guest never prints gives up at the 3 s bound", async () => {
  const fake = await fakeQemu("hang");
  try {
    const t0 = performance.now();
    const r = await tryGuestBoot({
      binary: fake.bin,
      kernel: "/nonexistent",
      accel: "kvm",
      machine: "microvm",
    });
    const wall = performance.now() - t0;
    assertEquals(r.ok, false);
    assertEquals([r.outcome, r.reason], ["silent", "guest printed nothing in 3 s"]);
    assertEquals(r.firstByteMs, null);
    ok(wall >= 3000 && wall < 4500, `took ${wall} ms`);
    const left = await pidsWith("volant-accel-probe-");
    ok(left.every(gone), `probe QEMU left running: ${left}`);
  } finally {
    await Deno.remove(fake.dir, { recursive: true });
  }
});

Deno.test("boot try: a guest that prints and then hangs fails with its last line", async () => {
  const fake = await fakeQemu("partial");
  try {
    const r = await tryGuestBoot({
      binary: fake.bin,
      kernel: "/nonexistent",
      accel: "kvm",
      machine: "microvm",
    });
    assertEquals([r.ok, r.outcome], [false, "slow"]);
    ok(r.firstByteMs !== null && r.firstByteMs < 3000);
    ok(
      /^guest printed \d+ bytes but did not finish booting in 3 s \(last line: "Linux version 6\.1\.0 \(fake\)"\)$/
        .test(r.reason),
      r.reason,
    );
  } finally {
    await Deno.remove(fake.dir, { recursive: true });
  }
});

Deno.test("boot try: a QEMU that aborts (as under kvm-pvm with -cpu host) fails at once with its message", async () => {
  const fake = await fakeQemu("abort");
  try {
    const r = await tryGuestBoot({
      binary: fake.bin,
      kernel: "/nonexistent",
      accel: "kvm",
      machine: "microvm",
    });
    assertEquals([r.ok, r.outcome], [false, "exited"]);
    ok(r.ms < 2000, `took ${r.ms} ms`);
    ok(
      r.reason.startsWith("QEMU was killed by SIGABRT before the guest printed anything: "),
      r.reason,
    );
    ok(r.reason.includes("kvm_buf_set_msrs"), r.reason);
  } finally {
    await Deno.remove(fake.dir, { recursive: true });
  }
});

Deno.test("boot try: a binary that does not exist is a reason, not a crash", async () => {
  const r = await tryGuestBoot({
    binary: "/nonexistent/qemu",
    kernel: "/nonexistent",
    accel: "kvm",
    machine: "microvm",
  });
  assertEquals(r.ok, false);
  ok(r.reason.startsWith("cannot run /nonexistent/qemu"), r.reason);
});

Deno.test("boot try: the real QEMU and kernel under KVM agree with the device check, within the bound", async () => {
  const r = await tryGuestBoot({
    binary: "qemu-system-x86_64",
    kernel: await kernel(),
    accel: "kvm",
    machine: "microvm",
  });
  ok(r.ms <= 3500, `took ${r.ms} ms`);
  // Without a KVM device QEMU cannot even start under KVM; with one, the boot decides.
  if (!checkKvmDevice("/dev/kvm").ok) {
    assertEquals(r.ok, false);
    ok(
      /^QEMU exited with code 1 before the guest printed anything: .*kvm/.test(r.reason),
      r.reason,
    );
  } else {
    ok(r.ok ? r.reason.includes("booted under kvm") : r.reason.length > 0, r.reason);
  }
});

Deno.test("boot try: the real kernel under TCG reaches the milestone (the positive path)", async () => {
  const khz = await hostTscKhz();
  const r = await tryGuestBoot({
    binary: "qemu-system-x86_64",
    kernel: await kernel(),
    accel: "tcg",
    machine: "microvm",
    extraArgs: khz ? [`tsc_early_khz=${khz}`] : [],
    // TCG on a loaded 2-core host: this checks the milestone, not the KVM bound.
    timeoutMs: 60_000,
  });
  ok(r.ok, r.reason);
  assertEquals(r.outcome, "booted");
  // No initramfs and no root disk: the kernel ends its init asking for a root file system.
  ok(
    /^guest kernel booted under tcg in \d+ ms \("VFS: Cannot open root device .*"\)$/.test(
      r.reason,
    ),
    r.reason,
  );
  ok(r.firstByteMs !== null && r.firstByteMs <= r.ms);
});
