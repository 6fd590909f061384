/**
 * The typed volantd client used by volar and tests.
 *
 * @example
 * ```ts
 * import { createClient } from "./mod.ts";
 * const client = createClient({ socket: "/run/volant/volantd.sock" });
 * try {
 *   const { items } = await client.listVms({ state: "running" });
 *   console.log(items.map((vm) => vm.name));
 * } finally {
 *   client.close();
 * }
 * ```
 *
 * @module
 */
export * from "./client.ts";
export * from "./check.ts";
export * from "./console.ts";
export * from "./events.ts";
export * from "./problem.ts";
export * from "./sse.ts";
export * from "./transport.ts";
