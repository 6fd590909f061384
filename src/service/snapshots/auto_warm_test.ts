/**
 * warm_start: installs and updates (real event bus over a real SQLite store)
 * start one warm each, one at a time; a failing warm is logged and the next
 * plugin still warms. The warm itself (a real QEMU guest) is in
 * tests/e2e/snapshot_test.ts; here a recording stand-in takes its place.
 */
import assert from "node:assert/strict";
import { openStore } from "../../store/mod.ts";
import { EventBus } from "../events.ts";
import { createLogger } from "../../log/mod.ts";
import { AutoWarm } from "./auto_warm.ts";

Deno.test("warm_start: installed and updated plugins are warmed in turn; a failure is logged, not fatal", async () => {
  const dir = Deno.makeTempDirSync();
  const store = openStore({ stateDir: dir });
  const lines: string[] = [];
  const log = createLogger({ level: "info", write: (l: string) => lines.push(l) });
  try {
    const bus = new EventBus(store);
    bus.publish("plugin.installed", "plugin", "before-start"); // older than start(): not warmed
    let running = 0;
    let overlapped = false;
    const calls: string[] = [];
    const warmer = {
      async warm(plugin: string) {
        calls.push(plugin);
        overlapped ||= ++running > 1;
        await Promise.resolve();
        running--;
        if (plugin === "own-init") throw new Error("its guest agent lacks the identity hand-off");
      },
    };
    const auto = new AutoWarm(bus, warmer, log);
    const done = Promise.withResolvers<void>();
    const results: [string, boolean][] = [];
    auto.onWarmed = (plugin, error) => {
      results.push([plugin, error === undefined]);
      if (results.length === 3) done.resolve();
    };
    auto.start();
    bus.publish("plugin.installed", "plugin", "web");
    bus.publish("vm.created", "vm", "x");
    bus.publish("plugin.installed", "plugin", "own-init");
    bus.publish("plugin.updated", "plugin", "web");
    await done.promise;
    await auto.stop();
    assert.deepEqual(calls, ["web", "own-init", "web"]);
    assert.deepEqual(results, [["web", true], ["own-init", false], ["web", true]]);
    assert.equal(overlapped, false, "one warm at a time");
    assert.ok(
      lines.some((l) => l.includes("cannot warm the plugin") && l.includes("own-init")),
      lines.join("\n"),
    );
  } finally {
    store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
