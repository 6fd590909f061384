/**
 * Cloud Hypervisor's REST API over its unix socket (`--api-socket path=`),
 * the endpoints Volant uses: vmm.ping, vm.info, vm.power-button, vm.shutdown,
 * vmm.shutdown, vm.pause, vm.resume, vm.snapshot, vm.restore.
 *
 * Upstream (v53.0, vmm/src/api/http/): success is 200 with a body or 204
 * without (vmm.shutdown answers 200 with none); errors carry a JSON array of
 * messages, 404 when no VM exists (500 before v53), 400 for a wrong method,
 * 500 for everything else (an invalid state transition included). The calls
 * are synchronous on CH's side: vm.snapshot and vm.restore copy all guest
 * memory before they answer, hence their own long timeout.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";

/** CH's VmState enum. */
export type ChVmState = "Created" | "Running" | "Shutdown" | "Paused" | "BreakPoint";

/** GET /vm.info (the fields we read; `config` is passed through). */
export interface ChVmInfo {
  state: ChVmState;
  config: Record<string, unknown>;
  memory_actual_size?: number;
}

/** GET /vmm.ping. */
export interface ChPing {
  version: string;
  build_version?: string;
  pid?: number;
  features?: string[];
}

/** Timeouts of one client. */
export interface ChApiTimeouts {
  /** Every call but snapshot/restore (default 5 s). */
  timeoutMs?: number;
  /** vm.snapshot and vm.restore, which copy guest memory synchronously (default 10 min). */
  memoryCopyTimeoutMs?: number;
}

/** A client bound to one API socket. Each call opens its own HTTP client. */
export class ChApiClient {
  readonly timeoutMs: number;
  readonly memoryCopyTimeoutMs: number;

  constructor(readonly socketPath: string, timeouts: ChApiTimeouts | number = {}) {
    const t = typeof timeouts === "number" ? { timeoutMs: timeouts } : timeouts;
    this.timeoutMs = t.timeoutMs ?? 5_000;
    this.memoryCopyTimeoutMs = t.memoryCopyTimeoutMs ?? 600_000;
  }

  ping(): Promise<ChPing> {
    return this.#call("GET", "vmm.ping") as Promise<ChPing>;
  }
  vmInfo(): Promise<ChVmInfo> {
    return this.#call("GET", "vm.info") as Promise<ChVmInfo>;
  }
  async powerButton(): Promise<void> {
    await this.#call("PUT", "vm.power-button");
  }
  async shutdownVm(): Promise<void> {
    await this.#call("PUT", "vm.shutdown");
  }
  async shutdownVmm(): Promise<void> {
    await this.#call("PUT", "vmm.shutdown");
  }
  async pause(): Promise<void> {
    await this.#call("PUT", "vm.pause");
  }
  async resume(): Promise<void> {
    await this.#call("PUT", "vm.resume");
  }
  /**
   * The VM must be paused; `destinationUrl` is `file://` + an existing, empty
   * directory (CH creates config.json, state.json and memory-ranges in it).
   */
  async snapshot(destinationUrl: string): Promise<void> {
    await this.#call("PUT", "vm.snapshot", { destination_url: destinationUrl }, true);
  }
  /** Only on a VMM that never had a VM (started with just --api-socket); restores it paused. */
  async restore(sourceUrl: string, opts: { prefault?: boolean } = {}): Promise<void> {
    const body: Record<string, unknown> = { source_url: sourceUrl };
    if (opts.prefault !== undefined) body.prefault = opts.prefault;
    await this.#call("PUT", "vm.restore", body, true);
  }

  async #call(
    method: "GET" | "PUT",
    endpoint: string,
    body?: unknown,
    copiesMemory = false,
  ): Promise<unknown> {
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path: this.socketPath } });
    let res: Response;
    try {
      res = await fetch(`http://localhost/api/v1/${endpoint}`, {
        method,
        client,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(copiesMemory ? this.memoryCopyTimeoutMs : this.timeoutMs),
      });
    } catch (e) {
      client.close();
      throw new VolantError(
        "unavailable",
        `cloud-hypervisor API ${this.socketPath} not reachable (${endpoint}): ${String(e)}`,
        { cause: e },
      );
    }
    try {
      const text = await res.text();
      if (!res.ok) {
        throw new VolantError(
          "upstream",
          `cloud-hypervisor ${method} ${endpoint}: HTTP ${res.status} ${errorText(text)}`,
          { details: { status: res.status } },
        );
      }
      return text ? JSON.parse(text) : null;
    } finally {
      client.close();
    }
  }
}

/** CH's error body is a JSON array of the error chain's messages; plain text is kept as is. */
function errorText(body: string): string {
  let text = body.trim();
  try {
    const parsed = JSON.parse(text);
    if (Array.isArray(parsed)) text = parsed.map(String).join(": ");
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
  }
  return text.slice(0, 500);
}
