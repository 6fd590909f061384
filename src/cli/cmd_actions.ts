/**
 * `volar vms action VM PLUGIN ACTION --payload FILE|JSON`,
 * `volar plugins action PLUGIN ACTION --payload ...` and
 * `volar vms openapi VM`: plugin actions and the workload's OpenAPI document.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { ActionPayload, ActionResult } from "../manifest/api.ts";
import { stringFlag } from "./args.ts";
import type { Command, CommandContext, OptionSpec } from "./command.ts";
import { json } from "./format.ts";
import { absolutePath } from "./paths.ts";

const PAYLOAD: Record<string, OptionSpec> = {
  payload: {
    type: "string",
    value: "FILE|JSON",
    help: "JSON object sent to the action: inline ({...}), a file, or - for stdin (default {})",
  },
};

function bad(message: string): VolantError {
  return new VolantError("invalid_input", `--payload: ${message}`, {
    problems: [{ field: "--payload", message }],
  });
}

/** The payload of `--payload`: inline JSON, `-` (stdin) or a file; must be a JSON object. */
export async function readPayload(ctx: CommandContext): Promise<ActionPayload> {
  const arg = stringFlag(ctx.values, "payload");
  if (arg === undefined) return {};
  let text: string;
  let where: string;
  if (/^\s*[{[]/.test(arg)) {
    text = arg;
    where = "inline JSON";
  } else if (arg === "-") {
    text = await new Response(ctx.io.stdin).text();
    where = "stdin";
  } else {
    const file = absolutePath(ctx.io.cwd(), arg);
    where = file;
    try {
      text = await Deno.readTextFile(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw bad(`${file}: no such file`);
      if (error instanceof Deno.errors.PermissionDenied) {
        throw bad(`${file}: permission denied`);
      }
      throw error;
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw bad(`${where} is not valid JSON (${error.message})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw bad(`${where} must be a JSON object`);
  }
  return value as ActionPayload;
}

function print(ctx: CommandContext, r: ActionResult): number {
  if (ctx.output === "json") ctx.io.out(json(r));
  else ctx.io.out(typeof r.body === "string" ? r.body.replace(/\n$/, "") : json(r.body));
  return 0;
}

export const vmsAction: Command = {
  path: ["vms", "action"],
  summary: "run a plugin action on a VM (through kestrel to the workload)",
  args: "VM PLUGIN ACTION",
  description: "PLUGIN must be the VM's plugin. The payload is checked against the action's\n" +
    "payload_schema. Prints the workload's answer (-o json: the whole result).",
  example: "volar vms action web static-http status --payload '{\"verbose\":true}'",
  options: PAYLOAD,
  arity: [3, 3],
  async run(ctx) {
    const [vm, plugin, action] = ctx.positionals;
    const payload = await readPayload(ctx);
    return print(ctx, await ctx.client().vmAction(vm, action, payload, { plugin }));
  },
};

export const pluginsAction: Command = {
  path: ["plugins", "action"],
  summary: "run a plugin action on a healthy running VM of the plugin",
  args: "PLUGIN ACTION",
  example: "volar plugins action static-http status --payload ./payload.json",
  options: PAYLOAD,
  arity: [2, 2],
  async run(ctx) {
    const [plugin, action] = ctx.positionals;
    const payload = await readPayload(ctx);
    return print(ctx, await ctx.client().pluginAction(plugin, action, payload));
  },
};

export const vmsOpenapi: Command = {
  path: ["vms", "openapi"],
  summary: "print the workload's OpenAPI document (the manifest's openapi path)",
  args: "VM",
  example: "volar vms openapi web",
  options: {},
  arity: [1, 1],
  async run(ctx) {
    const doc = await ctx.client().vmOpenapi(ctx.positionals[0]);
    ctx.io.out(doc.text.replace(/\n$/, ""));
    return 0;
  },
};
