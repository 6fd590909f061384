import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { HealthMonitor, joinUrl } from "./health.ts";
import { MemoryConsole } from "./console.ts";

Deno.test("joinUrl joins paths and keeps the query", () => {
  assertEquals(joinUrl("http://h:1", "/x"), "http://h:1/x");
  assertEquals(joinUrl("http://h:1/app/", "/x?a=1"), "http://h:1/app/x?a=1");
  assertEquals(joinUrl("http://h:1/app", "/"), "http://h:1/app/");
});

async function until(cond: () => boolean, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

Deno.test("health: a workload that answers late passes; ready is reported once", async () => {
  let up = false;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("ok", { status: up ? 200 : 503 }),
  );
  const console = new MemoryConsole();
  const healthy: boolean[] = [];
  const h = new HealthMonitor({
    url: `http://127.0.0.1:${server.addr.port}/health`,
    timeoutMs: 5_000,
    watchIntervalMs: 50,
    console,
    onHealthy: (first) => healthy.push(first),
  });
  try {
    h.begin();
    await new Promise((r) => setTimeout(r, 150));
    assertEquals(h.state, "starting");
    assert(h.lastError?.includes("HTTP 503"));
    up = true;
    await until(() => h.state === "healthy", 3_000);
    assertEquals(h.state, "healthy");
    assertEquals(healthy, [true]);
    // Fails later: unhealthy after the failure threshold; recovers when it answers again.
    up = false;
    await until(() => h.state === "unhealthy", 3_000);
    assertEquals(h.state, "unhealthy");
    up = true;
    await until(() => h.state === "healthy", 3_000);
    assertEquals(healthy, [true, false]);
    h.workloadExited();
    assertEquals(h.state, "down");
  } finally {
    h.stop();
    await server.shutdown();
  }
});

Deno.test("health: no 2xx before the deadline -> unhealthy with one line, no hang", async () => {
  const console = new MemoryConsole();
  // A port with nothing listening: connection refused on every probe.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const h = new HealthMonitor({
    url: `http://127.0.0.1:${port}/`,
    timeoutMs: 300,
    watchIntervalMs: 10_000,
    console,
  });
  const t = performance.now();
  h.begin();
  await until(() => h.state === "unhealthy", 3_000);
  h.stop();
  assertEquals(h.state, "unhealthy");
  assert(performance.now() - t < 2_000);
  assertEquals(console.lines.length, 1);
  assert(console.lines[0].includes("health check failed"), console.lines[0]);
  assert(console.lines[0].includes("within 300 ms"));
});

Deno.test("health: no health_check means healthy as soon as the workload runs", async () => {
  const h = new HealthMonitor({ url: null, console: new MemoryConsole() });
  h.begin();
  await until(() => h.state === "healthy", 1_000);
  assertEquals(h.state, "healthy");
  h.stop();
});
