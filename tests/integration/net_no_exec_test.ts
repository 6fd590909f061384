/**
 * `strace -f -e trace=execve` of a bridge + TAP setup (and of the NAT step)
 * through src/net, inside a network namespace: no `ip`, `brctl` or `tunctl`
 * is ever executed; the only helper binary is `nft`, for the NAT table.
 */
import assert from "node:assert/strict";
import { NET_MOD, requireCommands, rootLinks, stepScript, withNetns } from "../_helpers/netns.ts";

/** The programs execve'd, from an strace -f log. */
function execs(log: string): string[] {
  return log.split("\n").flatMap((l) => {
    const m = /execve\("([^"]+)"/.exec(l);
    return m && !/ = -1 /.test(l) ? [m[1]] : [];
  });
}

Deno.test("bridge + TAP setup execs no ip/brctl/tunctl (strace -f -e trace=execve)", async () => {
  await requireCommands("ip", "strace", "nft");
  const before = await rootLinks();
  await withNetns(async (ns) => {
    const log = await Deno.makeTempFile({ prefix: "net-execve-" });
    try {
      const code = stepScript(
        NET_MOD,
        `const hn = m.createHostNetwork();
         await step("bridge", () => hn.ensureBridge({ name: "vbr0", gatewayCidr: "192.168.127.1/24" }));
         await step("tap", () => hn.ensureTap({ name: "vtap1", bridge: "vbr0" }));
         await step("sweep", () => hn.sweepTaps(new Set(["vtap1"])));
         await step("delete", () => hn.deleteTap("vtap1"));
         await step("tapAgain", () => hn.ensureTap({ name: "vtap2", bridge: "vbr0" }));`,
      );
      const r = await ns.run([
        "strace",
        "-f",
        "-e",
        "trace=execve",
        "-o",
        log,
        Deno.execPath(),
        "eval",
        "--ext=ts",
        code,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const steps = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
      for (const k of ["bridge", "tap", "delete", "tapAgain"]) {
        assert.deepEqual(steps[k], { ok: null });
      }
      const programs = execs(await Deno.readTextFile(log));
      assert.deepEqual(programs, [Deno.execPath()], `only deno itself: ${programs.join(", ")}`);

      // The NAT step may run nft, and nothing else.
      const nat = await ns.run([
        "strace",
        "-f",
        "-e",
        "trace=execve",
        "-o",
        log,
        Deno.execPath(),
        "eval",
        "--ext=ts",
        stepScript(
          NET_MOD,
          `const hn = m.createHostNetwork();
          await step("nat", () => hn.ensureNat({ bridge: "vbr0", subnet: "192.168.127.0/24", guardHostPorts: [7777] }));
          await step("rm", () => hn.removeNat());`,
        ),
      ]);
      assert.equal(nat.code, 0, nat.stderr);
      const natPrograms = execs(await Deno.readTextFile(log)).map((p) => p.split("/").at(-1));
      assert.ok(natPrograms.includes("nft"), natPrograms.join(", "));
      for (const p of natPrograms) assert.ok(["deno", "nft"].includes(p!), `unexpected exec ${p}`);
    } finally {
      await Deno.remove(log);
    }
    const [tap] = await ns.json<{ ifname: string; flags: string[] }[]>(
      ["ip", "-j", "-br", "link", "show", "vtap2"],
    );
    assert.ok(tap.flags.includes("UP"), "the TAP set up under strace is up");
  });
  assert.deepEqual(await rootLinks(), before);
});
