/**
 * A VmServiceApi stand-in for routes that need a *running* VM (agent proxy,
 * console). Fake at a boundary: a running VM needs QEMU and a network
 * namespace, which the e2e tests cover; here the VM is a record pointing at a
 * real local server or a real unix socket.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import type { VmRecord } from "../../manifest/api.ts";
import type { VmConsoleTarget, VmServiceApi } from "../../service/contracts.ts";

/** A VM record with sensible defaults. */
export function vmRecord(over: Partial<VmRecord> = {}): VmRecord {
  const now = new Date().toISOString();
  const base: Omit<VmRecord, "resources"> = {
    id: 1,
    name: "web",
    state: "running",
    plugin: "caddy",
    runtime: "caddy",
    ip: "127.0.0.1",
    mac: "02:00:00:00:00:01",
    cpu_cores: 1,
    memory_mb: 128,
    tap: "vtap1",
    machine: "microvm",
    restart_policy: "never",
    health: "unknown",
    kernel_cmdline: "",
    restarts: 0,
    created_at: now,
    updated_at: now,
    ...over,
  };
  return {
    ...base,
    resources: over.resources ?? { cpu_cores: base.cpu_cores, memory_mb: base.memory_mb },
  };
}

/** Only get() and console() answer; everything else is not part of these tests. */
export function stubVms(
  vms: VmRecord[],
  consoles: Record<string, VmConsoleTarget> = {},
): VmServiceApi {
  const find = (name: string) => {
    const vm = vms.find((v) => v.name === name);
    if (!vm) throw new VolantError("not_found", `vm ${name} not found`);
    return vm;
  };
  const unsupported = () => {
    throw new Error("not used by this test");
  };
  return {
    get: find,
    console: (name) => {
      find(name);
      const c = consoles[name];
      if (!c) throw new VolantError("not_found", `vm ${name} has no console`);
      return c;
    },
    list: unsupported,
    create: unsupported,
    start: unsupported,
    stop: unsupported,
    restart: unsupported,
    delete: unsupported,
    getConfig: unsupported,
    patchConfig: unsupported,
    configHistory: unsupported,
  };
}
