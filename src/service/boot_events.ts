/**
 * Boot events from the guest's own account (workload first, issue #24): once
 * kestrel answers healthy, its /v1/status says who started the workload and
 * when (guest uptime), and when kestrel joined. Published as
 * `vm.workload_started` and `vm.agent_joined` just before `vm.healthy`, with
 * the guest's clock in the payload (the host learns of them only now).
 *
 * @module
 */
import type { VmEventInput } from "../manifest/vm_events.ts";
import type { GuestAgent } from "./ports.ts";

/** `boot.workload_first` of kestrel's /v1/status (agent/state.ts WorkloadFirst). */
interface WorkloadFirst {
  pid?: number;
  workload_started_uptime_ms?: number;
  agent_started_uptime_ms?: number;
  agent_joined_uptime_ms?: number;
}

/** The payloads, or null when the status does not say (older agents, no answer). */
export function bootEventPayloads(status: unknown): {
  workloadStarted: Extract<VmEventInput, { type: "vm.workload_started" }>["data"];
  agentJoined: Extract<VmEventInput, { type: "vm.agent_joined" }>["data"];
} | null {
  if (typeof status !== "object" || status === null) return null;
  const boot = (status as { boot?: { workload_first?: WorkloadFirst | null } }).boot;
  if (!boot || typeof boot !== "object") return null;
  const wf = boot.workload_first;
  if (!wf) return { workloadStarted: { by: "kestrel" }, agentJoined: { before_workload: true } };
  const num = (v: unknown) => typeof v === "number" && Number.isFinite(v) ? v : undefined;
  return {
    workloadStarted: {
      by: "shim",
      ...(num(wf.pid) !== undefined ? { pid: num(wf.pid) } : {}),
      ...(num(wf.workload_started_uptime_ms) !== undefined
        ? { guest_uptime_ms: num(wf.workload_started_uptime_ms) }
        : {}),
    },
    agentJoined: {
      before_workload: false,
      ...(num(wf.agent_joined_uptime_ms) !== undefined
        ? { guest_uptime_ms: num(wf.agent_joined_uptime_ms) }
        : {}),
    },
  };
}

/** Asks kestrel (bounded) and publishes both events; a guest that does not say publishes none. */
export async function publishBootEvents(
  guest: GuestAgent,
  publish: (event: VmEventInput) => void,
  ip: string,
  signal: AbortSignal,
): Promise<void> {
  let status: unknown;
  try {
    status = await guest.status(ip, { timeoutMs: 2_000, signal });
  } catch (error) {
    // The health result stands on its own; these events only add the guest's account (the
    // caller checks `signal` after this returns).
    if (!(error instanceof Error)) throw error;
    return;
  }
  const p = bootEventPayloads(status);
  if (!p) return;
  publish({ type: "vm.workload_started", data: p.workloadStarted });
  publish({ type: "vm.agent_joined", data: p.agentJoined });
}
