/**
 * Plugin actions and the workload's OpenAPI document on a real guest: the
 * example plugin (examples/static-http, built by fledge) boots under QEMU in
 * a sandboxed volantd (its own network namespace), and its `status` action
 * runs through the REST routes, `volar` and the MCP SDK client; the OpenAPI
 * document comes from the workload through kestrel. One boot serves every
 * step. On failure the serial and daemon logs are kept in test-artifacts/e2e-actions/.
 */
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { connectMcp } from "../../src/client/mcp.ts";
import { prepareHost } from "../../scripts/journey/prepare.ts";
import { Sandbox } from "../../scripts/journey/sandbox.ts";
import { REPO } from "../../scripts/_repo.ts";

const KEEP_LOGS = `${REPO}/test-artifacts/e2e-actions`;

interface Vm {
  name: string;
  state: string;
  health: string;
}

type Status = {
  plugin: string;
  status: string;
  uptime_s: number;
  method: string;
  loadavg?: number[];
  hostname?: string;
};

Deno.test({
  name: "actions: the example's status action on a QEMU guest through REST, volar and MCP",
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  if (Deno.uid() !== 0) throw new Error("e2e tests need root (netns, TAP): run as root");
  const artifacts = await prepareHost();
  const sb = await Sandbox.create({ artifacts, prefix: "volant-act" });
  const http = Deno.createHttpClient({ proxy: { transport: "unix", path: sb.socket } });
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`http://volantd${path}`, { ...init, client: http });
  const post = (path: string, body: unknown) =>
    api(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  let ok = false;
  try {
    await sb.startDaemon();
    await sb.installExample({ shim: artifacts.shim });
    const created = await sb.volar(["vms", "create", "web", "--plugin", "static-http"]);
    assert.equal(created.code, 0, created.stderr);
    await sb.waitHealthy<Vm>("web");

    await t.step("REST: POST /api/v1/vms/web/actions/status runs the workload's CGI", async () => {
      const res = await post("/api/v1/vms/web/actions/status?plugin=static-http", {
        verbose: true,
      });
      const result = await res.json();
      assert.equal(res.status, 200, JSON.stringify(result));
      assert.equal(result.vm, "web");
      assert.equal(result.status, 200);
      const body = result.body as Status;
      assert.equal(body.plugin, "static-http");
      assert.equal(body.status, "serving");
      assert.equal(body.method, "POST");
      assert.ok(body.uptime_s > 0);
      assert.equal(body.loadavg?.length, 3);
      assert.equal(body.hostname, "web");

      const bad = await post("/api/v1/vms/web/actions/status", { verbose: "yes" });
      assert.equal(bad.status, 400);
      const problem = await bad.json();
      assert.deepEqual(problem.problems.map((p: { field: string }) => p.field), [
        "payload.verbose",
      ]);

      const byPlugin = await post("/api/v1/plugins/static-http/actions/status", {});
      const r2 = await byPlugin.json();
      assert.equal(byPlugin.status, 200, JSON.stringify(r2));
      assert.equal(r2.vm, "web");
      assert.equal((r2.body as Status).loadavg, undefined);
    });

    await t.step("volar vms action / plugins action", async () => {
      const r = await sb.volar([
        "vms",
        "action",
        "web",
        "static-http",
        "status",
        "--payload",
        '{"verbose":true}',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as Status).hostname, "web");
      const file = `${sb.dir}/payload.json`;
      await Deno.writeTextFile(file, JSON.stringify({ verbose: false }));
      const p = await sb.volar(["plugins", "action", "static-http", "status", "--payload", file]);
      assert.equal(p.code, 0, p.stderr);
      assert.equal((JSON.parse(p.stdout) as Status).status, "serving");
      const wrong = await sb.volar(["vms", "action", "web", "other", "status"]);
      assert.equal(wrong.code, 4, wrong.stderr);
      assert.match(wrong.stderr, /^volar: plugin: vm web runs plugin static-http$/m);
      const unknown = await sb.volar(["vms", "action", "web", "static-http", "nope"]);
      assert.equal(unknown.code, 3, unknown.stderr);
    });

    await t.step("MCP: the action is a tool; the console snapshot shows the guest", async () => {
      const conn = connectMcp({ socket: sb.socket });
      const client = new Client({ name: "volant-e2e", version: "1.0.0" });
      try {
        await client.connect(conn.transport);
        const { tools } = await client.listTools() as { tools: { name: string }[] };
        assert.ok(tools.some((x) => x.name === "action_static-http_status"));
        const r = await client.callTool({
          name: "action_static-http_status",
          arguments: { vm: "web", payload: { verbose: true } },
        }) as { structuredContent?: { body: Status }; isError?: boolean; content: unknown[] };
        assert.ok(!r.isError, JSON.stringify(r.content));
        assert.equal(r.structuredContent?.body.hostname, "web");
        const any = await client.callTool({
          name: "action_static-http_status",
          arguments: {},
        }) as { structuredContent?: { vm: string } };
        assert.equal(any.structuredContent?.vm, "web");
        const snap = await client.callTool({
          name: "vms_console_snapshot",
          arguments: { name: "web", tail: 400 },
        }) as { content: { text: string }[] };
        assert.match(snap.content[0].text, /kestrel/);
      } finally {
        await client.close();
        await conn.close();
      }
    });

    await t.step("GET /api/v1/vms/web/openapi: the workload's document via kestrel", async () => {
      const res = await api("/api/v1/vms/web/openapi");
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /json/);
      const doc = await res.json();
      assert.equal(doc.openapi, "3.0.3");
      assert.ok(doc.paths["/cgi-bin/status"].post);
      const cli = await sb.volar(["vms", "openapi", "web"]);
      assert.equal(cli.code, 0, cli.stderr);
      assert.equal(JSON.parse(cli.stdout).info.title, "static-http");
    });
    ok = true;
  } finally {
    http.close();
    if (!ok) {
      const kept = await sb.keepSerialLogs(KEEP_LOGS);
      console.error(`actions e2e: logs kept: ${kept.join(", ")}`);
    }
    await sb.close();
  }
});
