/**
 * GET /api/v1/events: server-sent events with `id:`/`event:` lines, resume
 * from Last-Event-ID (header, or ?last_event_id= / ?after=), a heartbeat
 * comment every 15 s, and filters ?type=a,b (or family.*) and ?resource=.
 * With ?follow=false it answers one JSON page instead.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { VolantError } from "../../errors.ts";
import { VmEventData } from "../../manifest/vm_events.ts";
import type { EventBusApi, EventFilter } from "../../service/contracts.ts";
import { newRouter, registerEventData } from "../router.ts";
import { EventList, EventStreamQuery, problems } from "../schemas.ts";
import { sseComment, sseEvent, sseRetry } from "../sse.ts";
import type { LogSink } from "../../log/mod.ts";

const stream = createRoute({
  method: "get",
  path: "/",
  tags: ["events"],
  summary: "Event stream (SSE) or, with follow=false, one JSON page",
  request: {
    query: EventStreamQuery,
    headers: z.object({
      "last-event-id": z.string().regex(/^\d+$/, "must be a non-negative integer").optional(),
    }),
  },
  responses: {
    200: {
      description:
        "`text/event-stream` frames `id: <n>` / `event: <type>` / `data: <Event JSON>`; " +
        "or an EventList when follow=false. An event's `data` has the shape of its type's " +
        "`<Type>EventData` component (e.g. `vm.stopped` -> `VmStoppedEventData`).",
      content: {
        "text/event-stream": { schema: z.string() },
        "application/json": { schema: EventList },
      },
    },
    ...problems(400),
  },
});

export interface EventRouteOptions {
  heartbeatMs: number;
  logger: LogSink;
  /** Ends every stream when the daemon shuts down. */
  shutdown: AbortSignal;
}

/** The events router. */
export function eventRoutes(events: EventBusApi, options: EventRouteOptions) {
  const app = newRouter();
  // Data shapes of the vm.* events, for SSE clients (deployment.* ones: the deployments router).
  registerEventData(app, VmEventData);
  app.openapi(stream, (c) => {
    const q = c.req.valid("query");
    const header = c.req.valid("header")["last-event-id"];
    const filter: EventFilter = {
      types: q.type?.split(","),
      resource: q.resource,
    };
    const resume = header !== undefined ? Number(header) : (q.last_event_id ?? q.after);
    if (resume !== undefined && !Number.isSafeInteger(resume)) {
      throw new VolantError("invalid_input", "invalid Last-Event-ID", {
        problems: [{ field: "header.last-event-id", message: "must be a safe integer" }],
      });
    }
    if (q.follow === "false" || q.follow === "0") {
      return c.json({ items: events.list({ filter, after: resume ?? 0, limit: q.limit }) }, 200);
    }
    // Without a resume point a stream starts at "now": history is the JSON page's job.
    const after = resume ?? events.lastId();
    const abort = new AbortController();
    const onClientGone = () => abort.abort();
    c.req.raw.signal.addEventListener("abort", onClientGone, { once: true });
    options.shutdown.addEventListener("abort", onClientGone, { once: true });
    const sub = events.subscribe({ filter, after, signal: abort.signal });
    const encoder = new TextEncoder();
    let heartbeat: ReturnType<typeof setInterval> | undefined;
    let closed = false;
    const finish = () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      c.req.raw.signal.removeEventListener("abort", onClientGone);
      options.shutdown.removeEventListener("abort", onClientGone);
      abort.abort();
      sub.close();
    };
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        const send = (text: string) => {
          if (!closed) controller.enqueue(encoder.encode(text));
        };
        send(sseRetry(3000) + sseComment(`volantd events after id ${after}`));
        heartbeat = setInterval(() => send(sseComment("heartbeat")), options.heartbeatMs);
        (async () => {
          try {
            for await (const e of sub) send(sseEvent(e));
            if (!closed) controller.close();
          } catch (error) {
            options.logger.warn("event stream ended with an error", {
              error: error instanceof Error ? error.message : String(error),
            });
            if (!closed) controller.error(error);
          } finally {
            finish();
          }
        })();
      },
      cancel() {
        finish();
      },
    });
    return new Response(body, {
      status: 200,
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
      },
    });
  });
  return app;
}
