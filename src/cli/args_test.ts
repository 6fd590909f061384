import assert from "node:assert/strict";
import { isVolantError } from "../errors.ts";
import {
  choiceFlag,
  findCommandWords,
  intFlag,
  listFlag,
  outputFormat,
  parseCommandArgs,
} from "./args.ts";

const words = new Set(["vms", "vms config", "vms config set", "vms list", "events"]);
const isWord = (ws: string[], next: string) => words.has([...ws, next].join(" "));

Deno.test("command words are found around global options and their values", () => {
  assert.deepEqual(
    findCommandWords(["--socket", "/s", "vms", "-o", "json", "list", "-q", "x"], isWord),
    {
      words: ["vms", "list"],
      rest: ["--socket", "/s", "-o", "json", "-q", "x"],
    },
  );
  assert.deepEqual(findCommandWords(["vms", "config", "set", "web", "cpu=2"], isWord), {
    words: ["vms", "config", "set"],
    rest: ["web", "cpu=2"],
  });
  // A positional that happens to be a command word is not taken after the first non-word.
  assert.deepEqual(findCommandWords(["events", "vms"], isWord).words, ["events"]);
  assert.deepEqual(findCommandWords(["--", "vms"], isWord), { words: [], rest: ["--", "vms"] });
});

Deno.test("strict parsing: unknown options and missing values are one-line usage errors", () => {
  const opts = { cpu: { type: "string" as const, help: "" } };
  const ok = parseCommandArgs(["web", "--cpu", "2", "-o", "json"], opts, "vms create");
  assert.deepEqual(ok.positionals, ["web"]);
  assert.equal(ok.values.cpu, "2");
  assert.equal(ok.values.output, "json");
  assert.throws(
    () => parseCommandArgs(["--nope"], opts, "vms create"),
    (e) =>
      isVolantError(e, "usage") &&
      e.message === "unknown option --nope (see volar vms create --help)",
  );
  assert.throws(
    () => parseCommandArgs(["--cpu"], opts, "vms create"),
    (e) => isVolantError(e, "usage") && e.message.startsWith("--cpu needs a value"),
  );
});

Deno.test("typed flag helpers name the flag", () => {
  assert.equal(intFlag({ n: "5" }, "n", 1, 10), 5);
  assert.equal(intFlag({}, "n", 1, 10), undefined);
  assert.throws(
    () => intFlag({ n: "0" }, "n", 1, 10),
    (e) => isVolantError(e, "usage") && e.problems[0].field === "--n",
  );
  assert.throws(() => intFlag({ n: "1.5" }, "n", 1, 10), /--n must be an integer/);
  assert.equal(choiceFlag({ m: "q35" }, "m", ["microvm", "q35"]), "q35");
  assert.throws(() => choiceFlag({ m: "pc" }, "m", ["microvm", "q35"]), /--m must be one of/);
  assert.deepEqual(listFlag({ t: ["vm.*,plugin.installed", " x "] }, "t"), [
    "vm.*",
    "plugin.installed",
    "x",
  ]);
  assert.equal(outputFormat(undefined), "table");
  assert.equal(outputFormat("json"), "json");
  assert.throws(() => outputFormat("yaml"), /table or json/);
});
