/**
 * CONTRACT FAKE of Cloud Hypervisor's REST API. Cloud Hypervisor cannot run on
 * these machines (no /dev/kvm, not packaged), so its documented endpoints
 * (vmm/src/api/openapi/cloud-hypervisor.yaml, docs/api.md) are implemented here
 * with the VM state machine they describe, served over a real unix socket. It
 * checks our client and driver against the contract; it proves nothing about
 * Cloud Hypervisor itself.
 *
 * @module
 */
import type { ChVmState } from "./api_client.ts";

/** Hooks that let the fake process act on the VMM's behalf. */
export interface FakeChHooks {
  /** vm.power-button on a running VM: the guest powers off (the fake VMM exits). */
  onPowerButton?(): void;
  /** vmm.shutdown: the VMM process exits. */
  onVmmShutdown?(): void;
}

/** One fake VMM's API state. */
export class FakeChApi {
  state: ChVmState | null;
  readonly calls: string[] = [];
  snapshots: string[] = [];
  restoredFrom: string | null = null;

  constructor(
    readonly config: Record<string, unknown>,
    private hooks: FakeChHooks = {},
    initial: ChVmState | null = "Running",
  ) {
    this.state = initial;
  }

  /** The request handler (Deno.serve compatible). */
  handle = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const endpoint = url.pathname.replace(/^\/api\/v1\//, "");
    this.calls.push(`${req.method} ${endpoint}`);
    const route = ROUTES[endpoint];
    if (!route) return text(404, "Not Found");
    if (req.method !== route) return text(405, "Method Not Allowed");
    const body = req.method === "PUT" ? await req.text() : "";
    return this.#dispatch(endpoint, body);
  };

  #dispatch(endpoint: string, body: string): Response {
    switch (endpoint) {
      case "vmm.ping":
        return json({ version: "v51.0-contract-fake", pid: Deno.pid, features: [] });
      case "vm.info":
        if (!this.state) return text(500, "VM is not created");
        return json({ config: this.config, state: this.state, memory_actual_size: 0 });
      case "vm.power-button":
        if (this.state !== "Running") return invalid("power-button", this.state);
        queueMicrotask(() => this.hooks.onPowerButton?.());
        return empty();
      case "vm.shutdown":
        if (this.state !== "Running" && this.state !== "Paused") {
          return invalid("shutdown", this.state);
        }
        this.state = "Shutdown";
        return empty();
      case "vmm.shutdown":
        queueMicrotask(() => this.hooks.onVmmShutdown?.());
        return empty();
      case "vm.pause":
        if (this.state !== "Running") return invalid("pause", this.state);
        this.state = "Paused";
        return empty();
      case "vm.resume":
        if (this.state !== "Paused") return invalid("resume", this.state);
        this.state = "Running";
        return empty();
      case "vm.snapshot": {
        if (this.state !== "Paused") return invalid("snapshot", this.state);
        const b = parse(body);
        if (typeof b?.destination_url !== "string") return text(400, "missing destination_url");
        this.snapshots.push(b.destination_url);
        return empty();
      }
      case "vm.restore": {
        if (this.state !== null) return text(500, "VM already exists: restore needs an empty VMM");
        const b = parse(body);
        if (typeof b?.source_url !== "string") return text(400, "missing source_url");
        this.restoredFrom = b.source_url;
        this.state = "Paused"; // documented: a restored VM starts paused
        return empty();
      }
    }
    return text(404, "Not Found");
  }
}

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

function parse(body: string): Record<string, unknown> | null {
  try {
    return JSON.parse(body);
  } catch (e) {
    if (e instanceof SyntaxError) return null;
    throw e;
  }
}

function json(o: unknown): Response {
  return new Response(JSON.stringify(o), { headers: { "content-type": "application/json" } });
}
function empty(): Response {
  return new Response(null, { status: 204 });
}
function text(status: number, msg: string): Response {
  return new Response(msg, { status });
}
function invalid(op: string, state: ChVmState | null): Response {
  return text(500, `InvalidStateTransition: cannot ${op} a VM in state ${state ?? "none"}`);
}

/** Serves `api` on a unix socket at `path`. */
export function serveFakeChApi(path: string, api: FakeChApi): Deno.HttpServer<Deno.UnixAddr> {
  return Deno.serve({ path, onListen() {} }, api.handle);
}
