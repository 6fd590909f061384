/**
 * Volant's own spellings, so its Quick Start runs word for word: `volar vms get`
 * (ours: `vms show`) and `volar version` (ours: `--version`). Each alias is a
 * full command in the table, so `--help` lists both spellings.
 *
 * @module
 */
import { VERSION } from "../version.ts";
import { vmsShow } from "./cmd_vms.ts";
import type { Command } from "./command.ts";
import { json } from "./format.ts";

export const vmsGet: Command = {
  ...vmsShow,
  path: ["vms", "get"],
  summary: "show one VM (Volant's spelling of `vms show`)",
  example: "volar vms get web",
};

export const version: Command = {
  path: ["version"],
  summary: "print volar's version (same as --version)",
  args: "",
  example: "volar version",
  options: {},
  arity: [0, 0],
  run(ctx) {
    ctx.io.out(ctx.output === "json" ? json({ volar: VERSION }) : `volar ${VERSION}`);
    return Promise.resolve(0);
  },
};
