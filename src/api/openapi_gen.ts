/**
 * Writes docs/openapi.json from the routes (`deno task openapi`); with
 * `--check` it only compares and exits 1 on a difference.
 *
 * @module
 */
import { createApp } from "./app.ts";
import type { ApiDeps } from "./deps.ts";
import { generateDocument, serializeDocument } from "./openapi.ts";

/** Where the checked-in document lives. */
export const OPENAPI_PATH = new URL("../../docs/openapi.json", import.meta.url);

/**
 * The document as the daemon serves it. Building the app needs services, but
 * generating the document never calls a handler, so none are given.
 */
export function buildDocument(): Record<string, unknown> {
  const services = {} as ApiDeps["services"];
  return generateDocument(createApp({ services, auth: {} }));
}

if (import.meta.main) {
  const text = serializeDocument(buildDocument());
  if (Deno.args.includes("--check")) {
    const current = await Deno.readTextFile(OPENAPI_PATH);
    if (current !== text) {
      console.error("docs/openapi.json is out of date: run `deno task openapi`");
      Deno.exit(1);
    }
    console.log("docs/openapi.json is up to date");
  } else {
    await Deno.writeTextFile(OPENAPI_PATH, text);
    console.log(`wrote ${OPENAPI_PATH.pathname}`);
  }
}
