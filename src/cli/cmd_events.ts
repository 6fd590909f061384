/**
 * `volar events [--follow] [--type T] [--resource R] [--since ID]`: past
 * events (a page, oldest first), or with --follow the live stream, resumed
 * with Last-Event-ID across daemon restarts. `-o json` prints one event
 * object per line (NDJSON) in both modes, so it can be piped as it comes.
 *
 * @module
 */
import type { ClientEvent } from "../client/mod.ts";
import { intFlag, listFlag, stringFlag } from "./args.ts";
import type { Command } from "./command.ts";
import { table } from "./format.ts";

/** An event's data as compact `key=value` pairs. */
export function eventData(e: ClientEvent): string {
  return Object.entries(e.data)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
}

/** One human line per event (follow mode): id, time, type, resource, data. */
export function eventLine(e: ClientEvent): string {
  const data = eventData(e);
  return `${String(e.id).padStart(6)}  ${e.time}  ${e.type.padEnd(18)}  ${e.resource}${
    data ? `  ${data}` : ""
  }`;
}

export const events: Command = {
  path: ["events"],
  summary: "show past events, or follow them live",
  args: "",
  description: "Without --follow prints past events (oldest first; --since ID starts after an\n" +
    "id). With --follow it streams new events until Ctrl-C, reconnecting with\n" +
    "Last-Event-ID if volantd restarts, so nothing is lost or repeated.",
  example: "volar events --follow --type vm.*",
  options: {
    follow: { type: "boolean", short: "f", help: "stream new events until Ctrl-C" },
    type: {
      type: "string",
      short: "t",
      multiple: true,
      value: "T",
      help: "only these types or families (repeat or comma-separate; e.g. vm.*)",
    },
    resource: { type: "string", short: "r", value: "NAME", help: "only events of this resource" },
    since: { type: "string", value: "ID", help: "start after event ID" },
    limit: { type: "string", value: "N", help: "page size without --follow (default 1000)" },
  },
  arity: [0, 0],
  interruptible: true,
  async run(ctx) {
    const v = ctx.values;
    const types = listFlag(v, "type");
    const resource = stringFlag(v, "resource");
    const since = intFlag(v, "since", 0, Number.MAX_SAFE_INTEGER);
    const client = ctx.client();
    const print = (e: ClientEvent) =>
      ctx.io.out(ctx.output === "json" ? JSON.stringify(e) : eventLine(e));
    if (v.follow !== true) {
      const items = await client.listEvents({
        types,
        resource,
        after: since,
        limit: intFlag(v, "limit", 1, 10_000),
      });
      if (ctx.output === "json") items.forEach(print);
      else if (items.length === 0) ctx.io.out("No events.");
      else {
        ctx.io.out(table(
          ["ID", "TIME", "TYPE", "RESOURCE", "DATA"],
          items.map((e) => [e.id, e.time, e.type, e.resource, eventData(e)]),
        ));
      }
      return 0;
    }
    for await (
      const e of client.streamEvents({ types, resource, after: since, signal: ctx.signal })
    ) {
      print(e);
    }
    return 0;
  },
};
