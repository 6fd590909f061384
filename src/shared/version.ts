/**
 * The version of the toolchain, the one string every persona and the agent
 * report (deno.json's `version` is checked against it by version_test.ts).
 *
 * @module
 */
export const VERSION = "0.1.0";
