/**
 * volantd's HTTP API (Hono). The daemon builds it with {@linkcode createApp}
 * and serves it on the unix socket (trusted) and, with --listen, on TCP
 * (bearer token).
 *
 * @example
 * ```ts
 * import { createApp } from "./mod.ts";
 * const app = createApp({ services, auth: { token } });
 * Deno.serve({ path: "/run/volant/volantd.sock" }, (req) => app.fetch(req, { transport: "unix" }));
 * ```
 *
 * @module
 */
export { createApp } from "./app.ts";
export type { ApiDeps, SerialLogReader } from "./deps.ts";
export { fileLogReader } from "./log_reader.ts";
export { checkAuth, timingSafeEqual } from "./middleware/auth.ts";
export { generateDocument, serializeDocument, toOpenApiPath } from "./openapi.ts";
export { PROBLEM_CONTENT_TYPE } from "./problem.ts";
export type { ApiEnv, Transport } from "./types.ts";
