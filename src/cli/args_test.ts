import assert from "node:assert/strict";
import { isVolantError } from "../errors.ts";
import {
  choiceFlag,
  findCommandWords,
  intFlag,
  listFlag,
  outputFormat,
  parseCommandArgs,
  parseStrict,
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

Deno.test("the own parser agrees with node:util parseArgs (strict, positionals allowed)", async () => {
  const { parseArgs } = await import("node:util");
  const options = {
    cpu: { type: "string" as const, help: "" },
    state: { type: "string" as const, multiple: true, help: "" },
    query: { type: "string" as const, short: "q", help: "" },
    force: { type: "boolean" as const, short: "f", help: "" },
    "no-start": { type: "boolean" as const, help: "" },
    output: { type: "string" as const, short: "o", help: "" },
    help: { type: "boolean" as const, short: "h", help: "" },
  };
  const config = Object.fromEntries(
    Object.entries(options).map(([k, v]) => [k, { ...v, help: undefined }]),
  );
  const cases = [
    [],
    ["web"],
    ["web", "--cpu", "2"],
    ["--cpu=2", "web"],
    ["--cpu="],
    ["--cpu", "2", "--cpu", "3"],
    ["--state", "running", "--state=crashed,stopped"],
    ["-q", "x", "-qy", "-o", "json", "-ojson"],
    ["-fh", "-fq", "val", "-fqval", "-hf"],
    ["--no-start", "-", "a", "--", "--cpu", "-x"],
    ["--help", "b", "c"],
    ["--nope"],
    ["--nope=1"],
    ["-x"],
    ["-fx"],
    ["-5"],
    ["--cpu"],
    ["-q"],
    ["-fq"],
    ["--help=yes"],
    ["--cpu", "-1"],
    ["--cpu", "--force"],
    ["-o", "-"],
    ["--constructor"],
    ["--toString", "1"],
  ];
  for (const args of cases) {
    let expected: unknown;
    try {
      const r = parseArgs({ args, options: config, strict: true, allowPositionals: true });
      expected = { values: { ...r.values }, positionals: r.positionals };
    } catch (error) {
      expected = `error ${(error as { code?: string }).code}`;
    }
    let actual: unknown;
    try {
      const r = parseStrict(args, options);
      assert.equal(Object.getPrototypeOf(r.values), null);
      actual = { values: { ...r.values }, positionals: r.positionals };
    } catch (error) {
      assert.ok(error instanceof Error, String(error));
      actual = /^unknown option/.test(error.message)
        ? "error ERR_PARSE_ARGS_UNKNOWN_OPTION"
        : "error ERR_PARSE_ARGS_INVALID_OPTION_VALUE";
    }
    assert.deepEqual(actual, expected, `args ${JSON.stringify(args)}`);
  }
});

Deno.test("usage lines name the flag as typed", () => {
  const opts = { cpu: { type: "string" as const, help: "" } };
  const message = (args: string[]) => {
    try {
      parseCommandArgs(args, opts, "vms create");
    } catch (error) {
      return (error as Error).message;
    }
    return "no error";
  };
  assert.equal(message(["-o"]), "-o needs a value (see volar vms create --help)");
  assert.equal(message(["-x"]), "unknown option -x (see volar vms create --help)");
  assert.equal(message(["--help=1"]), "--help does not take a value (see volar vms create --help)");
  assert.equal(
    message(["--cpu", "-1"]),
    "--cpu needs a value (write --cpu=-1 for one that starts with '-') (see volar vms create --help)",
  );
});
