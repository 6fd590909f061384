/**
 * The VM state machine, pure: which user action is allowed in which state,
 * and which state changes the service may make. Everything else is a
 * conflict (409) naming the state.
 *
 * ```
 * created ─start→ starting ─booted→ running ─stop→ stopping → stopped
 *    ↑                 │ failed          │ exit (unrequested)      │
 *    │                 ↓                 ↓                          │
 *    │              stopped           crashed ─(policy)→ starting   │
 *    └── any settled state ─delete→ deleting → (row gone) ←────────┘
 * ```
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { VmState } from "../manifest/api.ts";

export type VmAction = "start" | "stop" | "restart" | "delete" | "patch_config";

/** States in which each user action may begin. `stop` on stopped/created is a no-op. */
export const ALLOWED_ACTIONS: Readonly<Record<VmAction, readonly VmState[]>> = {
  start: ["created", "stopped", "crashed"],
  stop: ["running", "crashed", "stopped", "created"],
  restart: ["running", "stopped", "crashed", "created"],
  delete: ["created", "running", "stopped", "crashed", "deleting"],
  patch_config: ["created", "starting", "running", "stopping", "stopped", "crashed"],
};

/** Every state change the service makes. */
export const TRANSITIONS: Readonly<Record<VmState, readonly VmState[]>> = {
  created: ["starting", "deleting"],
  starting: ["running", "stopped", "crashed", "stopping"],
  running: ["stopping", "crashed", "stopped", "deleting"],
  stopping: ["stopped", "crashed"],
  stopped: ["starting", "deleting"],
  crashed: ["starting", "stopping", "stopped", "deleting"],
  deleting: ["stopped"],
};

/** States in which a VMM process may exist (reconciled at daemon start). */
export const ACTIVE_STATES: readonly VmState[] = ["starting", "running", "stopping"];

export function isAllowed(action: VmAction, state: VmState): boolean {
  return ALLOWED_ACTIONS[action].includes(state);
}

/** Throws conflict: `cannot start vm web: it is running (allowed in: ...)`. */
export function assertAllowed(action: VmAction, state: VmState, name: string): void {
  if (isAllowed(action, state)) return;
  const verb = action === "patch_config" ? "change the config of" : action;
  throw new VolantError(
    "conflict",
    `cannot ${verb} vm ${name}: it is ${state} (allowed when ${
      ALLOWED_ACTIONS[action].join(", ")
    })`,
    { details: { state, action } },
  );
}

export function canTransition(from: VmState, to: VmState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Guards the service's own writes: an impossible change is a bug, reported as conflict. */
export function assertTransition(from: VmState, to: VmState, name: string): void {
  if (canTransition(from, to)) return;
  throw new VolantError("conflict", `vm ${name} cannot go from ${from} to ${to}`, {
    details: { state: from, target: to },
  });
}
