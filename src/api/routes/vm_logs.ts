/**
 * GET /api/v1/vms/{name}/logs: the serial log, tail and optional follow
 * (streamed as text until the client disconnects).
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { VmServiceApi } from "../../service/contracts.ts";
import type { SerialLogReader } from "../deps.ts";
import { newRouter, rawResponse } from "../router.ts";
import { isTrue, LogQuery, NameParam, problems } from "../schemas.ts";

const logs = createRoute({
  method: "get",
  path: "/{name}/logs",
  tags: ["vms"],
  summary: "Serial log: last `tail` lines, then new output while follow=true",
  request: { params: NameParam, query: LogQuery },
  responses: {
    200: {
      description: "Serial output (raw bytes of the console, usually UTF-8 text)",
      content: { "text/plain": { schema: z.string() } },
    },
    ...problems(400, 404),
  },
});

/** The VM logs router. */
export function vmLogRoutes(vms: VmServiceApi, reader: SerialLogReader, shutdown: AbortSignal) {
  const app = newRouter();
  app.openapi(logs, async (c) => {
    const { name } = c.req.valid("param");
    const query = c.req.valid("query");
    const target = vms.console(name);
    const { data, end } = await reader.tail(target.serialLog, query.tail);
    const headers = {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
    };
    if (!isTrue(query.follow)) {
      return rawResponse(new Response(data as Uint8Array<ArrayBuffer>, { status: 200, headers }));
    }
    const abort = new AbortController();
    const stop = AbortSignal.any([abort.signal, c.req.raw.signal, shutdown]);
    const live = reader.follow(target.serialLog, end, stop);
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        if (data.length > 0) controller.enqueue(data);
        const it = live.getReader();
        try {
          while (true) {
            const { value, done } = await it.read();
            if (done) break;
            controller.enqueue(value);
          }
          controller.close();
        } catch (error) {
          controller.error(error);
        }
      },
      cancel() {
        abort.abort();
      },
    });
    return rawResponse(new Response(body, { status: 200, headers }));
  });
  return app;
}
