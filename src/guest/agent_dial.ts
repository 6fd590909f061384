/**
 * The one place a byte stream to a VM's agent is dialled (the PTY path):
 * over the host-only agent channel when the VM has a live one (its local
 * socket, `agent-http-<id>.sock`, carries the stream byte for byte, WebSocket
 * upgrades included), else TCP to `IP:8080`.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { GuestTarget } from "../service/ports.ts";
import { AGENT_PORT } from "./client.ts";

/** How to reach the agent: `channelSocket`, a live channel link's local socket, when there is one. */
export interface DialOptions {
  port?: number;
  channelSocket?: string;
}

/** A connection to the agent of `target`; VolantError `upstream` when it cannot be reached. */
export async function dialAgent(target: GuestTarget, opts: DialOptions = {}): Promise<Deno.Conn> {
  const channel = opts.channelSocket;
  try {
    if (channel) return await Deno.connect({ transport: "unix", path: channel });
    return await Deno.connect({ hostname: target.ip, port: opts.port ?? AGENT_PORT });
  } catch (cause) {
    const over = channel ? "over its agent channel" : `at ${target.ip}`;
    throw new VolantError(
      "upstream",
      `agent of vm ${target.name ?? target.ip} unreachable ${over}: ${(cause as Error).message}`,
      { cause },
    );
  }
}
