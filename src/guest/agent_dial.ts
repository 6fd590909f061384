/**
 * The one place a byte stream to a VM's agent is dialled (the PTY path
 * today): TCP to `IP:8080`. Routing it through the host-only agent channel
 * later changes only this function.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { GuestTarget } from "../service/ports.ts";
import { AGENT_PORT } from "./client.ts";

/** A connection to the agent of `target`; VolantError `upstream` when it cannot be reached. */
export async function dialAgent(target: GuestTarget, port = AGENT_PORT): Promise<Deno.Conn> {
  try {
    return await Deno.connect({ hostname: target.ip, port });
  } catch (cause) {
    throw new VolantError(
      "upstream",
      `agent of vm ${target.name ?? target.ip} unreachable: ${(cause as Error).message}`,
      { cause },
    );
  }
}
