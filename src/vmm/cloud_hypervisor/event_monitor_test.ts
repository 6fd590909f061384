import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { type ChEvent, guestResetKind, parseChEvents, watchChEvents } from "./event_monitor.ts";

/** As CH writes one: serde_json::to_string_pretty + "\n\n" (event_monitor/src/lib.rs l. 125). */
function record(source: string, event: string, properties: Record<string, string> | null = null) {
  return JSON.stringify({ timestamp: { secs: 0, nanos: 5 }, source, event, properties }, null, 2) +
    "\n\n";
}

Deno.test("CH events: complete records parse, a torn tail waits for the rest", () => {
  const text = record("vmm", "starting") + record("vm", "rebooting");
  const torn = record("guest", "panic", { event: "panic" });
  const { events, rest } = parseChEvents(text + torn.slice(0, 20));
  assertEquals(events.map((e) => `${e.source} ${e.event}`), ["vmm starting", "vm rebooting"]);
  const more = parseChEvents(rest + torn.slice(20));
  assertEquals(more.events[0].properties, { event: "panic" });
  assertEquals(more.rest, "");
});

Deno.test("CH events: only a guest reset or panic means the guest went down", () => {
  const e = (source: string, event: string): ChEvent => ({ source, event });
  assertEquals(guestResetKind(e("vm", "rebooting")), "reboot");
  assertEquals(guestResetKind(e("guest", "panic")), "panic");
  assertEquals(guestResetKind(e("vm", "shutdown")), null);
  assertEquals(guestResetKind(e("vm", "booted")), null);
});

Deno.test("CH events: the watcher follows a growing file and restarts after a truncation", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-chev-" });
  const path = `${dir}/events.json`;
  const seen: string[] = [];
  const stop = watchChEvents(path, (e) => seen.push(`${e.source} ${e.event}`), 10);
  const until = async (n: number) => {
    for (let i = 0; i < 200 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  };
  try {
    await Deno.writeTextFile(path, record("vmm", "starting"));
    await until(1);
    await Deno.writeTextFile(path, record("vm", "booted"), { append: true });
    await until(2);
    await Deno.writeTextFile(path, record("vmm", "starting")); // a new VMM truncates
    await until(3);
    assertEquals(seen, ["vmm starting", "vm booted", "vmm starting"]);
  } finally {
    stop();
    await new Promise((r) => setTimeout(r, 30));
    await Deno.remove(dir, { recursive: true });
  }
});
