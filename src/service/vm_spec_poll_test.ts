import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { pollsHealth } from "./vm_spec.ts";

Deno.test("health is polled for bridged VMs, and for NIC-less VMs only over a driver's agent channel", () => {
  const qemu = { agentChannel: true };
  const ch = { agentChannel: true }; // vsock on every CH VM
  const none = {}; // a driver without the channel
  assertEquals(pollsHealth(true, qemu, "bridged"), true);
  assertEquals(pollsHealth(true, ch, "bridged"), true);
  assertEquals(pollsHealth(true, qemu, "vsock"), true);
  assertEquals(pollsHealth(true, ch, "vsock"), true);
  assertEquals(pollsHealth(true, none, "bridged"), true);
  assertEquals(pollsHealth(true, none, "vsock"), false);
  assertEquals(pollsHealth(true, qemu, "dhcp"), false);
  assertEquals(pollsHealth(false, qemu, "bridged"), false);
  assertEquals(pollsHealth(true, undefined, "vsock"), false);
});
