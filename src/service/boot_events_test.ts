/** The boot events' payloads from kestrel's /v1/status, and their publication on a real bus. */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { bootEventPayloads } from "./boot_events.ts";

Deno.test("boot events: workload first -> started by the shim, agent joined later (guest uptimes)", () => {
  const status = {
    boot: {
      workload_first: {
        pid: 29,
        workload_started_uptime_ms: 852,
        agent_started_uptime_ms: 13640,
        agent_joined_uptime_ms: 17830,
      },
    },
  };
  assertEquals(bootEventPayloads(status), {
    workloadStarted: { by: "shim", pid: 29, guest_uptime_ms: 852 },
    agentJoined: { before_workload: false, guest_uptime_ms: 17830 },
  });
});

Deno.test("boot events: kestrel started the workload, or the guest does not say", () => {
  assertEquals(bootEventPayloads({ boot: { workload_first: null } }), {
    workloadStarted: { by: "kestrel" },
    agentJoined: { before_workload: true },
  });
  assertEquals(bootEventPayloads(undefined), null);
  assertEquals(bootEventPayloads({ version: "x" }), null);
  assertEquals(
    bootEventPayloads({ boot: { workload_first: { pid: "x", agent_joined_uptime_ms: NaN } } }),
    { workloadStarted: { by: "shim" }, agentJoined: { before_workload: false } },
  );
});
