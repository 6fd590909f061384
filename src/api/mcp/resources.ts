/**
 * MCP resources: the event stream (`volant://events`, the newest events),
 * each VM (`volant://vms/<name>`, its record) and its serial log
 * (`volant://vms/<name>/logs`, the last lines). Reads go through the REST
 * routes like tool calls do; which URIs a session subscribed to is kept
 * here, and notify.ts tells subscribers when an event touches them.
 *
 * @module
 */
import type { EventBusApi } from "../../service/contracts.ts";
import type { AppFetch, Caller } from "./dispatch.ts";

export const EVENTS_URI = "volant://events";
const VM_URI = /^volant:\/\/vms\/([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\/logs)?$/;
/** How many events `volant://events` shows. */
export const EVENTS_WINDOW = 100;
/** How many log lines a `.../logs` read returns. */
export const LOG_LINES = 200;

export const vmUri = (name: string) => `volant://vms/${name}`;
export const vmLogsUri = (name: string) => `volant://vms/${name}/logs`;

export interface ResourceEntry {
  uri: string;
  name: string;
  title?: string;
  description?: string;
  mimeType: string;
}

export const RESOURCE_TEMPLATES = [
  {
    uriTemplate: "volant://vms/{name}",
    name: "vm",
    title: "A VM",
    description: "The VM's record (state, health, IP); subscribers hear of every state change.",
    mimeType: "application/json",
  },
  {
    uriTemplate: "volant://vms/{name}/logs",
    name: "vm-logs",
    title: "A VM's serial log",
    description: `The last ${LOG_LINES} lines of the VM's serial log.`,
    mimeType: "text/plain",
  },
];

/** The error an unknown or unreadable resource gives (JSON-RPC -32002, "resource not found"). */
export class ResourceError extends Error {
  readonly code = -32002;
}

async function restGet(fetch: AppFetch, caller: Caller, path: string): Promise<Response> {
  const headers: Record<string, string> = { accept: "application/json, text/plain" };
  if (caller.authorization) headers.authorization = caller.authorization;
  const res = await fetch(new Request(new URL(path, "http://volantd"), { headers }), {
    transport: caller.transport,
  });
  if (!res.ok) {
    const body = await res.json().catch(() => ({})) as { detail?: string };
    throw new ResourceError(body.detail ?? `HTTP ${res.status}`);
  }
  return res;
}

/** resources/list: the event stream, then each VM and its log. */
export async function listResources(fetch: AppFetch, caller: Caller): Promise<ResourceEntry[]> {
  const res = await restGet(fetch, caller, "/api/v1/vms?limit=1000&sort=name");
  const { items } = await res.json() as { items: { name: string; plugin: string }[] };
  const out: ResourceEntry[] = [{
    uri: EVENTS_URI,
    name: "events",
    title: "Volant events",
    description: `The newest ${EVENTS_WINDOW} events; subscribers are told of each new one.`,
    mimeType: "application/json",
  }];
  for (const vm of items) {
    out.push({
      uri: vmUri(vm.name),
      name: `vm ${vm.name}`,
      description: `VM ${vm.name} (plugin ${vm.plugin})`,
      mimeType: "application/json",
    });
    out.push({
      uri: vmLogsUri(vm.name),
      name: `vm ${vm.name} logs`,
      description: `Serial log of VM ${vm.name}`,
      mimeType: "text/plain",
    });
  }
  return out;
}

/** resources/read. */
export async function readResource(
  uri: string,
  fetch: AppFetch,
  caller: Caller,
  events: EventBusApi,
): Promise<{ uri: string; mimeType: string; text: string }[]> {
  if (uri === EVENTS_URI) {
    const after = Math.max(0, events.lastId() - EVENTS_WINDOW);
    const res = await restGet(fetch, caller, `/api/v1/events?follow=false&after=${after}`);
    return [{ uri, mimeType: "application/json", text: await res.text() }];
  }
  const m = VM_URI.exec(uri);
  if (!m) throw new ResourceError(`unknown resource ${uri}`);
  const name = m[1];
  if (m[3]) {
    const res = await restGet(fetch, caller, `/api/v1/vms/${name}/logs?tail=${LOG_LINES}`);
    return [{ uri, mimeType: "text/plain", text: await res.text() }];
  }
  const res = await restGet(fetch, caller, `/api/v1/vms/${name}`);
  return [{ uri, mimeType: "application/json", text: await res.text() }];
}

/** True when `uri` is one this server can serve (subscriptions are checked against it). */
export function isKnownUri(uri: string): boolean {
  return uri === EVENTS_URI || VM_URI.test(uri);
}
