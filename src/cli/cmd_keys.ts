/**
 * `volar keys list|show|add|remove`: the minisign public keys volantd trusts
 * for plugin signatures.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { TrustedKey } from "../manifest/signing.ts";
import type { Command } from "./command.ts";
import { json, keyValues, table } from "./format.ts";
import { absolutePath } from "./paths.ts";

/** A minisign public key's base64 line: "Ed" + key id + key = 42 bytes = 56 characters. */
const INLINE_KEY = /^RW[A-Za-z0-9+/]{54}$/;

function scope(k: TrustedKey): string {
  return k.plugins.length === 0 ? "any plugin" : k.plugins.join(",");
}

export const keysList: Command = {
  path: ["keys", "list"],
  summary: "list trusted signing keys",
  args: "",
  example: "volar keys list",
  options: {},
  arity: [0, 0],
  async run(ctx) {
    const items = await ctx.client().listKeys();
    if (ctx.output === "json") ctx.io.out(json(items));
    else if (items.length === 0) ctx.io.out("No trusted keys.");
    else {
      ctx.io.out(table(
        ["NAME", "KEY ID", "PLUGINS", "ADDED"],
        items.map((k) => [k.name, k.key_id, scope(k), k.added_at]),
      ));
    }
    return 0;
  },
};

export const keysShow: Command = {
  path: ["keys", "show"],
  summary: "show one trusted key",
  args: "NAME",
  example: "volar keys show alice",
  options: {},
  arity: [1, 1],
  async run(ctx) {
    const k = await ctx.client().getKey(ctx.positionals[0]);
    if (ctx.output === "json") ctx.io.out(json(k));
    else {
      ctx.io.out(keyValues([
        ["Name", k.name],
        ["Key ID", k.key_id],
        ["Public key", k.public_key],
        ["Comment", k.comment],
        ["Plugins", scope(k)],
        ["Added", k.added_at],
      ]));
    }
    return 0;
  },
};

async function readKey(arg: string, cwd: string): Promise<string> {
  try {
    return await Deno.readTextFile(absolutePath(cwd, arg));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    if (INLINE_KEY.test(arg)) return arg;
    throw new VolantError(
      "not_found",
      `${arg}: no such file (give a minisign .pub file or the key's base64 line, RW...)`,
      { cause: error },
    );
  }
}

export const keysAdd: Command = {
  path: ["keys", "add"],
  summary: "trust a minisign public key for plugin signatures",
  args: "NAME FILE|KEY",
  description: "FILE is a minisign public key file (minisign.pub, fledge keygen's .pub);\n" +
    "KEY is its base64 line (RW...). With --plugin the key may sign only those\n" +
    "plugins (repeat the flag); without, any plugin. volantd keeps the key as\n" +
    "<state_dir>/trusted_keys/NAME.json.",
  example: "volar keys add alice ./alice.pub --plugin caddy",
  options: {
    plugin: {
      type: "string",
      multiple: true,
      value: "NAME",
      help: "restrict the key to this plugin name (repeatable)",
    },
  },
  arity: [2, 2],
  async run(ctx) {
    const [name, source] = ctx.positionals;
    const plugins = ctx.values.plugin as string[] | undefined;
    const key = await ctx.client().addKey({
      name,
      public_key: await readKey(source, ctx.io.cwd()),
      ...(plugins && plugins.length > 0 ? { plugins } : {}),
    });
    if (ctx.output === "json") ctx.io.out(json(key));
    else ctx.io.out(`key ${key.name} (${key.key_id}) trusted for ${scope(key)}`);
    return 0;
  },
};

export const keysRemove: Command = {
  path: ["keys", "remove"],
  summary: "stop trusting a key (installed plugins stay installed)",
  args: "NAME",
  example: "volar keys remove alice",
  options: {},
  arity: [1, 1],
  async run(ctx) {
    const name = ctx.positionals[0];
    await ctx.client().removeKey(name);
    if (ctx.output === "json") ctx.io.out(json({ name, removed: true }));
    else ctx.io.out(`key ${name} removed`);
    return 0;
  },
};
