/**
 * `require_signatures`: a switch on volantd's command line, a boolean in the
 * config file, `true/false/1/0` in the environment; anything else names the key.
 */
import assert from "node:assert/strict";
import { VolantError } from "../errors.ts";
import { parseDaemonArgs } from "./flags.ts";
import { resolveConfig } from "../config/mod.ts";

const file = (text: string) => ({ path: "/etc/volant/volantd.toml", text });

Deno.test("require_signatures: off by default; flag, env and file turn it on", () => {
  assert.equal(resolveConfig().requireSignatures, false);
  const flags = parseDaemonArgs(["--require-signatures"]).flags;
  assert.deepEqual(flags, { require_signatures: "true" });
  const c = resolveConfig({ flags });
  assert.equal(c.requireSignatures, true);
  assert.equal(c.sources.require_signatures, "flag --require-signatures");
  assert.equal(resolveConfig({ env: { VOLANT_REQUIRE_SIGNATURES: "1" } }).requireSignatures, true);
  assert.equal(
    resolveConfig({ env: { VOLANT_REQUIRE_SIGNATURES: "false" } }).requireSignatures,
    false,
  );
  assert.equal(
    resolveConfig({ file: file("require_signatures = true\n") }).requireSignatures,
    true,
  );
  assert.equal(parseDaemonArgs([]).flags.require_signatures, undefined);
});

Deno.test("require_signatures: a bad value names the key and its source", () => {
  assert.throws(
    () => resolveConfig({ env: { VOLANT_REQUIRE_SIGNATURES: "yes" } }),
    (e) =>
      e instanceof VolantError && e.problems[0].field === "require_signatures" &&
      e.problems[0].message.includes("must be true or false") &&
      e.problems[0].message.includes("env VOLANT_REQUIRE_SIGNATURES"),
  );
  assert.throws(
    () => resolveConfig({ file: file('require_signatures = "on"\n') }),
    (e) => e instanceof VolantError && e.problems[0].field === "require_signatures",
  );
});
