import assert from "node:assert/strict";
import { resolveConfig } from "../config/mod.ts";
import { createLogger } from "../log/mod.ts";
import { isVolantError } from "../errors.ts";
import { buildHostNetwork, buildHypervisor } from "./adapters.ts";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ write: (l) => lines.push(JSON.parse(l)) });
  return { lines, log };
}

Deno.test("without root, host networking is skipped with a clear log line (nothing touched)", async () => {
  const { lines, log } = capture();
  const config = resolveConfig({ flags: { state_dir: "/tmp/x" } });
  const choice = await buildHostNetwork(config, { disabled: false, uid: 1000 }, log);
  assert.equal(choice.network, undefined);
  assert.match(choice.reason!, /needs root .*uid 1000/);
  assert.equal(lines.length, 1);
  assert.equal(lines[0].level, "warn");
  assert.match(String(lines[0].msg), /host networking skipped: VM starts will answer 503/);
});

Deno.test("--no-host-network skips host networking even as root", async () => {
  const { lines, log } = capture();
  const config = resolveConfig({ flags: { state_dir: "/tmp/x" } });
  const choice = await buildHostNetwork(config, { disabled: true, uid: 0 }, log);
  assert.equal(choice.network, undefined);
  assert.match(choice.reason!, /--no-host-network/);
  assert.equal(lines.length, 1);
});

Deno.test("--accel tcg with cloud-hypervisor is refused at start, naming the key", async () => {
  const { log } = capture();
  const config = resolveConfig({
    flags: { state_dir: "/tmp/x", hypervisor: "cloud-hypervisor", accel: "tcg" },
  });
  await assert.rejects(
    buildHypervisor(config, log),
    (e: unknown) =>
      isVolantError(e, "invalid_input") && e.problems[0].field === "accel" &&
      /cloud-hypervisor runs only on KVM/.test(e.message),
  );
});

Deno.test("--accel tcg with QEMU: one log line with the decision, and the driver reports it", async () => {
  const { lines, log } = capture();
  const config = resolveConfig({ flags: { state_dir: "/tmp/x", accel: "tcg" } });
  const choice = await buildHypervisor(config, log);
  const line = lines.find((l) => l.msg === "accelerator: tcg");
  assert.ok(line, JSON.stringify(lines));
  assert.equal(line.reason, "tcg asked for (accel = tcg); kvm not probed");
  const info = await choice.hypervisor!.accelerator!();
  assert.deepEqual([info.mode, info.accel, info.reason], ["tcg", "tcg", line.reason]);
});
