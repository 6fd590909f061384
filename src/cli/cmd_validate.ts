/**
 * `volar plugins validate <file|url>`: checks a manifest locally with
 * src/manifest, no daemon needed. Valid: exit 0. Invalid: one line per
 * problem `volar: <field>: <message>` and exit 2 (invalid_input).
 *
 * @module
 */
import { isVolantError, VolantError } from "../errors.ts";
import type { Command } from "./command.ts";
import { json } from "./format.ts";
import { classifySource, parseJsonText, readSource, sourceLabel } from "./manifest_source.ts";

export const pluginsValidate: Command = {
  path: ["plugins", "validate"],
  summary: "check a manifest file or URL against the schema (no daemon needed)",
  args: "FILE|URL",
  description: "Validates and normalises the manifest exactly as volantd will on install,\n" +
    "including the kernel command-line budget of the encoded manifest. Prints one line\n" +
    "per problem naming the field and exits 2, or exits 0 when it is valid.",
  example: "volar plugins validate ./dist/caddy.manifest.json",
  options: {},
  arity: [1, 1],
  async run(ctx) {
    // The manifest schemas (zod) load only when this command runs (fast CLI start).
    const { checkCmdlineBudget, encodeManifest, validateManifest } = await import(
      "../manifest/mod.ts"
    );
    const src = classifySource(ctx.positionals[0], ctx.io.cwd());
    const label = sourceLabel(src);
    const data = parseJsonText(await readSource(src, ctx.signal), label);
    const result = validateManifest(data);
    if (!result.ok) {
      throw new VolantError(
        "invalid_input",
        `${label}: invalid manifest (${result.problems.length} problems)`,
        { problems: result.problems },
      );
    }
    const m = result.manifest;
    try {
      // A lower bound: the encoded manifest alone must fit; volantd adds network and base args.
      checkCmdlineBudget(`volant.manifest=${await encodeManifest(m)}`, m);
    } catch (error) {
      if (!isVolantError(error)) throw error;
      throw new VolantError("invalid_input", error.message, {
        problems: [{ field: "(manifest)", message: error.message }],
      });
    }
    if (ctx.output === "json") ctx.io.out(json({ valid: true, manifest: m }));
    else ctx.io.out(`${label}: valid manifest ${m.name} ${m.version} (runtime ${m.runtime})`);
    return 0;
  },
};
