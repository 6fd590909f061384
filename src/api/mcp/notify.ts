/**
 * Per-session notifications from the event bus: plugin changes change the
 * tool list (each plugin's actions are tools), VM creation and deletion
 * change the resource list, and an event about a subscribed resource (the
 * event stream, a VM, its log) sends `notifications/resources/updated`.
 *
 * @module
 */
import type { VolantEvent } from "../../manifest/api.ts";
import type { EventBusApi } from "../../service/contracts.ts";
import type { LogSink } from "../../log/mod.ts";
import { EVENTS_URI, vmLogsUri, vmUri } from "./resources.ts";

/** What a session can be told. */
export interface Notifier {
  sendToolListChanged(): Promise<void>;
  sendResourceListChanged(): Promise<void>;
  sendResourceUpdated(params: { uri: string }): Promise<void>;
}

const TOOL_EVENTS = new Set([
  "plugin.installed",
  "plugin.updated",
  "plugin.enabled",
  "plugin.disabled",
  "plugin.removed",
]);
const LIST_EVENTS = new Set(["vm.created", "vm.deleted"]);

/** The notifications one event causes for a session subscribed to `subscribed`. */
export function notificationsFor(
  e: VolantEvent,
  subscribed: ReadonlySet<string>,
): ({ kind: "tools" } | { kind: "resources" } | { kind: "updated"; uri: string })[] {
  const out: ({ kind: "tools" } | { kind: "resources" } | { kind: "updated"; uri: string })[] = [];
  if (TOOL_EVENTS.has(e.type)) out.push({ kind: "tools" });
  if (LIST_EVENTS.has(e.type)) out.push({ kind: "resources" });
  if (subscribed.has(EVENTS_URI)) out.push({ kind: "updated", uri: EVENTS_URI });
  if (e.resource_type === "vm") {
    for (const uri of [vmUri(e.resource), vmLogsUri(e.resource)]) {
      if (subscribed.has(uri)) out.push({ kind: "updated", uri });
    }
  }
  return out;
}

/**
 * Follows the bus from now until `signal` aborts, sending what each event
 * causes. A send that fails (the client went away) is logged and skipped.
 */
export async function followEvents(
  events: EventBusApi,
  subscribed: ReadonlySet<string>,
  notifier: Notifier,
  signal: AbortSignal,
  logger: LogSink,
): Promise<void> {
  const sub = events.subscribe({ after: events.lastId(), signal });
  for await (const e of sub) {
    for (const n of notificationsFor(e, subscribed)) {
      try {
        if (n.kind === "tools") await notifier.sendToolListChanged();
        else if (n.kind === "resources") await notifier.sendResourceListChanged();
        else await notifier.sendResourceUpdated({ uri: n.uri });
      } catch (error) {
        logger.debug("mcp notification not delivered", {
          event: e.type,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
  }
}
