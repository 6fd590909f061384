/**
 * The MCP SDK's own client against the real daemon (`deno run -A src/main.ts
 * volantd`, --no-host-network) over its real unix socket and TCP listener:
 * initialize, tools/list (names and schemas), tools/call create -> show ->
 * delete, a bad argument as a tool error naming the field, a plugin install
 * announcing tools/list_changed with the plugin's action as a new tool, a
 * resource subscription hearing of VM changes, and TCP refused without the
 * token. `volar mcp` is then driven over stdio by the SDK's stdio client.
 */
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import {
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { writePlugin } from "../../src/api/testing/fixtures.ts";
import { connectMcp } from "../../src/client/mcp.ts";
import { startDaemonProcess } from "../../src/daemon/testing/harness.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

type ToolResult = {
  content: { type: string; text: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
};

/** Resolves when `check` passes, polling; fails with `what` after `ms`. */
async function eventually(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A plugin manifest on disk with a `status` action whose payload has a schema. */
async function pluginWithAction(dir: string, name: string): Promise<string> {
  const path = await writePlugin(dir, name);
  const m = JSON.parse(await Deno.readTextFile(path));
  m.actions = {
    status: {
      description: "Report the workload's status",
      method: "POST",
      path: "/cgi-bin/status",
      timeout_ms: 5000,
      payload_schema: {
        type: "object",
        properties: { verbose: { type: "boolean" } },
        additionalProperties: false,
      },
    },
  };
  await Deno.writeTextFile(path, JSON.stringify(m));
  return path;
}

type ToolInfo = {
  name: string;
  inputSchema: { type: "object"; properties?: Record<string, unknown>; required?: string[] };
  outputSchema?: { type: "object" };
};

async function listTools(c: Client): Promise<ToolInfo[]> {
  return (await c.listTools()).tools as ToolInfo[];
}

async function call(c: Client, name: string, args: Record<string, unknown>): Promise<ToolResult> {
  return await c.callTool({ name, arguments: args }) as ToolResult;
}

Deno.test({
  name: "mcp: the SDK client drives the real daemon over its unix socket and TCP",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const d = await startDaemonProcess({ tcp: true });
  const conn = connectMcp({ socket: d.socket });
  const client = new Client({ name: "volant-test", version: "1.0.0" });
  try {
    await client.connect(conn.transport);
    assert.equal(client.getServerVersion()?.name, "volantd");
    const caps = client.getServerCapabilities();
    assert.equal(caps?.tools?.listChanged, true);
    assert.equal(caps?.resources?.subscribe, true);

    // tools/list: names and schemas derived from the REST routes.
    const tools = await listTools(client);
    const names = tools.map((t) => t.name);
    for (
      const want of [
        "plugins_list",
        "plugins_show",
        "plugins_install",
        "plugins_enable",
        "plugins_disable",
        "plugins_remove",
        "vms_list",
        "vms_show",
        "vms_create",
        "vms_start",
        "vms_stop",
        "vms_restart",
        "vms_delete",
        "vms_logs",
        "vms_console_snapshot",
        "events_since",
        "system_info",
      ]
    ) assert.ok(names.includes(want), `tools/list lacks ${want}: ${names.join(", ")}`);
    const create = tools.find((t) => t.name === "vms_create")!;
    assert.deepEqual(create.inputSchema.required, ["name", "plugin"]);
    const props = create.inputSchema.properties as Record<string, Record<string, unknown>>;
    assert.equal(props.name.pattern, "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$");
    assert.deepEqual(props.machine.enum, ["microvm", "q35"]);
    assert.equal(props.start.default, true);
    assert.equal(create.outputSchema?.type, "object");
    const logs = tools.find((t) => t.name === "vms_logs")!;
    assert.deepEqual(Object.keys(logs.inputSchema.properties ?? {}).sort(), ["name", "tail"]);

    // Installing a plugin announces a new tool list with its action as a tool.
    let listChanged = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      listChanged++;
    });
    const path = await pluginWithAction(d.dir, "caddy");
    const installed = await call(client, "plugins_install", { path });
    assert.ok(!installed.isError, installed.content[0]?.text);
    assert.equal(installed.structuredContent?.outcome, "installed");
    await eventually("notifications/tools/list_changed", () => listChanged > 0);
    const action = (await listTools(client)).find((t) => t.name === "action_caddy_status");
    assert.ok(action, "the plugin's action is a tool");
    const payload = (action.inputSchema.properties as Record<string, Record<string, unknown>>)
      .payload;
    assert.deepEqual(payload.properties, { verbose: { type: "boolean" } });

    // Disabling the plugin takes its action tools away; enabling brings them back.
    const before = listChanged;
    assert.ok(!(await call(client, "plugins_disable", { name: "caddy" })).isError);
    await eventually("list_changed after disable", () => listChanged > before);
    assert.ok(!(await listTools(client)).some((t) => t.name === "action_caddy_status"));
    assert.ok(!(await call(client, "plugins_enable", { name: "caddy" })).isError);
    await eventually("list_changed after enable", () => listChanged > before + 1);
    assert.ok((await listTools(client)).some((t) => t.name === "action_caddy_status"));
    const since = await call(client, "events_since", { after: 0, type: "plugin.*" });
    const types = (since.structuredContent?.items as { type: string }[]).map((e) => e.type);
    assert.deepEqual(types.filter((t) => t !== "plugin.download"), [
      "plugin.installed",
      "plugin.disabled",
      "plugin.enabled",
    ]);

    // Subscribing to a VM's resource hears of its changes.
    const updated: string[] = [];
    client.setNotificationHandler(
      ResourceUpdatedNotificationSchema,
      (n: { params: { uri: string } }) => {
        updated.push(n.params.uri);
      },
    );
    await client.subscribeResource({ uri: "volant://vms/web" });

    // create -> show -> delete.
    const made = await call(client, "vms_create", { name: "web", plugin: "caddy", start: false });
    assert.ok(!made.isError, made.content[0]?.text);
    assert.equal(made.structuredContent?.name, "web");
    assert.equal(made.structuredContent?.state, "created");
    await eventually(
      "resources/updated for volant://vms/web",
      () => updated.includes("volant://vms/web"),
    );
    const shown = await call(client, "vms_show", { name: "web" });
    assert.equal(shown.structuredContent?.plugin, "caddy");
    assert.match(shown.structuredContent?.ip as string, /^\d+\.\d+\.\d+\.\d+$/);
    const read = await client.readResource({ uri: "volant://vms/web" });
    assert.equal(JSON.parse((read.contents[0] as { text: string }).text).state, "created");
    const resources = await client.listResources();
    assert.ok(
      (resources.resources as { uri: string }[]).some((r) => r.uri === "volant://vms/web/logs"),
    );

    // The action on a VM that is not running: a tool error naming the field.
    const notRunning = await call(client, "action_caddy_status", { vm: "web", payload: {} });
    assert.equal(notRunning.isError, true);
    assert.match(notRunning.content[0].text, /^Conflict: .*not running/);
    const badPayload = await call(client, "action_caddy_status", {
      vm: "web",
      payload: { verbose: "yes" },
    });
    assert.equal(badPayload.isError, true);
    assert.match(badPayload.content[0].text, /^payload\.verbose: must be boolean$/m);
    const badVm = await call(client, "action_caddy_status", { vm: "Nope!" });
    assert.match(badVm.content[0].text, /^vm: /m);
    const extra = await call(client, "action_caddy_status", { vm: "web", plugin: "x" });
    assert.match(extra.content[0].text, /^plugin: unknown argument$/m);
    const noneHealthy = await call(client, "action_caddy_status", {});
    assert.match(noneHealthy.content[0].text, /no healthy running VM of plugin caddy/);

    const deleted = await call(client, "vms_delete", { name: "web" });
    assert.ok(!deleted.isError, deleted.content[0]?.text);
    const gone = await call(client, "vms_show", { name: "web" });
    assert.equal(gone.isError, true);
    assert.match(gone.content[0].text, /^Not found: /);

    // Invalid arguments come back as tool errors naming the field.
    const bad = await call(client, "vms_create", { name: "Bad_Name", plugin: "caddy" });
    assert.equal(bad.isError, true);
    assert.match(bad.content[0].text, /^Invalid input: /);
    assert.match(bad.content[0].text, /^name: /m);
    const problem = JSON.parse(bad.content[1].text);
    assert.equal(problem.title, "Invalid input");
    assert.deepEqual(problem.problems.map((p: { field: string }) => p.field), ["name"]);
    const badQuery = await call(client, "vms_list", { limit: 0 });
    assert.match(badQuery.content[0].text, /^limit: /m);
    const unknown = await call(client, "vms_show", { name: "web", colour: "red" });
    assert.match(unknown.content[0].text, /^colour: unknown argument$/m);

    // TCP: refused without the token, served with it.
    const init = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "x", version: "1" },
      },
    };
    const refused = await fetch(`http://${d.listen}/mcp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify(init),
    });
    assert.equal(refused.status, 401);
    assert.equal((await refused.json()).code, "unauthorized");
    const token = (await Deno.readTextFile(`${d.stateDir}/api-token`)).trim();
    const tcp = connectMcp({ api: `http://${d.listen}`, token });
    const tcpClient = new Client({ name: "volant-test-tcp", version: "1.0.0" });
    try {
      await tcpClient.connect(tcp.transport);
      const info = await call(tcpClient, "system_info", {});
      assert.equal(typeof info.structuredContent?.version, "string");
    } finally {
      await tcpClient.close();
      await tcp.close();
    }
  } finally {
    await client.close();
    await conn.close();
    await d.stop();
    await d.cleanup();
  }
});

