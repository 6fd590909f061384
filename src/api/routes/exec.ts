/**
 * POST /api/v1/vms/{name}/exec: runs a process in a running VM through its
 * agent (src/manifest/exec.ts). The answer is an NDJSON stream: output frames
 * (`{"stream":"stdout"|"stderr","data":base64}`) as they come, then one exit
 * frame. Closing the connection kills the process session in the guest.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { ExecFrameSchema, ExecRequestSchema, NDJSON } from "../../manifest/exec.ts";
import type { GuestServiceApi } from "../../service/contracts.ts";
import { json, newRouter, rawResponse } from "../router.ts";
import { NameParam, problems } from "../schemas.ts";

const exec = createRoute({
  method: "post",
  path: "/{name}/exec",
  tags: ["vms"],
  summary: "Run a process in the VM; stream its stdout/stderr and exit code (NDJSON)",
  description: "One JSON line per frame: output frames carry base64 `data` for `stdout` or " +
    "`stderr`; the last frame has `exit_code`, `signal`, `timed_out`. Every process of its " +
    "session is killed when it exits, at `timeout_ms` or when the client disconnects. 400 names a bad field (also " +
    "`argv.0` when the program is not on PATH, `user`, `cwd`); 409 when the VM is not running.",
  request: { params: NameParam, body: { required: true, content: json(ExecRequestSchema) } },
  responses: {
    200: {
      description: "NDJSON frames, the exit frame last",
      content: { [NDJSON]: { schema: z.array(ExecFrameSchema) } },
    },
    ...problems(400, 404, 409, 502, 503),
  },
});

/** The exec router, mounted at /api/v1/vms. */
export function execRoutes(guest: GuestServiceApi) {
  const app = newRouter();
  app.openapi(exec, async (c) => {
    const { name } = c.req.valid("param");
    const body = c.req.valid("json");
    const stream = await guest.exec(name, body, c.req.raw.signal);
    return rawResponse(
      new Response(stream, {
        status: 200,
        headers: { "content-type": NDJSON, "cache-control": "no-cache" },
      }),
    );
  });
  return app;
}
