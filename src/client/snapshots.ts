/**
 * The snapshots part of the typed client: `client.snapshots.create(vm)`,
 * `.list(vm)`, `.get(vm, s)`, `.remove(vm, s)`, `.restore(vm, s)`; every
 * answer checked against the shared schemas.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { VmRecord } from "../manifest/api.ts";
import type { CreateSnapshotBody, SnapshotRecord } from "../manifest/snapshot.ts";
import { checkResponse } from "./check.ts";
import type { Transport } from "./transport.ts";

async function body(res: Response, what: string): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new VolantError(
      "upstream",
      `volantd sent a ${what} that is not JSON: ${text.slice(0, 80)}`,
    );
  }
}

const at = (vm: string) => `/api/v1/vms/${encodeURIComponent(vm)}`;

export class SnapshotClient {
  readonly #t: Transport;

  constructor(transport: Transport) {
    this.#t = transport;
  }

  /** Saves a snapshot (no client timeout: a big guest takes a while). */
  async create(vm: string, payload: CreateSnapshotBody = {}): Promise<SnapshotRecord> {
    const res = await this.#t.request({
      method: "POST",
      path: `${at(vm)}/snapshots`,
      body: payload,
      timeoutMs: 0,
    });
    return checkResponse("SnapshotRecord", await body(res, "snapshot"), "snapshot");
  }

  async list(vm: string): Promise<SnapshotRecord[]> {
    const res = await this.#t.request({ path: `${at(vm)}/snapshots` });
    return (await checkResponse("SnapshotList", await body(res, "snapshot list"), "snapshot list"))
      .items;
  }

  async get(vm: string, name: string): Promise<SnapshotRecord> {
    const res = await this.#t.request({
      path: `${at(vm)}/snapshots/${encodeURIComponent(name)}`,
    });
    return checkResponse("SnapshotRecord", await body(res, "snapshot"), "snapshot");
  }

  async remove(vm: string, name: string): Promise<void> {
    const res = await this.#t.request({
      method: "DELETE",
      path: `${at(vm)}/snapshots/${encodeURIComponent(name)}`,
    });
    await res.body?.cancel();
  }

  /** Takes the plugin's ready snapshot (boots a VM of it: no client timeout). */
  async warm(plugin: string): Promise<SnapshotRecord> {
    const res = await this.#t.request({
      method: "POST",
      path: `/api/v1/plugins/${encodeURIComponent(plugin)}/warm`,
      timeoutMs: 0,
    });
    return checkResponse("SnapshotRecord", await body(res, "snapshot"), "snapshot");
  }

  async unwarm(plugin: string): Promise<void> {
    const res = await this.#t.request({
      method: "DELETE",
      path: `/api/v1/plugins/${encodeURIComponent(plugin)}/warm`,
    });
    await res.body?.cancel();
  }

  async restore(vm: string, from: string): Promise<VmRecord> {
    const res = await this.#t.request({
      method: "POST",
      path: `${at(vm)}/restore`,
      body: { from },
      timeoutMs: 0,
    });
    return checkResponse("VmRecord", await body(res, "vm"), "vm");
  }
}
