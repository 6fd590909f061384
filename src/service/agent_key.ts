/**
 * The per-VM agent key: only the host may talk to kestrel. A fresh key is made
 * for every boot (create's first start, each restart: rotation), rides the
 * kernel command line (`volant.agent_key`, readable inside that guest only:
 * never sent over the bridge) and is kept for the daemon in the VM's runtime
 * dir (`agent.key`, mode 0600, so an adopted VM keeps working after a daemon
 * restart). Every call to the agent carries it; kestrel answers 401 without.
 *
 * @module
 */
import type { GuestAgent, GuestTarget } from "./ports.ts";

export const AGENT_KEY_FILE = "agent.key";

/** 32 random bytes, base64url without padding (43 characters). */
export function newAgentKey(): string {
  return crypto.getRandomValues(new Uint8Array(32)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

/** Writes the key for the daemon (0600, replaced atomically). */
export async function writeAgentKey(runtimeDir: string, key: string): Promise<void> {
  const path = `${runtimeDir}/${AGENT_KEY_FILE}`;
  const tmp = `${path}.tmp`;
  await Deno.mkdir(runtimeDir, { recursive: true, mode: 0o700 }); // the driver's prepare made it
  await Deno.writeTextFile(tmp, key, { mode: 0o600 });
  await Deno.chmod(tmp, 0o600); // `mode` applies only when the file is created: a stale tmp
  await Deno.rename(tmp, path);
}

/** The key of the VM whose runtime dir is `runtimeDir`; undefined when it has none. */
export async function readAgentKey(runtimeDir: string): Promise<string | undefined> {
  try {
    return (await Deno.readTextFile(`${runtimeDir}/${AGENT_KEY_FILE}`)).trim() || undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Finds the target (key included) of the VM holding `ip`. */
export type TargetLookup = (ip: string) => Promise<GuestTarget>;

/**
 * `guest` with every call addressed by a bare IP turned into a keyed target,
 * so the services that poll health or run actions by IP need not know keys.
 */
export function keyedGuest(guest: GuestAgent, lookup: TargetLookup): GuestAgent {
  const resolve = (t: string | GuestTarget) => typeof t === "string" ? lookup(t) : t;
  const out: GuestAgent = {
    health: async (t, opts) => guest.health(await resolve(t), opts),
    status: async (t, opts) => guest.status(await resolve(t), opts),
  };
  if (guest.request) {
    const request = guest.request.bind(guest);
    out.request = async (t, req) => request(await resolve(t), req);
  }
  if (guest.forward) out.forward = guest.forward.bind(guest);
  if (guest.websocket) out.websocket = guest.websocket.bind(guest);
  return out;
}
