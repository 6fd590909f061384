/**
 * CONTRACT FAKE of Cloud Hypervisor's REST API. Cloud Hypervisor needs
 * /dev/kvm, which these machines lack, so its API is re-implemented here as
 * upstream behaves, not as we would like it to: each rule names the upstream
 * file and line it mirrors (cloud-hypervisor/cloud-hypervisor at v53.0 =
 * 9ed824d6d08d; ae44c2971c83 agrees on every point used here). Served over a
 * real unix socket. It proves our client and driver follow that contract; it
 * proves nothing about Cloud Hypervisor itself (the KVM suite in tests/kvm/
 * does, in CI).
 *
 * @module
 */
import type { ChVmState } from "../cloud_hypervisor/api_client.ts";

/** What the fake VMM process does when the API asks. */
export interface FakeChHooks {
  /** vm.power-button on a VM: the guest sees the ACPI button. */
  onPowerButton?(): void;
  /** vmm.shutdown: the VMM exits cleanly (after answering). */
  onVmmShutdown?(): void;
  /** vm.shutdown: the VM's devices go (serial, vsock). */
  onVmShutdown?(): void;
  /** vm.restore: create the devices of `config` (paused). Throws to fail the restore. */
  onRestore?(config: Record<string, unknown>): Promise<void> | void;
  /** vm.pause / vm.resume took effect. */
  onStateChange?(state: ChVmState): void;
  /** An event-monitor event (`source`, `event`). */
  onEvent?(source: string, event: string): void;
}

/**
 * VmState::valid_transition, vmm/src/vm.rs l. 415-450 (v53.0): which state
 * may follow which. Pause, resume and shutdown check it (vm.rs l. 2036, 3249, 3281).
 */
const TRANSITIONS: Record<ChVmState, ChVmState[]> = {
  Created: ["Running", "Paused", "BreakPoint", "Shutdown"],
  Running: ["Paused", "Shutdown", "BreakPoint"],
  Shutdown: ["Running"],
  Paused: ["Running", "Shutdown"],
  BreakPoint: ["Created", "Running"],
};

/** Routes and their one method (vmm/src/api/http/mod.rs HTTP_ROUTES, v53.0 l. 191-316). */
const ROUTES: Record<string, "GET" | "PUT"> = {
  "vmm.ping": "GET",
  "vm.info": "GET",
  "vm.power-button": "PUT",
  "vm.shutdown": "PUT",
  "vmm.shutdown": "PUT",
  "vm.pause": "PUT",
  "vm.resume": "PUT",
  "vm.snapshot": "PUT",
  "vm.restore": "PUT",
};

class ApiError extends Error {
  constructor(readonly status: number, readonly chain: string[]) {
    super(chain.join(": "));
  }
}

/** One fake VMM's API state: a VM config (or none) and a VM (or none), as in vmm/src/lib.rs. */
export class FakeChApi {
  /** `Vmm::vm_config`: set by vm.create (the command line's payload) or a restore. */
  config: Record<string, unknown> | null = null;
  /** The VM's state; null = no VM object (`VmOwnership::None`). */
  vm: ChVmState | null = null;
  readonly calls: string[] = [];
  readonly snapshots: string[] = [];
  restoredFrom: string | null = null;

  constructor(private hooks: FakeChHooks = {}) {}

  /** vm.create + vm.boot as main.rs sends them after the API is up (v53.0 l. 772-779). */
  createAndBoot(config: Record<string, unknown>): void {
    this.config = config;
    this.vm = "Created";
    this.hooks.onEvent?.("vm", "booting");
    this.vm = "Running";
    this.hooks.onEvent?.("vm", "booted");
  }

  /** The request handler (Deno.serve compatible). */
  handle = async (req: Request): Promise<Response> => {
    const endpoint = new URL(req.url).pathname.replace(/^\/api\/v1\//, "");
    this.calls.push(`${req.method} ${endpoint}`);
    const method = ROUTES[endpoint];
    // Unknown path: 404 (http/mod.rs l. 325 and l. 79).
    if (!method) return error(new ApiError(404, ["Not Found"]));
    // A method the endpoint does not serve: 400 (http/mod.rs l. 141; EndpointHandler defaults).
    if (req.method !== method) return error(new ApiError(400, ["Bad Request"]));
    const body = req.method === "PUT" ? await req.text() : "";
    try {
      return await this.#dispatch(endpoint, body);
    } catch (e) {
      if (e instanceof ApiError) return error(e);
      throw e;
    }
  };

  async #dispatch(endpoint: string, body: string): Promise<Response> {
    switch (endpoint) {
      case "vmm.ping":
        return json({ build_version: "v53.0-contract-fake", version: "53.0.0", pid: Deno.pid });
      case "vm.info": {
        // No config: VmNotCreated -> 404 (lib.rs vm_info, http/mod.rs l. 90; 500 before v53).
        if (!this.config) throw apiError("VmInfo", "VmNotCreated");
        // No VM object but a config (after vm.shutdown): Created (lib.rs l. 2515).
        return json({ config: this.config, state: this.vm ?? "Created", memory_actual_size: 0 });
      }
      case "vm.power-button":
        this.#needVm("VmPowerButton");
        queueMicrotask(() => this.hooks.onPowerButton?.());
        return empty();
      case "vm.shutdown": {
        // Takes the VM (lib.rs l. 2414-2425): afterwards vm.info says Created.
        const state = this.#needVm("VmShutdown");
        this.#transition("VmShutdown", state, "Shutdown");
        this.vm = null;
        this.hooks.onVmShutdown?.();
        this.hooks.onEvent?.("vm", "shutdown");
        return empty();
      }
      case "vmm.shutdown":
        // 200 with no body, not 204 (http_endpoint.rs l. 687).
        this.hooks.onEvent?.("vmm", "shutdown");
        // The answer goes out before the process ends (main.rs joins the HTTP thread).
        setTimeout(() => this.hooks.onVmmShutdown?.(), 20);
        return new Response(null, { status: 200 });
      case "vm.pause":
        this.#transition("VmPause", this.#needVm("VmPause"), "Paused");
        this.vm = "Paused";
        this.hooks.onStateChange?.("Paused");
        this.hooks.onEvent?.("vm", "paused");
        return empty();
      case "vm.resume":
        this.#transition("VmResume", this.#needVm("VmResume"), "Running");
        this.vm = "Running";
        this.hooks.onStateChange?.("Running");
        this.hooks.onEvent?.("vm", "resumed");
        return empty();
      case "vm.snapshot":
        return await this.#snapshot(body);
      case "vm.restore":
        return await this.#restore(body);
    }
    throw new ApiError(404, ["Not Found"]);
  }

