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
import type { ByteStream, GuestAgent, GuestForward, GuestTarget } from "./ports.ts";
import { vmRuntimeDir } from "./vm_spec.ts";

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
    if (!vm.ip) throw new VolantError("upstream", `vm ${vm.name} has no IP address`);
    const key = await readAgentKey(vmRuntimeDir(this.#ctx.options, vm.name));
    return { ip: vm.ip, key, name: vm.name };
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
    const text = (await res.text()).slice(0, 4096);
    let problem: AgentProblem = {};
    try {
      problem = JSON.parse(text) as AgentProblem;
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
    }
    if (res.status === 400) {
      throw new VolantError("invalid_input", problem.detail ?? text, {
        problems: problem.problems,
      });
    }
    if (res.status === 401) {
      throw new VolantError(
        "upstream",
        `the agent of vm ${name} refused the daemon's key (restart the VM to hand it a new one)`,
      );
    }
    throw new VolantError(
      "upstream",
      `the agent of vm ${name} answered exec with HTTP ${res.status}: ${problem.detail ?? text}`,
    );
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
