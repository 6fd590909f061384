/**
 * A deployment's replicas are not loose VMs: start/stop/restart/delete and
 * config changes on one answer 409 naming the deployment (change the
 * deployment instead). Reads, logs, the console and the agent proxy stay
 * open.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { VolantError } from "../../errors.ts";
import type { ApiEnv } from "../types.ts";

export interface ReplicaGuardOptions {
  /** The deployment owning VM `name`, if any. */
  ownerOf(name: string): string | undefined;
}

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** /api/v1/vms/<name>[/start|stop|restart|config] (not /agent/..., /logs). */
const VM_PATH = /^\/api\/v1\/vms\/([^/]+)(\/(start|stop|restart|config))?\/?$/;

/** Creates the guard; mount it before the VM routes. */
export function replicaGuard(options: ReplicaGuardOptions): MiddlewareHandler<ApiEnv> {
  return async function replicaGuardMiddleware(c, next) {
    if (MUTATING.has(c.req.method)) {
      const m = VM_PATH.exec(new URL(c.req.url).pathname);
      const owner = m ? options.ownerOf(decodeURIComponent(m[1])) : undefined;
      if (m && owner) {
        throw new VolantError(
          "conflict",
          `vm ${
            decodeURIComponent(m[1])
          } is a replica of deployment ${owner}: change the deployment instead (volar deployments scale|update|delete ${owner})`,
          { details: { deployment: owner } },
        );
      }
    }
    await next();
  };
}
