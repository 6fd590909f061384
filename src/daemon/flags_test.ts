import assert from "node:assert/strict";
import { daemonUsage, parseDaemonArgs } from "./flags.ts";
import { isVolantError } from "../errors.ts";

Deno.test("parseDaemonArgs maps flags to config keys", () => {
  const f = parseDaemonArgs([
    "--state-dir",
    "/tmp/s",
    "--socket",
    "/tmp/s.sock",
    "--listen",
    "127.0.0.1:7777",
    "--bridge",
    "vbr9",
    "--subnet",
    "10.0.0.0/24",
    "--hypervisor",
    "cloud-hypervisor",
    "--kernel",
    "/k",
    "--config",
    "/etc/v.toml",
    "--no-host-network",
  ]);
  assert.deepEqual(f.flags, {
    state_dir: "/tmp/s",
    socket: "/tmp/s.sock",
    listen: "127.0.0.1:7777",
    bridge: "vbr9",
    subnet: "10.0.0.0/24",
    hypervisor: "cloud-hypervisor",
    kernel: "/k",
  });
  assert.equal(f.configPath, "/etc/v.toml");
  assert.equal(f.noHostNetwork, true);
  assert.equal(parseDaemonArgs(["-h"]).help, true);
  assert.equal(parseDaemonArgs(["-V"]).version, true);
});

Deno.test("parseDaemonArgs: unknown flags and positionals are usage errors", () => {
  for (const args of [["--nope"], ["serve"], ["--state-dir"]]) {
    assert.throws(() => parseDaemonArgs(args), (e) => isVolantError(e, "usage"), args.join(" "));
  }
});

Deno.test("daemonUsage lists every flag with its default", () => {
  const text = daemonUsage();
  assert.match(text, /--state-dir\s+default \/var\/lib\/volant/);
  assert.match(text, /--socket\s+default \/run\/volant\/volantd\.sock/);
  assert.match(text, /--subnet\s+default 192\.168\.127\.0\/24/);
  assert.match(text, /--no-host-network/);
});
