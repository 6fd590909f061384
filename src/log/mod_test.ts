import assert from "node:assert/strict";
import { createLogger } from "./mod.ts";

Deno.test("logger: JSON lines, level filter, child fields, errors flattened", () => {
  const lines: string[] = [];
  const log = createLogger({ level: "info", write: (l) => lines.push(l) });
  log.debug("hidden");
  log.info("vm started", { vm: "web", pid: 42 });
  log.child({ component: "service" }).error("boom", { error: new Error("disk full") });
  assert.equal(lines.length, 2);
  const a = JSON.parse(lines[0]);
  assert.equal(a.level, "info");
  assert.equal(a.msg, "vm started");
  assert.equal(a.vm, "web");
  assert.ok(!Number.isNaN(Date.parse(a.time)));
  const b = JSON.parse(lines[1]);
  assert.equal(b.component, "service");
  assert.deepEqual(b.error, { name: "Error", message: "disk full" });
});

Deno.test("logger: text format for humans", () => {
  const lines: string[] = [];
  createLogger({ format: "text", write: (l) => lines.push(l) }).warn("slow", { ms: 12 });
  assert.equal(lines[0], "WARN  slow ms=12");
});
