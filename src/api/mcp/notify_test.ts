/** Which notifications each event causes for a session (pure). */
import assert from "node:assert/strict";
import type { VolantEvent } from "../../manifest/api.ts";
import { notificationsFor } from "./notify.ts";

const ev = (type: VolantEvent["type"], resource: string): VolantEvent => ({
  id: 1,
  type,
  resource_type: type.startsWith("vm.") ? "vm" : "plugin",
  resource,
  time: "2026-01-01T00:00:00.000Z",
  data: {},
});

Deno.test("mcp notify: plugin changes change tools; VM changes reach subscribers only", () => {
  const none = new Set<string>();
  assert.deepEqual(notificationsFor(ev("plugin.installed", "caddy"), none), [{ kind: "tools" }]);
  assert.deepEqual(notificationsFor(ev("plugin.disabled", "caddy"), none), [{ kind: "tools" }]);
  assert.deepEqual(notificationsFor(ev("plugin.download", "caddy"), none), []);
  assert.deepEqual(notificationsFor(ev("vm.running", "web"), none), []);
  assert.deepEqual(notificationsFor(ev("vm.created", "web"), none), [{ kind: "resources" }]);
  const subs = new Set(["volant://vms/web", "volant://events"]);
  assert.deepEqual(notificationsFor(ev("vm.stopped", "web"), subs), [
    { kind: "updated", uri: "volant://events" },
    { kind: "updated", uri: "volant://vms/web" },
  ]);
  assert.deepEqual(
    notificationsFor(ev("vm.stopped", "db"), new Set(["volant://vms/web/logs"])),
    [],
  );
});
