import assert from "node:assert/strict";
import { bytes, keyValues, table } from "./format.ts";
import { vmTable } from "./cmd_vms.ts";
import { vmRecord } from "../api/testing/stub_vms.ts";

Deno.test("table: aligned columns, '-' for empty cells, no trailing padding", () => {
  assert.equal(
    table(["NAME", "IP", "X"], [["web", "192.168.127.2", true], [
      "a-much-longer",
      undefined,
      false,
    ]]),
    [
      "NAME           IP             X",
      "web            192.168.127.2  yes",
      "a-much-longer  -              no",
    ].join("\n"),
  );
});

Deno.test("vms table has NAME STATE PLUGIN IP MAC CPU MEM HEALTH", () => {
  const lines = vmTable([vmRecord({ name: "web", ip: "192.168.127.2", memory_mb: 512 })]).split(
    "\n",
  );
  assert.deepEqual(lines[0].split(/\s+/), [
    "NAME",
    "STATE",
    "PLUGIN",
    "IP",
    "MAC",
    "CPU",
    "MEM",
    "HEALTH",
  ]);
  assert.deepEqual(lines[1].split(/\s+/), [
    "web",
    "running",
    "caddy",
    "192.168.127.2",
    "02:00:00:00:00:01",
    "1",
    "512M",
    "unknown",
  ]);
  // Every column starts at the same offset in header and row.
  assert.equal(lines[0].indexOf("IP"), lines[1].indexOf("192.168.127.2"));
});

Deno.test("keyValues and bytes", () => {
  assert.equal(keyValues([["Name", "web"], ["PID", undefined]]), "Name:  web\nPID:   -");
  assert.equal(bytes(512), "512 B");
  assert.equal(bytes(1536), "1.5 KiB");
  assert.equal(bytes(3 * 1024 * 1024), "3.0 MiB");
});
