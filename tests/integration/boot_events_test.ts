/**
 * vm.workload_started / vm.agent_joined end to end over real HTTP: kestrel's
 * own API handler (agent/api.ts) on a real socket, volantd's GuestClient
 * asking it, and each published event checked against its vm.* schema. About
 * 1 s.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { createApiHandler } from "../../agent/api.ts";
import { newState } from "../../agent/state.ts";
import { GuestClient } from "../../src/guest/client.ts";
import { parseVmEventData, type VmEventInput } from "../../src/manifest/vm_events.ts";
import { publishBootEvents } from "../../src/service/boot_events.ts";

Deno.test("boot events: kestrel's /v1/status -> two typed vm.* events", async () => {
  const state = newState("test", "initramfs", 0);
  state.workloadFirst = {
    pid: 29,
    workload_started_uptime_ms: 852,
    agent_started_uptime_ms: 13640,
    agent_joined_uptime_ms: 17830,
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    createApiHandler(state),
  );
  try {
    const client = new GuestClient({ port: server.addr.port });
    const published: VmEventInput[] = [];
    await publishBootEvents(
      client,
      (e) => published.push(e),
      "127.0.0.1",
      new AbortController().signal,
    );
    assertEquals(published.map((e) => [e.type, parseVmEventData(e)]), [
      ["vm.workload_started", { by: "shim", pid: 29, guest_uptime_ms: 852 }],
      ["vm.agent_joined", { before_workload: false, guest_uptime_ms: 17830 }],
    ]);
    // Nobody answering: no events, no error (the health result stands on its own).
    const none: VmEventInput[] = [];
    const gone = new GuestClient({ port: 1 });
    await publishBootEvents(gone, (e) => none.push(e), "127.0.0.1", new AbortController().signal);
    assertEquals(none, []);
  } finally {
    await server.shutdown();
  }
});
