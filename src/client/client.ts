/**
 * The typed volantd client: one method per API route, every response
 * checked against the shared schemas (src/manifest/api.ts; check.ts does it
 * without loading zod unless an answer is wrong). Methods
 * return the API's objects as sent (validated, not rewritten), so
 * `volar -o json` prints exactly what the daemon said.
 *
 * @module
 */
import { SnapshotClient } from "./snapshots.ts";
import type { z } from "zod";
import { VolantError } from "../errors.ts";
import type {
  ActionPayload,
  CreateVmBody,
  InstallPluginBody,
  VmConfigPatch,
} from "../manifest/api.ts";
import type { AddKeyBody } from "../manifest/signing.ts";
import { checkResponse, type ResponseName } from "./check.ts";
import { type ConsoleSession, openConsole } from "./console.ts";
import { execInVm } from "./exec.ts";
import { openPty, type PtySession } from "./pty.ts";
import type { PtyQueryInput } from "../manifest/pty_query.ts";
import { type GuestPath, readVmFiles, writeVmFiles } from "./files.ts";
import type { ExecFrame, ExecRequest } from "../manifest/exec.ts";
import { DeploymentClient } from "./deployments.ts";
import {
  type ClientEvent,
  type EventListQuery,
  listEvents,
  streamEvents,
  type StreamOptions,
} from "./events.ts";
import {
  type BufferedResponse,
  type ConnectionOptions,
  createTransport,
  type Transport,
} from "./transport.ts";

/** Query of {@linkcode VolantClient.listVms}; see VmListQuerySchema for the rules. */
export interface VmListParams {
  /** One state or a comma-separated list. */
  state?: string;
  plugin?: string;
  q?: string;
  limit?: number;
  offset?: number;
  sort?: string;
  order?: "asc" | "desc";
}

async function readJson(res: BufferedResponse, what: string): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new VolantError(
      "upstream",
      `volantd sent ${what} that is not JSON: ${text.slice(0, 80)}`,
    );
  }
}

const path = (...parts: string[]) => parts.map((p) => encodeURIComponent(p)).join("/");

/** A connected client. Call close() when done (it owns an HTTP client). */
export class VolantClient {
  readonly transport: Transport;

  constructor(transport: Transport) {
    this.transport = transport;
  }

  /** VM snapshots: create, list, get, remove, restore. */
  get snapshots(): SnapshotClient {
    return new SnapshotClient(this.transport);
  }

  /** Deployments: list, get, create, patch (scale/config), rollback, delete. */
  get deployments(): DeploymentClient {
    return new DeploymentClient(this.transport);
  }

