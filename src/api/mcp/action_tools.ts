/**
 * Each action of each enabled plugin as an MCP tool of its own, named
 * `action_<plugin>_<action>` (plugin names are DNS labels, so the first `_`
 * after the prefix splits them). Its input is `{ vm?, payload }` where
 * `payload` carries the action's own `payload_schema`; with `vm` it runs on
 * that VM, without it on a healthy running VM of the plugin. Calls go
 * through the generic REST action tools, so validation and errors are REST's.
 *
 * @module
 */
import type { PluginRecord } from "../../manifest/api.ts";
import type { JsonSchema } from "./tool_schema.ts";

/** MCP clients accept `[A-Za-z0-9_-]{1,64}` everywhere. */
const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** One plugin action offered as a tool. */
export interface ActionTool {
  name: string;
  plugin: string;
  action: string;
  description: string;
  inputSchema: JsonSchema & { type: "object" };
}

/** The tool name of `plugin`'s `action` (`.` becomes `-`), or undefined when too long. */
export function actionToolName(plugin: string, action: string): string | undefined {
  const name = `action_${plugin}_${action.replace(/\./g, "-")}`;
  return TOOL_NAME.test(name) ? name : undefined;
}

/** The tools of every enabled plugin's actions, sorted by name; clashing names keep the first. */
export function actionTools(plugins: readonly PluginRecord[]): ActionTool[] {
  const out = new Map<string, ActionTool>();
  for (const p of [...plugins].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!p.enabled) continue;
    const actions = p.manifest.actions ?? {};
    for (const action of Object.keys(actions).sort()) {
      const a = actions[action];
      const name = actionToolName(p.name, action);
      if (name === undefined || out.has(name)) continue;
      const payload: JsonSchema = a.payload_schema
        ? { ...a.payload_schema }
        : { type: "object", description: "JSON payload sent to the workload" };
      delete payload.$schema;
      out.set(name, {
        name,
        plugin: p.name,
        action,
        description: `${a.description ?? `Action ${action} of plugin ${p.name}`} ` +
          `(${a.method.toUpperCase()} ${a.path} on the workload; plugin ${p.name} ${p.version}). ` +
          "Runs on `vm` when given, else on a healthy running VM of the plugin.",
        inputSchema: {
          type: "object",
          properties: {
            vm: {
              type: "string",
              pattern: "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
              description: `a VM of plugin ${p.name}; default: a healthy running one`,
            },
            payload,
          },
          additionalProperties: false,
        },
      });
    }
  }
  return [...out.values()];
}