  /** No VM object: VmNotRunning, a 500 (lib.rs vm_pause/vm_resume/vm_shutdown; http/mod.rs l. 91). */
  #needVm(op: string): ChVmState {
    if (this.vm === null) throw apiError(op, "VmNotRunning");
    return this.vm;
  }

  #transition(op: string, from: ChVmState, to: ChVmState): void {
    if (!TRANSITIONS[from].includes(to)) {
      throw apiError(op, `InvalidStateTransition(${from}, ${to})`);
    }
  }

  async #snapshot(body: string): Promise<Response> {
    const b = parseBody(body);
    if (typeof b.destination_url !== "string") throw badJson("destination_url");
    const state = this.#needVm("VmSnapshot");
    // Only a paused VM (vm.rs l. 3329).
    if (state !== "Paused") throw apiError("VmSnapshot", "Snapshot(VM is not paused)");
    const dir = urlToDir(b.destination_url, "VmSnapshot");
    // Each file with create_new (vm.rs l. 3407, 3429): an existing snapshot is not overwritten.
    await writeNew(`${dir}/config.json`, JSON.stringify(this.config));
    await writeNew(`${dir}/state.json`, JSON.stringify({ state: "contract-fake" }));
    await writeNew(`${dir}/memory-ranges`, "guest memory (contract fake)\n");
    this.snapshots.push(b.destination_url);
    this.hooks.onEvent?.("vm", "snapshotted");
    return empty();
  }

  async #restore(body: string): Promise<Response> {
    const b = parseBody(body);
    if (typeof b.source_url !== "string") throw badJson("source_url");
    // A VM or a VM config already there: VmAlreadyCreated (lib.rs l. 2338-2344), a 500.
    if (this.vm !== null || this.config !== null) throw apiError("VmRestore", "VmAlreadyCreated");
    const dir = urlToDir(b.source_url, "VmRestore");
    let config: Record<string, unknown>;
    try {
      config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
      await Deno.stat(`${dir}/state.json`);
    } catch (e) {
      throw apiError("VmRestore", `Restore(${e instanceof Error ? e.message : e})`);
    }
    try {
      await this.hooks.onRestore?.(config);
    } catch (e) {
      throw apiError("VmRestore", `Restore(${e instanceof Error ? e.message : e})`);
    }
    this.config = config;
    // A restored VM starts paused (docs/snapshot_restore.md: "restored in a paused state").
    this.vm = "Paused";
    this.restoredFrom = b.source_url;
    this.hooks.onEvent?.("vm", "restored");
    return empty();
  }
}

/** `url_to_path`: file:// and an existing directory (vmm/src/migration/mod.rs l. 24-39). */
function urlToDir(url: string, op: string): string {
  if (!url.startsWith("file://")) throw apiError(op, `Could not extract path from URL: ${url}`);
  const path = url.slice("file://".length);
  let isDir = false;
  try {
    isDir = Deno.statSync(path).isDirectory;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (!isDir) throw apiError(op, `Destination is not a directory: "${path}"`);
  return path;
}

async function writeNew(path: string, text: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, text, { createNew: true, mode: 0o600 });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw apiError("VmSnapshot", `SnapshotSend(File exists: ${path})`);
    }
    throw e;
  }
}

/** Status per http/mod.rs l. 88-92 (v53.0): VmNotCreated -> 404, every other API error -> 500. */
function apiError(op: string, cause: string): ApiError {
  return new ApiError(cause === "VmNotCreated" ? 404 : 500, ["Error from API", op, cause]);
}

/** A body serde cannot read: SerdeJsonDeserialize -> 400 (http/mod.rs l. 78). */
function badJson(field: string): ApiError {
  return new ApiError(400, ["Failed to deserialize JSON", `missing field \`${field}\``]);
}

function parseBody(body: string): Record<string, unknown> {
  try {
    const v = JSON.parse(body);
    if (v && typeof v === "object") return v;
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
  }
  throw new ApiError(400, ["Failed to deserialize JSON"]);
}

// Every response is application/json (http/mod.rs handle_http_request).
function json(o: unknown): Response {
  return new Response(JSON.stringify(o), { headers: { "content-type": "application/json" } });
}
function empty(): Response {
  return new Response(null, { status: 204, headers: { "content-type": "application/json" } });
}
/** The body is the error chain's messages as a JSON array (http/mod.rs error_response). */
function error(e: ApiError): Response {
  return new Response(JSON.stringify(e.chain), {
    status: e.status,
    headers: { "content-type": "application/json" },
  });
}

/** Serves `api` on a unix socket at `path`. */
export function serveFakeChApi(path: string, api: FakeChApi): Deno.HttpServer<Deno.UnixAddr> {
  return Deno.serve({ path, onListen() {} }, api.handle);
}
