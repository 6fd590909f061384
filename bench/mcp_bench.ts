/**
 * MCP benchmark: the real daemon (child process) over its unix socket, the
 * SDK's own client. What a tool call costs over the REST call it wraps:
 *
 * 1. session setup (initialize + initialized) time;
 * 2. tools/list with N installed plugins each declaring two actions: the raw
 *    JSON-RPC round trip (the server's cost) and the SDK client's listTools
 *    (which also compiles an Ajv validator per output schema, client side);
 * 3. sequential `vms_show` tool calls vs sequential `GET /api/v1/vms/{name}`:
 *    p50/p99 latency of each, and the ratio.
 *
 * No target is asserted here; the numbers go to docs/mcp.md.
 *
 * Run: deno run -A bench/mcp_bench.ts [--calls 300] [--plugins 20]
 */
import { parseArgs } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { jsonBody, writePlugin } from "../src/api/testing/fixtures.ts";
import { connectMcp } from "../src/client/mcp.ts";
import { startDaemonProcess } from "../src/daemon/testing/harness.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    calls: { type: "string", default: "300" },
    plugins: { type: "string", default: "20" },
  },
});
const CALLS = Number(values.calls);
const PLUGINS = Number(values.plugins);
for (const [flag, n] of [["--calls", CALLS], ["--plugins", PLUGINS]] as const) {
  if (!Number.isInteger(n) || n < 1) {
    console.error(`mcp_bench: ${flag} must be a positive integer`);
    Deno.exit(2);
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
const ms = (x: number) => Math.round(x * 100) / 100;

const d = await startDaemonProcess();
try {
  for (let i = 0; i < PLUGINS; i++) {
    const path = await writePlugin(d.dir, `p${i}`);
    const m = JSON.parse(await Deno.readTextFile(path));
    m.actions = {
      status: { method: "POST", path: "/status" },
      reload: {
        method: "POST",
        path: "/reload",
        payload_schema: { type: "object", properties: { force: { type: "boolean" } } },
      },
    };
    await Deno.writeTextFile(path, JSON.stringify(m));
    const res = await d.fetch("/api/v1/plugins", jsonBody("POST", { path }));
    if (!res.ok) throw new Error(`install p${i}: ${res.status} ${await res.text()}`);
    await res.body?.cancel();
  }
  const created = await d.fetch(
    "/api/v1/vms",
    jsonBody("POST", { name: "web", plugin: "p0", start: false }),
  );
  if (created.status !== 201) throw new Error(`create: ${created.status}`);
  await created.body?.cancel();

  const t0 = performance.now();
  const conn = connectMcp({ socket: d.socket });
  const client = new Client({ name: "mcp-bench", version: "1" });
  await client.connect(conn.transport);
  const initMs = performance.now() - t0;

  const listTimes: number[] = [];
  let toolCount = 0;
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    toolCount = (await client.listTools()).tools.length;
    listTimes.push(performance.now() - t);
  }

  const raw: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    const res = await d.fetch("/mcp", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-session-id": conn.transport.sessionId ?? "",
        "mcp-protocol-version": "2025-06-18",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1000 + i, method: "tools/list" }),
    });
    await res.text();
    raw.push(performance.now() - t);
  }
  raw.sort((a, b) => a - b);

  const mcp: number[] = [];
  const rest: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    let t = performance.now();
    const r = await client.callTool({ name: "vms_show", arguments: { name: "web" } });
    mcp.push(performance.now() - t);
    if (r.isError) throw new Error(`vms_show failed: ${JSON.stringify(r.content)}`);
    t = performance.now();
    const res = await d.fetch("/api/v1/vms/web");
    await res.json();
    rest.push(performance.now() - t);
  }
  await client.close();
  await conn.close();

  mcp.sort((a, b) => a - b);
  rest.sort((a, b) => a - b);
  listTimes.sort((a, b) => a - b);
  const result = {
    initialize_ms: ms(initMs),
    tools: toolCount,
    tools_list_raw_p50_ms: ms(percentile(raw, 50)),
    tools_list_sdk_client_p50_ms: ms(percentile(listTimes, 50)),
    calls: CALLS,
    mcp_vms_show_p50_ms: ms(percentile(mcp, 50)),
    mcp_vms_show_p99_ms: ms(percentile(mcp, 99)),
    rest_get_vm_p50_ms: ms(percentile(rest, 50)),
    rest_get_vm_p99_ms: ms(percentile(rest, 99)),
    mcp_over_rest_p50: ms(percentile(mcp, 50) / percentile(rest, 50)),
  };
  console.log(`session initialize: ${result.initialize_ms} ms`);
  console.log(
    `tools/list (${toolCount} tools, ${PLUGINS} plugins): raw JSON-RPC p50 ` +
      `${result.tools_list_raw_p50_ms} ms; SDK client listTools p50 ` +
      `${result.tools_list_sdk_client_p50_ms} ms (client-side schema compiles)`,
  );
  console.log(
    `vms_show tool call: p50 ${result.mcp_vms_show_p50_ms} ms, p99 ${result.mcp_vms_show_p99_ms} ms`,
  );
  console.log(
    `GET /api/v1/vms/web:  p50 ${result.rest_get_vm_p50_ms} ms, p99 ${result.rest_get_vm_p99_ms} ms`,
  );
  console.log(`MCP / REST at p50: ${result.mcp_over_rest_p50}x`);
  console.log(`BENCH_JSON ${JSON.stringify(result)}`);
} finally {
  await d.stop();
  await d.cleanup();
}
