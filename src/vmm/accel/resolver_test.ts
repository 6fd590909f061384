/**
 * From mode + probe answer to the decision. The probe here is a stand-in
 * function returning fixed answers: this file tests the decision table and the
 * re-probe rule, not the probe (probe_test.ts, boot_try_test.ts and
 * kvm_device_test.ts run that for real).
 */
import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { VolantError } from "../../errors.ts";
import type { KvmProbeResult } from "./probe.ts";
import { AccelResolver, decideAccel } from "./resolver.ts";

const booted: KvmProbeResult = {
  usable: true,
  reason: 'guest kernel booted under kvm in 180 ms ("VFS: Cannot open root device")',
  definitive: true,
  step: "boot",
  probedAt: "2026-12-02T12:00:00.000Z",
  probeMs: 180,
  cached: false,
};
const silent: KvmProbeResult = {
  ...booted,
  usable: false,
  reason: "guest printed nothing in 3 s",
  probeMs: 3001,
};
const noKernel: KvmProbeResult = {
  usable: false,
  reason: "guest kernel /k missing, so a KVM boot could not be tried",
  definitive: false,
  step: "prerequisites",
  probedAt: null,
  probeMs: null,
  cached: false,
};

function counting(...answers: KvmProbeResult[]) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    probe: () => Promise.resolve(answers[Math.min(calls++, answers.length - 1)]),
  };
}

Deno.test("accel tcg: no probe, and the reason says it was asked for", async () => {
  const p = counting(booted);
  const d = await decideAccel({ mode: "tcg", kernel: "/k", probe: p.probe });
  assertEquals(p.calls, 0);
  assertEquals(d.accel, "tcg");
  assertEquals(d.reason, "tcg asked for (accel = tcg); kvm not probed");
});

Deno.test("accel auto: KVM that booted the guest is used; one that did not falls back to tcg", async () => {
  const yes = await decideAccel({ mode: "auto", kernel: "/k", probe: counting(booted).probe });
  assertEquals([yes.accel, yes.provisional, yes.probeMs], ["kvm", false, 180]);
  ok(yes.reason.startsWith("kvm works: guest kernel booted under kvm"));
  const no = await decideAccel({ mode: "auto", kernel: "/k", probe: counting(silent).probe });
  assertEquals(no.accel, "tcg");
  assertEquals(no.reason, "kvm unusable: guest printed nothing in 3 s; using tcg");
  assertEquals(no.provisional, false);
});

Deno.test("accel kvm where KVM cannot boot the guest: one error naming why and what to use", async () => {
  await rejects(
    decideAccel({ mode: "kvm", kernel: "/k", probe: counting(silent).probe }),
    (e: unknown) =>
      e instanceof VolantError && e.code === "unavailable" &&
      e.message === "accel kvm: KVM cannot boot the guest on this host (guest printed nothing " +
          "in 3 s); use --accel auto to fall back to tcg, or --accel tcg",
  );
});

Deno.test("accel kvm with a real device but nothing to boot yet: kvm, marked unverified", async () => {
  const d = await decideAccel({ mode: "kvm", kernel: "/k", probe: counting(noKernel).probe });
  assertEquals([d.accel, d.provisional], ["kvm", true]);
  ok(d.reason.startsWith("kvm asked for (accel = kvm), not verified yet: guest kernel /k missing"));
});

Deno.test("resolver: decides once, but asks again while the decision is provisional", async () => {
  const p = counting(noKernel, booted);
  const r = new AccelResolver({ mode: "auto", kernel: "/k", probe: p.probe });
  const first = await r.decision();
  assertEquals([first.accel, first.provisional], ["tcg", true]);
  ok(first.reason.startsWith("kvm not tried yet: "));
  const second = await r.decision();
  assertEquals([second.accel, second.provisional], ["kvm", false]);
  await r.decision();
  await r.decision();
  assertEquals(p.calls, 2, "a definitive decision is kept");
});

Deno.test("resolver: concurrent callers after a provisional decision share one new probe", async () => {
  const p = counting(noKernel, booted);
  const r = new AccelResolver({ mode: "auto", kernel: "/k", probe: p.probe });
  await r.decision();
  const [a, b, c] = await Promise.all([r.decision(), r.decision(), r.decision()]);
  assertEquals([a.accel, b.accel, c.accel], ["kvm", "kvm", "kvm"]);
  assertEquals(p.calls, 2);
});