Deno.test({
  name: "mcp: `volar mcp` on stdio forwards to the daemon (SDK stdio client)",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const d = await startDaemonProcess({ tcp: true });
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: ["run", "-A", MAIN, "volar", "mcp", "--socket", d.socket],
    env: { NO_COLOR: "1", PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
    stderr: "pipe",
  });
  const client = new Client({ name: "volant-stdio-test", version: "1.0.0" });
  try {
    await client.connect(transport);
    assert.equal(client.getServerVersion()?.name, "volantd");
    const tools = await listTools(client);
    assert.ok(tools.some((t) => t.name === "vms_create"));
    const path = await writePlugin(d.dir, "caddy");
    assert.ok(!(await call(client, "plugins_install", { path })).isError);
    const made = await call(client, "vms_create", { name: "web", plugin: "caddy", start: false });
    assert.equal(made.structuredContent?.state, "created");
    const shown = await call(client, "vms_show", { name: "web" });
    assert.equal(shown.structuredContent?.name, "web");
    assert.ok(!(await call(client, "vms_delete", { name: "web" })).isError);
    const bad = await call(client, "vms_create", { name: "web", plugin: "nope" });
    assert.equal(bad.isError, true);
    assert.match(bad.content[0].text, /^Not found: /);
    const badName = await call(client, "vms_create", { name: "Bad_Name", plugin: "caddy" });
    assert.equal(badName.isError, true);
    assert.match(badName.content[0].text, /^name: /m);
  } finally {
    await client.close();
  }
  // Over TCP with a wrong token, `volar mcp` cannot even initialize: the daemon answers 401.
  const wrong = new StdioClientTransport({
    command: Deno.execPath(),
    args: ["run", "-A", MAIN, "volar", "mcp", "--api", `http://${d.listen}`, "--token", "nope"],
    env: { NO_COLOR: "1", PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
    stderr: "pipe",
  });
  const refused = new Client({ name: "volant-stdio-test", version: "1.0.0" });
  try {
    await assert.rejects(refused.connect(wrong), /invalid bearer token|401|Unauthorized/i);
  } finally {
    await refused.close();
    await d.stop();
    await d.cleanup();
  }
});
