/**
 * `volar vms config get|set|history`. `set` takes a JSON patch file (a
 * `config get` output works: the envelope is unwrapped and an unchanged
 * `plugin` dropped) and/or KEY=VALUE shortcuts for the common fields.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import { MACHINES, RESTART_POLICIES } from "../manifest/values.ts";
import { intFlag, stringFlag } from "./args.ts";
import type { Command } from "./command.ts";
import { json, table } from "./format.ts";
import { classifySource, parseJsonText, readSource } from "./manifest_source.ts";

export const vmsConfigGet: Command = {
  path: ["vms", "config", "get"],
  summary: "print a VM's configuration (JSON)",
  args: "NAME",
  description: "Prints the config document; -o json prints the versioned envelope\n" +
    "{version, updated_at, config} as the API returns it.",
  example: "volar vms config get web > web.json",
  options: {},
  arity: [1, 1],
  async run(ctx) {
    const v = await ctx.client().getVmConfig(ctx.positionals[0]);
    ctx.io.out(json(ctx.output === "json" ? v : v.config));
    return 0;
  },
};

/** KEY=VALUE shortcuts of `config set`, as patch fragments. */
const SHORTCUTS: Record<string, (value: string) => Record<string, unknown>> = {
  cpu: (s) => ({ resources: { cpu_cores: intValue("cpu", s, 1, 64) } }),
  memory: (s) => ({ resources: { memory_mb: intValue("memory", s, 64, 262144) } }),
  kernel_cmdline: (s) => ({ kernel_cmdline: s }),
  runtime: (s) => ({ runtime: s }),
  machine: (s) => ({ machine: oneOf("machine", s, MACHINES) }),
  restart_policy: (s) => ({
    restart_policy: oneOf("restart_policy", s, RESTART_POLICIES),
  }),
};

function intValue(key: string, s: string, min: number, max: number): number {
  if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) {
    throw fieldError(key, `must be an integer from ${min} to ${max}, got '${s}'`);
  }
  return Number(s);
}

function oneOf(key: string, s: string, choices: readonly string[]): string {
  if (!choices.includes(s)) {
    throw fieldError(key, `must be one of ${choices.join(", ")}, got '${s}'`);
  }
  return s;
}

function fieldError(field: string, message: string): VolantError {
  return new VolantError("usage", `${field}: ${message}`, { problems: [{ field, message }] });
}

/** Merges KEY=VALUE assignments into a patch (resources merge per field). */
export function patchFromAssignments(assignments: string[]): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const a of assignments) {
    const eq = a.indexOf("=");
    const key = eq === -1 ? a : a.slice(0, eq);
    const make = SHORTCUTS[key];
    if (eq === -1 || !make) {
      throw fieldError(
        key,
        `expected KEY=VALUE with KEY one of ${Object.keys(SHORTCUTS).join(", ")} (or use --file)`,
      );
    }
    const fragment = make(a.slice(eq + 1));
    if (fragment.resources) {
      patch.resources = {
        ...(patch.resources as object ?? {}),
        ...(fragment.resources as object),
      };
    } else Object.assign(patch, fragment);
  }
  return patch;
}

/** A patch from a file's JSON: unwraps `{version, config}` envelopes. */
export function patchFromDocument(doc: unknown, where: string): Record<string, unknown> {
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) {
    throw new VolantError("invalid_input", `${where}: must be a JSON object`);
  }
  const o = doc as Record<string, unknown>;
  if (o.config && typeof o.config === "object" && "version" in o) {
    return { ...(o.config as Record<string, unknown>) };
  }
  return { ...o };
}

export const vmsConfigSet: Command = {
  path: ["vms", "config", "set"],
  summary: "change a VM's configuration (new version; applied at next start)",
  args: "NAME [KEY=VALUE...]",
  description: "KEY is one of cpu, memory, kernel_cmdline, runtime, machine, restart_policy.\n" +
    "--file takes a JSON patch (fields of the config; resources merge per field,\n" +
    "metadata: null clears); the output of `vms config get` is accepted as it is.\n" +
    "A running VM keeps its current settings until it is restarted.",
  example: "volar vms config set web cpu=2 memory=1024",
  options: {
    file: { type: "string", short: "f", value: "FILE", help: "JSON patch or config document" },
  },
  arity: [1, Number.MAX_SAFE_INTEGER],
  async run(ctx) {
    const [name, ...assignments] = ctx.positionals;
    const file = stringFlag(ctx.values, "file");
    let patch: Record<string, unknown> = {};
    if (file !== undefined) {
      const src = classifySource(file, ctx.io.cwd());
      const where = src.kind === "file" ? src.path : src.url;
      patch = patchFromDocument(parseJsonText(await readSource(src), where), where);
    }
    const shortcuts = patchFromAssignments(assignments);
    if (shortcuts.resources && patch.resources) {
      shortcuts.resources = { ...(patch.resources as object), ...(shortcuts.resources as object) };
    }
    Object.assign(patch, shortcuts);
    if (Object.keys(patch).length === 0) {
      throw new VolantError("usage", "nothing to set: give KEY=VALUE or --file (see --help)");
    }
    const client = ctx.client();
    if ("plugin" in patch) {
      // A whole config document names its plugin; it cannot change, so drop it when equal.
      const current = await client.getVmConfig(name);
      if (patch.plugin !== current.config.plugin) {
        throw fieldError("plugin", `cannot be changed (vm ${name} runs ${current.config.plugin})`);
      }
      delete patch.plugin;
    }
    const v = await client.patchVmConfig(name, patch);
    if (ctx.output === "json") ctx.io.out(json(v));
    else ctx.io.out(`vm ${name} config is now version ${v.version} (applied at next start)`);
    return 0;
  },
};

export const vmsConfigHistory: Command = {
  path: ["vms", "config", "history"],
  summary: "list a VM's config versions, newest first",
  args: "NAME",
  example: "volar vms config history web --limit 5",
  options: { limit: { type: "string", value: "N", help: "at most N versions" } },
  arity: [1, 1],
  async run(ctx) {
    const items = await ctx.client().vmConfigHistory(ctx.positionals[0], {
      limit: intFlag(ctx.values, "limit", 1, 10_000),
    });
    if (ctx.output === "json") {
      ctx.io.out(json(items));
      return 0;
    }
    ctx.io.out(table(
      ["VERSION", "UPDATED", "CPU", "MEM", "MACHINE", "RESTART", "KERNEL ARGS"],
      items.map((h) => [
        h.version,
        h.updated_at,
        h.config.resources.cpu_cores,
        `${h.config.resources.memory_mb}M`,
        h.config.machine,
        h.config.restart_policy,
        h.config.kernel_cmdline,
      ]),
    ));
    return 0;
  },
};
