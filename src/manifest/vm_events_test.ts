import assert from "node:assert/strict";
import { EVENT_TYPES } from "./api.ts";
import { parseVmEventData, VM_EVENT_TYPES } from "./vm_events.ts";

Deno.test("vm events: every vm.* event type has exactly one data schema", () => {
  const vm = EVENT_TYPES.filter((t) => t.startsWith("vm."));
  assert.deepEqual([...VM_EVENT_TYPES].sort(), [...vm].sort());
});

Deno.test("vm events: the old vm.stopped shapes all fit the one schema; unknown fields are refused", () => {
  for (
    const data of [
      { cause: "requested" },
      { cause: "requested", from: "crashed" },
      { cause: "guest_power_off", reason: "guest powered off", code: 0 },
      { cause: "daemon_restart", reason: "VMM gone after daemon restart" },
    ] as const
  ) {
    assert.deepEqual(parseVmEventData({ type: "vm.stopped", data }), data);
  }
  assert.throws(() =>
    parseVmEventData({ type: "vm.stopped", data: { cause: "requested", extra: 1 } as never })
  );
  assert.throws(() => parseVmEventData({ type: "vm.stopping", data: {} as never }));
});
