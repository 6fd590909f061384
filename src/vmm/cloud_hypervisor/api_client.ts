/**
 * Cloud Hypervisor's REST API over its unix socket (`--api-socket path=`),
 * the endpoints Volant uses: vmm.ping, vm.info, vm.power-button, vm.shutdown,
 * vmm.shutdown, vm.pause, vm.resume, vm.snapshot, vm.restore.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";

/** CH's VmState enum. */
export type ChVmState = "Created" | "Running" | "Shutdown" | "Paused";

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

/** A client bound to one API socket. Each call opens its own HTTP client. */
export class ChApiClient {
  constructor(readonly socketPath: string, readonly timeoutMs = 5000) {}

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
  /** The VM must be paused; `destinationUrl` like `file:///var/lib/volant/snap/x`. */
  async snapshot(destinationUrl: string): Promise<void> {
    await this.#call("PUT", "vm.snapshot", { destination_url: destinationUrl });
  }
  /** On a VMM without a VM: restores it paused (then `resume`). */
  async restore(sourceUrl: string, opts: { prefault?: boolean } = {}): Promise<void> {
    const body: Record<string, unknown> = { source_url: sourceUrl };
    if (opts.prefault !== undefined) body.prefault = opts.prefault;
    await this.#call("PUT", "vm.restore", body);
  }

  async #call(method: "GET" | "PUT", endpoint: string, body?: unknown): Promise<unknown> {
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path: this.socketPath } });
    let res: Response;
    try {
      res = await fetch(`http://localhost/api/v1/${endpoint}`, {
        method,
        client,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
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
          `cloud-hypervisor ${method} ${endpoint}: HTTP ${res.status} ${text.trim().slice(0, 300)}`,
          { details: { status: res.status } },
        );
      }
      return text ? JSON.parse(text) : null;
    } finally {
      client.close();
    }
  }
}