  async #get<N extends ResponseName | z.ZodType>(
    p: string,
    schema: N,
    what: string,
    query?: Record<string, string | number | boolean | undefined>,
  ) {
    const res = await this.transport.request({ path: p, query, buffered: true });
    return checkResponse(schema, await readJson(res, what), what);
  }

  async #send<N extends ResponseName | z.ZodType>(
    method: string,
    p: string,
    body: unknown,
    schema: N,
    what: string,
    timeoutMs?: number,
  ) {
    const res = await this.transport.request({ method, path: p, body, timeoutMs, buffered: true });
    return checkResponse(schema, await readJson(res, what), what);
  }

  // ------------------------------------------------------------ system

  systemInfo() {
    return this.#get("/api/v1/system/info", "SystemInfo", "system info");
  }

  // ------------------------------------------------------------ plugins

  async listPlugins() {
    return (await this.#get("/api/v1/plugins", "PluginList", "plugin list")).items;
  }

  getPlugin(name: string) {
    return this.#get(`/api/v1/plugins/${path(name)}`, "PluginRecord", "plugin");
  }

  installPlugin(body: InstallPluginBody) {
    // Downloads can take long; progress comes from events.
    return this.#send(
      "POST",
      "/api/v1/plugins",
      body,
      "PluginInstallResult",
      "install result",
      0,
    );
  }

  setPluginEnabled(name: string, enabled: boolean) {
    return this.#send(
      "POST",
      `/api/v1/plugins/${path(name)}/enabled`,
      { enabled },
      "PluginRecord",
      "plugin",
    );
  }

  async removePlugin(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.transport.request({
      buffered: true,
      method: "DELETE",
      path: `/api/v1/plugins/${path(name)}`,
      query: { force: opts.force ? "true" : undefined },
    });
  }

  // ------------------------------------------------------------ trusted keys

  async listKeys() {
    return (await this.#get("/api/v1/keys", "TrustedKeyList", "key list")).items;
  }

  getKey(name: string) {
    return this.#get(`/api/v1/keys/${path(name)}`, "TrustedKey", "key");
  }

  addKey(body: AddKeyBody) {
    return this.#send("POST", "/api/v1/keys", body, "TrustedKey", "key");
  }

  async removeKey(name: string): Promise<void> {
    await this.transport.request({
      buffered: true,
      method: "DELETE",
      path: `/api/v1/keys/${path(name)}`,
    });
  }

  // ------------------------------------------------------------ VMs

  /** One page of VMs; `total` counts all matches (also the X-Total-Count header). */
  listVms(params: VmListParams = {}) {
    return this.#get("/api/v1/vms", "VmList", "vm list", { ...params });
  }

  getVm(name: string) {
    return this.#get(`/api/v1/vms/${path(name)}`, "VmRecord", "vm");
  }

  createVm(body: CreateVmBody) {
    // Creating boots the VM unless start is false: no client-side limit.
    return this.#send("POST", "/api/v1/vms", body, "VmRecord", "vm", 0);
  }

  startVm(name: string) {
    const p = `/api/v1/vms/${path(name)}/start`;
    return this.#send("POST", p, undefined, "VmRecord", "vm", 0);
  }

  async stopVm(name: string, opts: { graceMs?: number } = {}) {
    const res = await this.transport.request({
      buffered: true,
      method: "POST",
      path: `/api/v1/vms/${path(name)}/stop`,
      query: { grace_ms: opts.graceMs },
      timeoutMs: 0, // waits out the grace period
    });
    return checkResponse("VmRecord", await readJson(res, "vm"), "vm");
  }

  async restartVm(name: string, opts: { graceMs?: number } = {}) {
    const res = await this.transport.request({
      buffered: true,
      method: "POST",
      path: `/api/v1/vms/${path(name)}/restart`,
      query: { grace_ms: opts.graceMs },
      timeoutMs: 0, // waits out the grace period
    });
    return checkResponse("VmRecord", await readJson(res, "vm"), "vm");
  }

  async deleteVm(name: string, opts: { graceMs?: number } = {}): Promise<void> {
    await this.transport.request({
      buffered: true,
      method: "DELETE",
      path: `/api/v1/vms/${path(name)}`,
      query: { grace_ms: opts.graceMs },
      timeoutMs: 0, // waits out the grace period
    });
  }

  getVmConfig(name: string) {
    return this.#get(`/api/v1/vms/${path(name)}/config`, "VersionedVmConfig", "vm config");
  }

  patchVmConfig(name: string, patch: VmConfigPatch | Record<string, unknown>) {
    return this.#send(
      "PATCH",
      `/api/v1/vms/${path(name)}/config`,
      patch,
      "VersionedVmConfig",
      "vm config",
    );
  }

  async vmConfigHistory(name: string, opts: { limit?: number } = {}) {
    const p = `/api/v1/vms/${path(name)}/config/history`;
    return (await this.#get(p, "VmConfigHistory", "config history", { limit: opts.limit }))
      .items;
  }

  /** The serial log: the last `tail` lines, then live output while `follow`. */
  async vmLogs(
    name: string,
    opts: { tail?: number; follow?: boolean; signal?: AbortSignal } = {},
  ): Promise<ReadableStream<Uint8Array>> {
    const res = await this.transport.request({
      path: `/api/v1/vms/${path(name)}/logs`,
      query: { tail: opts.tail, follow: opts.follow ? "true" : undefined },
      headers: { accept: "text/plain" },
      signal: opts.signal,
    });
    if (!res.body) return new ReadableStream({ start: (c) => c.close() });
    return res.body;
  }

  /** Runs `action` of the VM's plugin on the VM; `plugin`, when given, must be the VM's. */
  async vmAction(
    name: string,
    action: string,
    payload: ActionPayload,
    opts: { plugin?: string } = {},
  ) {
    const res = await this.transport.request({
      buffered: true,
      method: "POST",
      path: `/api/v1/vms/${path(name)}/actions/${path(action)}`,
      query: { plugin: opts.plugin },
      body: payload,
      timeoutMs: 0, // the action's own timeout_ms bounds it on the daemon
    });
    return checkResponse("ActionResult", await readJson(res, "action result"), "action result");
  }

  /** Runs `action` on a healthy running VM of `plugin`. */
  pluginAction(plugin: string, action: string, payload: ActionPayload) {
    const p = `/api/v1/plugins/${path(plugin)}/actions/${path(action)}`;
    return this.#send("POST", p, payload, "ActionResult", "action result", 0);
  }

  /** The workload's OpenAPI document (the manifest's `openapi`), as served. */
  async vmOpenapi(name: string): Promise<{ contentType: string; text: string }> {
    const res = await this.transport.request({
      buffered: true,
      path: `/api/v1/vms/${path(name)}/openapi`,
      headers: { accept: "application/json, application/yaml" },
    });
    return { contentType: res.headers.get("content-type") ?? "", text: await res.text() };
  }

  /** Opens the VM's serial console (WebSocket). */
  /** Runs a process in VM `name`: its output frames, then its exit frame. */
  exec(name: string, body: ExecRequest, opts: { signal?: AbortSignal } = {}) {
    return execInVm(this.transport, name, body, opts) as AsyncGenerator<ExecFrame>;
  }

  /** A file or tree of VM `name` as a tar stream. */
  readFiles(name: string, where: GuestPath, signal?: AbortSignal) {
    return readVmFiles(this.transport, name, where, signal);
  }

  /** Extracts a tar stream into directory `where.path` of VM `name`. */
  writeFiles(
    name: string,
    where: GuestPath,
    tar: ReadableStream<Uint8Array<ArrayBuffer>>,
    signal?: AbortSignal,
  ) {
    return writeVmFiles(this.transport, name, where, tar, signal);
  }

  openConsole(name: string, opts: { signal?: AbortSignal } = {}): Promise<ConsoleSession> {
    return openConsole(this.transport, (n) => this.getVm(n), name, opts);
  }

  /** A process on a terminal in VM `name` (volar vms exec -it, vms shell). */
  openPty(name: string, req: PtyQueryInput): Promise<PtySession> {
    return openPty(this.transport, name, req);
  }

  // ------------------------------------------------------------ events

  /** One page of past events (oldest first). */
  listEvents(query: EventListQuery = {}): Promise<ClientEvent[]> {
    return listEvents(this.transport, query);
  }

  /** Live events over SSE, resuming with Last-Event-ID after a disconnect. */
  streamEvents(opts: StreamOptions = {}): AsyncGenerator<ClientEvent> {
    return streamEvents(this.transport, opts);
  }

  close(): void {
    this.transport.close();
  }
}

/** Connects to volantd: unix socket by default, or `api` + `token` over TCP. */
export function createClient(opts: ConnectionOptions = {}): VolantClient {
  return new VolantClient(createTransport(opts));
}
