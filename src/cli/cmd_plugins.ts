/**
 * `volar plugins list|show|enable|disable|remove` (install and validate
 * have their own files).
 *
 * @module
 */
import type { PluginRecord } from "../manifest/api.ts";
import type { Command } from "./command.ts";
import { bytes, json, keyValues, table } from "./format.ts";
import { signerLine } from "./signer.ts";

function pluginRows(items: PluginRecord[]) {
  return table(
    ["NAME", "VERSION", "RUNTIME", "ENABLED", "VERIFIED", "ARTIFACTS"],
    items.map((p) => [
      p.name,
      p.version,
      p.runtime,
      p.enabled,
      !p.allow_unverified,
      p.artifacts.length,
    ]),
  );
}

export const pluginsList: Command = {
  path: ["plugins", "list"],
  summary: "list installed plugins",
  args: "",
  example: "volar plugins list",
  options: {},
  arity: [0, 0],
  async run(ctx) {
    const items = await ctx.client().listPlugins();
    if (ctx.output === "json") ctx.io.out(json(items));
    else if (items.length === 0) ctx.io.out("No plugins installed.");
    else ctx.io.out(pluginRows(items));
    return 0;
  },
};

export const pluginsShow: Command = {
  path: ["plugins", "show"],
  summary: "show one plugin, its artifacts and its manifest",
  args: "NAME",
  example: "volar plugins show caddy -o json",
  options: {},
  arity: [1, 1],
  async run(ctx) {
    const p = await ctx.client().getPlugin(ctx.positionals[0]);
    if (ctx.output === "json") {
      ctx.io.out(json(p));
      return 0;
    }
    ctx.io.out(keyValues([
      ["Name", p.name],
      ["Version", p.version],
      ["Runtime", p.runtime],
      ["Enabled", p.enabled],
      ["Unverified", p.allow_unverified ? "yes (installed with --allow-unverified)" : "no"],
      ["Signed by", signerLine(p)],
      [
        "Boot contract",
        p.boot_contract ? `${p.boot_contract.contract} (${p.boot_contract.reason})` : "volant-ts",
      ],
      ["Source", p.source],
      ["Installed", p.installed_at],
      ["Updated", p.updated_at],
    ]));
    if (p.artifacts.length > 0) {
      ctx.io.out("");
      ctx.io.out(table(
        ["ARTIFACT", "KIND", "SIZE", "SHA256", "VERIFIED", "URL"],
        p.artifacts.map((a) => [
          a.name,
          a.kind,
          bytes(a.size),
          a.sha256.slice(0, 16),
          a.verified,
          a.url,
        ]),
      ));
    }
    ctx.io.out("");
    ctx.io.out("Manifest:");
    ctx.io.out(json(p.manifest));
    return 0;
  },
};

function enabler(enabled: boolean): Command {
  const verb = enabled ? "enable" : "disable";
  return {
    path: ["plugins", verb],
    summary: enabled
      ? "allow new VMs of a plugin"
      : "refuse new VMs of a plugin (running VMs keep running)",
    args: "NAME",
    example: `volar plugins ${verb} caddy`,
    options: {},
    arity: [1, 1],
    async run(ctx) {
      const p = await ctx.client().setPluginEnabled(ctx.positionals[0], enabled);
      if (ctx.output === "json") ctx.io.out(json(p));
      else ctx.io.out(`plugin ${p.name} ${enabled ? "enabled" : "disabled"}`);
      return 0;
    },
  };
}

export const pluginsEnable = enabler(true);
export const pluginsDisable = enabler(false);

export const pluginsRemove: Command = {
  path: ["plugins", "remove"],
  summary: "remove a plugin (refused while VMs use it, unless --force)",
  args: "NAME",
  example: "volar plugins remove caddy",
  options: {
    force: { type: "boolean", short: "f", help: "remove even while VMs use it" },
  },
  arity: [1, 1],
  async run(ctx) {
    const name = ctx.positionals[0];
    await ctx.client().removePlugin(name, { force: ctx.values.force === true });
    if (ctx.output === "json") ctx.io.out(json({ name, removed: true }));
    else ctx.io.out(`plugin ${name} removed`);
    return 0;
  },
};
