/**
 * The agent API and the /v1 proxy over real sockets on 127.0.0.1 (random
 * ports), with a real workload server and a real supervised child.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { createApiHandler } from "./api.ts";
import { newState } from "./state.ts";
import { HealthMonitor } from "./health.ts";
import { MemoryConsole } from "./console.ts";
import { Supervisor } from "./supervisor.ts";
import { ChildTracker } from "./child_tracker.ts";
import { DEFAULT_PATH } from "./workload_spec.ts";
import { stripHopByHop } from "./proxy.ts";
import type { PluginManifest } from "../src/manifest/plugin.ts";

interface Seen {
  method: string;
  path: string;
  headers: Headers;
  body: string;
}

function workloadServer(seen: Seen[]) {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    seen.push({
      method: req.method,
      path: url.pathname + url.search,
      headers: req.headers,
      body: await req.text(),
    });
    if (url.pathname === "/app/slow") await new Promise((r) => setTimeout(r, 1_000));
    return new Response(`hello from ${url.pathname}`, {
      status: url.pathname === "/app/missing" ? 404 : 200,
      headers: {
        "x-workload": "yes",
        "keep-alive": "timeout=5",
        "x-drop": "1",
        connection: "x-drop",
      },
    });
  });
}

function manifest(port: number): PluginManifest {
  return {
    name: "web",
    version: "2.0",
    runtime: "web",
    resources: { cpu_cores: 1, memory_mb: 128 },
    initramfs: { url: "https://example.com/x.cpio.gz" },
    workload: { type: "http", base_url: `http://127.0.0.1:${port}/app`, entrypoint: ["x"] },
    health_check: { endpoint: "/health" },
    actions: { slow: { method: "GET", path: "/slow", timeout_ms: 200 } },
  } as PluginManifest;
}

Deno.test("api: healthz, status, logs and the /v1 proxy", async () => {
  const seen: Seen[] = [];
  const upstream = workloadServer(seen);
  const port = upstream.addr.port;
  const state = newState("9.9.9", "host");
  state.manifest = manifest(port);
  const console = new MemoryConsole();
  state.health = new HealthMonitor({ url: `http://127.0.0.1:${port}/app/health`, console });
  const sup = new Supervisor({
    command: "/bin/sh",
    args: ["-c", "echo line1; echo line2; echo line3; exec sleep 30"],
    env: { PATH: DEFAULT_PATH },
    cwd: "/",
    restart: "never",
  }, {
    console,
    tracker: new ChildTracker(),
    onStart: () => state.health?.begin(),
    onExit: () => state.health?.workloadExited(),
  });
  state.supervisor = sup;
  const api = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    createApiHandler(state),
  );
  const base = `http://127.0.0.1:${api.addr.port}`;
  try {
    // Before the workload is healthy: 503 with the state.
    let res = await fetch(`${base}/healthz`);
    assertEquals(res.status, 503);
    assertEquals((await res.json()).status, "down");

    sup.start();
    for (let i = 0; i < 200 && state.health.state !== "healthy"; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    res = await fetch(`${base}/healthz`);
    assertEquals(res.status, 200);
    const hz = await res.json();
    assertEquals(hz.status, "ok");
    assertEquals(hz.version, "9.9.9");
    assert(typeof hz.uptime_ms === "number");

    res = await fetch(`${base}/v1/status`);
    const st = await res.json();
    assertEquals(st.manifest, { name: "web", version: "2.0", runtime: "web" });
    assertEquals(st.workload.pid, sup.pid);
    assertEquals(st.workload.restarts, 0);
    assertEquals(st.health.state, "healthy");
    assertEquals(st.boot.mode, "host");

    for (let i = 0; i < 200 && !sup.logs.text().includes("line3"); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    res = await fetch(`${base}/v1/logs?tail=2`);
    assertEquals(res.headers.get("content-type"), "text/plain; charset=utf-8");
    assertEquals(await res.text(), "line2\nline3\n");
    res = await fetch(`${base}/v1/logs?tail=-1`);
    assertEquals(res.status, 400);
    assertEquals(res.headers.get("content-type"), "application/problem+json");
    assertEquals((await res.json()).problems[0].field, "tail");

    // Proxy: /v1 stripped, joined onto base_url's path, query and body kept.
    res = await fetch(`${base}/v1/things/1?x=y`, {
      method: "POST",
      body: "payload",
      headers: { "x-custom": "c", "proxy-authorization": "secret" },
    });
    assertEquals(res.status, 200);
    assertEquals(await res.text(), "hello from /app/things/1");
    assertEquals(res.headers.get("x-workload"), "yes");
    assertEquals(res.headers.get("keep-alive"), null, "hop-by-hop dropped on the way back");
    assertEquals(res.headers.get("x-drop"), null, "headers named in Connection dropped");
    const got = seen.find((s) => s.path === "/app/things/1?x=y")!;
    assertEquals(got.method, "POST");
    assertEquals(got.body, "payload");
    assertEquals(got.headers.get("x-custom"), "c");
    assertEquals(got.headers.get("proxy-authorization"), null, "hop-by-hop dropped on the way in");

    res = await fetch(`${base}/v1/missing`);
    assertEquals(res.status, 404, "upstream status passes through");
    await res.body?.cancel();

    // The action's timeout_ms (200) bounds the slow call: 504.
    res = await fetch(`${base}/v1/slow`);
    assertEquals(res.status, 504);
    assert((await res.json()).detail.includes("200 ms"));

    res = await fetch(`${base}/nope`);
    assertEquals(res.status, 404);
    await res.body?.cancel();
  } finally {
    state.health.stop();
    await sup.stop(1_000);
    await api.shutdown();
    await upstream.shutdown();
  }

  // Upstream gone: 502, not a hang.
  const res = await fetch(`http://127.0.0.1:${port}`).catch((e) => e as Error);
  assert(res instanceof Error);
  const api2 = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    createApiHandler(state),
  );
  try {
    const r = await fetch(`http://127.0.0.1:${api2.addr.port}/v1/anything`);
    assertEquals(r.status, 502);
    await r.body?.cancel();
    const hz = await fetch(`http://127.0.0.1:${api2.addr.port}/healthz`);
    assertEquals(hz.status, 503);
    await hz.body?.cancel();
  } finally {
    await api2.shutdown();
  }
});

Deno.test("stripHopByHop removes the RFC 9110 list and Connection-named headers", () => {
  const h = stripHopByHop(
    new Headers({
      connection: "close, x-a",
      "x-a": "1",
      te: "trailers",
      "x-b": "2",
      upgrade: "h2c",
    }),
  );
  assertEquals([...h.keys()], ["x-b"]);
});
