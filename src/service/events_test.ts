import assert from "node:assert/strict";
import { openStore } from "../store/mod.ts";
import { EventBus } from "./events.ts";

Deno.test("events: replay from an id, then live, no gaps, filter applies", async () => {
  const dir = Deno.makeTempDirSync();
  const store = openStore({ stateDir: dir });
  try {
    const bus = new EventBus(store);
    bus.publish("vm.created", "vm", "a");
    bus.publish("plugin.installed", "plugin", "p");
    bus.publish("vm.running", "vm", "a");
    const ac = new AbortController();
    const sub = bus.subscribe({ after: 1, filter: { types: ["vm.*"] }, signal: ac.signal });
    const seen: number[] = [];
    const replayed = Promise.withResolvers<void>();
    const done = (async () => {
      for await (const e of sub) {
        seen.push(e.id);
        if (seen.length === 1) replayed.resolve();
        if (seen.length === 3) ac.abort();
      }
    })();
    await replayed.promise; // the backlog is read: what follows is live
    bus.publish("plugin.removed", "plugin", "p");
    bus.publish("vm.stopping", "vm", "a");
    bus.publish("vm.stopped", "vm", "a");
    await done;
    assert.deepEqual(seen, [3, 5, 6]);
    assert.equal(sub.lastId, 6);
  } finally {
    store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("events: a slow subscriber loses nothing (backlog stays in SQLite)", async () => {
  const dir = Deno.makeTempDirSync();
  const store = openStore({ stateDir: dir });
  try {
    const bus = new EventBus(store);
    const sub = bus.subscribe({});
    const it = sub[Symbol.asyncIterator]();
    for (let i = 0; i < 2000; i++) bus.publish("plugin.download", "plugin", "p", { i });
    let n = 0;
    let last = 0;
    while (n < 2000) {
      const r = await it.next();
      assert.equal(r.done, false);
      assert.equal(r.value.id, last + 1);
      last = r.value.id;
      n++;
    }
    sub.close();
    assert.equal((await it.next()).done, true);
  } finally {
    store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("events: pruning keeps the newest and ids keep increasing", () => {
  const dir = Deno.makeTempDirSync();
  const store = openStore({ stateDir: dir });
  try {
    const bus = new EventBus(store, () => new Date(), 10);
    for (let i = 0; i < 25; i++) bus.publish("vm.created", "vm", `v${i}`);
    assert.equal(bus.prune(), 15);
    const left = bus.list({});
    assert.deepEqual(left.map((e) => e.id), Array.from({ length: 10 }, (_, i) => 16 + i));
    assert.equal(bus.publish("vm.deleted", "vm", "x").id, 26);
  } finally {
    store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
