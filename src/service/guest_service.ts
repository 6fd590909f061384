/**
 * Reaching into a running VM: the agent proxy, exec, and the serial console.
 * Everything goes through ports (GuestAgent, SerialDialer) that src/daemon
 * builds; every agent call carries the VM's agent key (agent_key.ts).
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import { type ExecRequest, ExecRequestSchema, NDJSON } from "../manifest/exec.ts";
import { readAgentKey } from "./agent_key.ts";
import type { GuestServiceApi, VmServiceApi } from "./contracts.ts";
import type { ServiceContext } from "./context.ts";
import type { AgentSocket, ByteStream, GuestAgent, GuestForward, GuestTarget } from "./ports.ts";
import { ptyQuery, type PtyRequest } from "../manifest/pty.ts";
import { agentChannelPath, hasNoNic, vmRuntimeDir } from "./vm_spec.ts";

/** Where files are in the guest: `path` absolute, resolved inside `root` when given. */
export interface FilesLocation {
  path: string;
  root?: string;
}

/** What a write extracted. */
export interface FilesWritten {
  entries: number;
  bytes: number;
}

function filesPath(where: FilesLocation): string {
  const q = new URLSearchParams({ path: where.path });
  if (where.root !== undefined) q.set("root", where.root);
  return `/agent/v1/files?${q}`;
}

/** The agent's refusal as a VolantError: its 400/404/409 keep their meaning and fields. */
async function agentError(res: Response, name: string, what: string): Promise<VolantError> {
  const text = (await res.text()).slice(0, 4096);
  let problem: AgentProblem = {};
  try {
    problem = JSON.parse(text) as AgentProblem;
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
  }
  const detail = problem.detail ?? text;
  const code = res.status === 400
    ? "invalid_input"
    : res.status === 404
    ? "not_found"
    : res.status === 409
    ? "conflict"
    : null;
  if (code) return new VolantError(code, detail, { problems: problem.problems });
  if (res.status === 401) {
    return new VolantError(
      "upstream",
      `the agent of vm ${name} refused the daemon's key (restart the VM to hand it a new one)`,
    );
  }
  return new VolantError(
    "upstream",
    `the agent of vm ${name} answered ${what} with HTTP ${res.status}: ${detail}`,
  );
}

type Forwarding = GuestAgent & Required<Pick<GuestAgent, "forward">>;

interface AgentProblem {
  detail?: string;
  problems?: { field: string; message: string }[];
}

export class GuestService implements GuestServiceApi {
  readonly #ctx: ServiceContext;
  readonly #vms: VmServiceApi;

  constructor(ctx: ServiceContext, vms: VmServiceApi) {
    this.#ctx = ctx;
    this.#vms = vms;
  }

  #agent(): Forwarding {
    const g = this.#ctx.guest;
    if (!g?.forward) throw new VolantError("unavailable", "no guest agent client is configured");
    return g as Forwarding;
  }

  /** The running VM's agent address and key; conflict when it is not running. */
  async target(name: string): Promise<GuestTarget> {
    const vm = this.#vms.get(name);
    if (vm.state !== "running") {
      throw new VolantError("conflict", `vm ${vm.name} is ${vm.state}, not running`, {
        problems: [{ field: "vm", message: `is ${vm.state}, not running` }],
      });
    }
    const key = await readAgentKey(vmRuntimeDir(this.#ctx.options, vm.name));
    // No NIC (network.mode "vsock"): the agent channel is the only way, whatever its lease says.
    // (Route tests build this service over no store: then the VM has its NIC.)
    const store = this.#ctx.store as ServiceContext["store"] | undefined;
    const row = store?.vms.get(vm.name);
    const noNic = row !== undefined && row !== null && hasNoNic(store, row.id);
    return {
      ip: noNic ? "" : vm.ip ?? "",
      key,
      name: vm.name,
      channel: agentChannelPath(this.#ctx.options, vm.name),
    };
  }

  async forward(name: string, req: GuestForward): Promise<Response> {
    const agent = this.#agent();
    return await agent.forward(await this.target(name), req);
  }

  async exec(
    name: string,
    body: ExecRequest,
    signal?: AbortSignal,
  ): Promise<ReadableStream<Uint8Array>> {
    const parsed = ExecRequestSchema.parse(body);
    const agent = this.#agent();
    const target = await this.target(name);
    const res = await agent.forward(target, {
      method: "POST",
      path: "/agent/v1/exec",
      headers: new Headers({ "content-type": "application/json", accept: NDJSON }),
      body: JSON.stringify(parsed),
      signal,
    });
    if (res.status === 200 && res.body) return res.body;
    throw await agentError(res, name, "exec");
  }

  /** An interactive session on a terminal in the VM (src/manifest/pty.ts), as a WebSocket. */
  async openPty(name: string, req: PtyRequest): Promise<AgentSocket> {
    const g = this.#ctx.guest;
    if (!g?.websocket) throw new VolantError("unavailable", "no guest agent client is configured");
    const res = await g.websocket(await this.target(name), `/agent/v1/exec/pty?${ptyQuery(req)}`);
    if (res instanceof Response) throw await agentError(res, name, "exec/pty");
    return res;
  }

  /** `path` in the VM (a file or a tree) as a tar stream. */
  async readFiles(
    name: string,
    where: FilesLocation,
    signal?: AbortSignal,
  ): Promise<ReadableStream<Uint8Array>> {
    const res = await this.#agent().forward(await this.target(name), {
      method: "GET",
      path: filesPath(where),
      signal,
    });
    if (res.status === 200 && res.body) return res.body;
    throw await agentError(res, name, "read files");
  }

  /** Extracts the tar stream `body` into the directory `path` in the VM. */
  async writeFiles(
    name: string,
    where: FilesLocation,
    body: ReadableStream<Uint8Array<ArrayBuffer>>,
    signal?: AbortSignal,
  ): Promise<FilesWritten> {
    const res = await this.#agent().forward(await this.target(name), {
      method: "PUT",
      path: filesPath(where),
      headers: new Headers({ "content-type": "application/x-tar" }),
      body,
      signal,
    });
    if (res.status !== 200) throw await agentError(res, name, "write files");
    return await res.json() as FilesWritten;
  }

  async openConsole(name: string): Promise<ByteStream> {
    const target = this.#vms.console(name);
    if (target.state !== "running" || target.serialSocket === undefined) {
      throw new VolantError("conflict", `vm ${target.name} is ${target.state}: no serial console`);
    }
    const serial = this.#ctx.serial;
    if (!serial) throw new VolantError("unavailable", "no serial console dialer is configured");
    return await serial.open(target.serialSocket);
  }
}
