/**
 * The doctor's runner and its artifact check: rows keep their order, a check
 * that throws becomes a fail row, only a failing critical row blocks; an
 * artifact is verified against a real SHA256SUMS written by sha256sum(1).
 * Under 1 s.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { resolveConfig } from "../config/mod.ts";
import { bootBlocked, type Check, type DoctorContext, runChecks } from "./check.ts";
import { checkArtifact } from "./checks_guest.ts";

const ctx: DoctorContext = {
  config: resolveConfig(),
  socket: "/nonexistent/volantd.sock",
  uid: 0,
  version: "0.0.0",
  daemonInfo: () => Promise.reject(new Error("no daemon in this test")),
};

const row = (id: string, status: "ok" | "warn" | "fail", critical: Check["critical"]): Check => ({
  id,
  title: id,
  critical,
  run: () => Promise.resolve({ status, detail: `${id} detail` }),
});

Deno.test("doctor runner: order kept, a throwing check is a fail row, only critical fails block", async () => {
  const crashing: Check = {
    id: "crash",
    title: "crash",
    critical: false,
    run: () => Promise.reject(new Error("boom")),
  };
  const reports = await runChecks([row("a", "ok", true), crashing, row("b", "fail", false)], ctx);
  assertEquals(reports.map((r) => r.id), ["a", "crash", "b"]);
  assertEquals(reports[1].status, "fail");
  assertEquals(reports[1].detail, "the check itself failed: boom");
  assertEquals(bootBlocked(reports), false, "non-critical fails do not block");
  const blocked = await runChecks([row("k", "fail", (c) => c.config.hypervisor === "qemu")], ctx);
  assertEquals([blocked[0].critical, bootBlocked(blocked)], [true, true]);
});

Deno.test("doctor artifact check: missing, unverifiable, matching and changed files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-doctor-artifact-" });
  try {
    const file = `${dir}/vmlinux`;
    const missing = await checkArtifact(file, "guest kernel", "deno task kernel");
    assertEquals(missing.status, "fail");
    assertEquals(missing.detail, `guest kernel missing: ${file}`);
    await Deno.writeTextFile(file, "a kernel, as far as this test is concerned\n");
    assertEquals((await checkArtifact(file, "guest kernel", "x")).status, "warn");
    const sums = await new Deno.Command("sha256sum", {
      args: ["vmlinux"],
      cwd: dir,
      stdout: "piped",
    })
      .output();
    ok(sums.success, "sha256sum (coreutils) must run");
    await Deno.writeFile(`${dir}/SHA256SUMS`, sums.stdout);
    const good = await checkArtifact(file, "guest kernel", "x");
    assertEquals(good.status, "ok", good.detail);
    ok(good.detail.includes("matches SHA256SUMS"));
    await Deno.writeTextFile(file, "changed after the build\n", { append: true });
    const bad = await checkArtifact(file, "guest kernel", "x");
    assertEquals(bad.status, "fail");
    ok(bad.detail.includes("does not match SHA256SUMS"), bad.detail);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
