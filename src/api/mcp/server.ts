/**
 * One MCP server per session (the SDK's low-level `Server`): tools/list
 * answers the REST-backed tools plus one tool per plugin action (the list
 * changes with the plugins, announced by notify.ts), tools/call runs them
 * through the API app, and resources/* serve events, VMs and their logs.
 *
 * @module
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  type CallToolRequest,
  CallToolRequestSchema,
  ErrorCode,
  type ListResourcesRequest,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  type ReadResourceRequest,
  ReadResourceRequestSchema,
  type SubscribeRequest,
  SubscribeRequestSchema,
  type UnsubscribeRequest,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import type { EventBusApi, PluginServiceApi } from "../../service/contracts.ts";
import type { Transport } from "../types.ts";
import type { LogSink } from "../../log/mod.ts";
import { actionTools } from "./action_tools.ts";
import { type AppFetch, type Caller, callRestTool } from "./dispatch.ts";
import { followEvents } from "./notify.ts";
import {
  isKnownUri,
  listResources,
  readResource,
  RESOURCE_TEMPLATES,
  ResourceError,
} from "./resources.ts";
import { problemResult } from "./tool_result.ts";
import type { RestTool } from "./tool_schema.ts";

type Extra = RequestHandlerExtra<never, never>;

/** What every session needs. */
export interface McpDeps {
  /** The API app's fetch: tool calls and resource reads go through it. */
  fetch: AppFetch;
  /** The REST-backed tools (built once from the app's routes). */
  tools: readonly RestTool[];
  plugins: PluginServiceApi;
  events: EventBusApi;
  version: string;
  logger: LogSink;
}

const INSTRUCTIONS = "Volant runs plugin workloads in microVMs. Install a plugin " +
  "(plugins_install), create VMs from it (vms_create), inspect them (vms_show, vms_logs, " +
  "vms_console_snapshot) and run the plugin's actions (tools named action_<plugin>_<action>). " +
  "Errors name the argument that was wrong.";

/** A session's server plus what it owns. */
export interface McpSession {
  server: Server;
  close(): Promise<void>;
}

function headerOf(headers: unknown, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const v = (headers as Record<string, string | string[] | undefined> | undefined)?.[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Builds the server of one session; `transport` is the listener that opened it. */
export function createMcpSession(deps: McpDeps, transport: Transport): McpSession {
  const server = new Server(
    { name: "volantd", title: "Volant", version: deps.version },
    {
      capabilities: {
        tools: { listChanged: true },
        resources: { subscribe: true, listChanged: true },
      },
      instructions: INSTRUCTIONS,
    },
  );
  const byName = new Map(deps.tools.map((t) => [t.spec.name, t]));
  const vmAction = byName.get("vms_action");
  const pluginAction = byName.get("plugins_action");
  if (!vmAction || !pluginAction) throw new Error("MCP: the generic action tools are missing");
  const subscribed = new Set<string>();
  const stop = new AbortController();

  const callerOf = (
    extra: { requestInfo?: { headers?: unknown }; signal?: AbortSignal },
  ): Caller => ({
    transport,
    authorization: headerOf(extra.requestInfo?.headers, "authorization"),
    signal: extra.signal,
  });

  server.setRequestHandler(ListToolsRequestSchema, () => {
    const rest = deps.tools.map((t) => ({
      name: t.spec.name,
      title: t.spec.title,
      description: t.spec.description,
      inputSchema: t.inputSchema,
      ...(t.outputSchema ? { outputSchema: t.outputSchema } : {}),
      ...(t.spec.annotations ? { annotations: t.spec.annotations } : {}),
    }));
    const actions = actionTools(deps.plugins.list()).map((a) => ({
      name: a.name,
      title: `${a.plugin}: ${a.action}`,
      description: a.description,
      inputSchema: a.inputSchema,
      outputSchema: vmAction.outputSchema,
      annotations: { readOnlyHint: false, openWorldHint: true },
    }));
    return { tools: [...rest, ...actions] };
  });

  server.setRequestHandler(CallToolRequestSchema, async (req: CallToolRequest, extra: Extra) => {
    const args = (req.params.arguments ?? {}) as Record<string, unknown>;
    const caller = callerOf(extra);
    const rest = byName.get(req.params.name);
    if (rest) return await callRestTool(rest, args, deps.fetch, caller);
    const action = actionTools(deps.plugins.list()).find((a) => a.name === req.params.name);
    if (!action) {
      throw new McpError(ErrorCode.InvalidParams, `unknown tool ${req.params.name}`);
    }
    const { vm, payload, ...extraArgs } = args;
    const unknown = Object.keys(extraArgs);
    if (unknown.length > 0) {
      return problemResult(
        "Invalid input",
        `unknown argument${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}`,
        unknown.map((field) => ({ field, message: "unknown argument" })),
      );
    }
    const body = { action: action.action, payload: payload ?? {} };
    return vm !== undefined
      ? await callRestTool(
        vmAction,
        { ...body, name: vm, plugin: action.plugin },
        deps.fetch,
        caller,
        { name: "vm" },
      )
      : await callRestTool(pluginAction, { ...body, name: action.plugin }, deps.fetch, caller);
  });

  server.setRequestHandler(
    ListResourcesRequestSchema,
    async (_req: ListResourcesRequest, extra: Extra) => ({
      resources: await listResources(deps.fetch, callerOf(extra)),
    }),
  );
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: RESOURCE_TEMPLATES,
  }));
  server.setRequestHandler(
    ReadResourceRequestSchema,
    async (req: ReadResourceRequest, extra: Extra) => {
      try {
        return {
          contents: await readResource(req.params.uri, deps.fetch, callerOf(extra), deps.events),
        };
      } catch (error) {
        if (error instanceof ResourceError) {
          throw new McpError(error.code, error.message, { uri: req.params.uri });
        }
        throw error;
      }
    },
  );
  server.setRequestHandler(SubscribeRequestSchema, (req: SubscribeRequest) => {
    if (!isKnownUri(req.params.uri)) {
      throw new McpError(-32002, `unknown resource ${req.params.uri}`, { uri: req.params.uri });
    }
    subscribed.add(req.params.uri);
    return {};
  });
  server.setRequestHandler(UnsubscribeRequestSchema, (req: UnsubscribeRequest) => {
    subscribed.delete(req.params.uri);
    return {};
  });

  followEvents(deps.events, subscribed, server, stop.signal, deps.logger).catch((error) => {
    if (!stop.signal.aborted) {
      deps.logger.warn("mcp event follower ended", {
        error: error instanceof Error ? error.message : String(error),
      });
    }
  });

  return {
    server,
    async close() {
      stop.abort();
      await server.close();
    },
  };
}
