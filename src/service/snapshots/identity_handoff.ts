/**
 * Gives a restored clone its own identity over a host-only path: the VM's
 * serial console socket (only the daemon can open it). The daemon types one
 * line (src/shared/identity_line.ts, the codec kestrel shares),
 *
 *     volant-identity <nonce> <ip/prefix> <gateway> <mac> <hostname> <seed hex> [<agent key>]
 *
 * and the guest answers `VOLANT_IDENTITY_OK <nonce>` on its console once it
 * has set eth0's MAC and address, its hostname, and reseeded its RNG with the
 * 32 fresh bytes (RNDADDENTROPY + RNDRESEEDCRNG). The values come from the
 * clone's own kernel command line (`volant.ip`, `volant.gw`,
 * `volant.hostname`), which its restored memory does not hold.
 *
 * The ack is read from the console socket itself (QEMU sends the guest's
 * output to the connected client), not by polling the log file. The line is
 * resent with the same nonce until acknowledged: the guest applies a nonce
 * once and acknowledges a resend again without re-applying it.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import type { VmProcess, VmSpec } from "../ports.ts";
import { formatIdentity, hasAck, newNonce, SEED_BYTES } from "../../shared/identity_line.ts";

/** What the clone is told. */
export interface CloneIdentity {
  ip: string;
  gw: string;
  mac: string;
  hostname: string;
  /** The clone's agent key (kestrel guests); busybox test guests ignore it. */
  agentKey?: string;
}

/** The identity a spec's command line and NIC give a VM. */
export function identityFromSpec(spec: VmSpec, agentKey?: string): CloneIdentity {
  const arg = (k: string) => new RegExp(`(?:^| )${k}=(\\S+)`).exec(spec.cmdline)?.[1];
  const ip = arg("volant.ip");
  const gw = arg("volant.gw");
  if (!ip || !gw || !spec.net) {
    throw new VolantError("conflict", `vm ${spec.name} has no bridged address: cannot clone it`);
  }
  return {
    ip,
    gw,
    mac: spec.net.mac,
    hostname: arg("volant.hostname") ?? spec.name,
    ...(agentKey ? { agentKey } : {}),
  };
}

/** How long between resends while no ack came (a guest busy restoring may miss nothing, but lag). */
const RESEND_MS = 2_000;

/**
 * Sends the identity line until the guest acknowledges it on its console,
 * or `timeoutMs`.
 */
export async function handIdentity(
  proc: VmProcess,
  id: CloneIdentity,
  timeoutMs = 30_000,
): Promise<void> {
  const nonce = newNonce();
  const [address, prefix] = id.ip.split("/");
  const line = formatIdentity({
    nonce,
    address,
    prefix: Number(prefix ?? 32),
    gateway: id.gw,
    mac: id.mac,
    hostname: id.hostname,
    seed: crypto.getRandomValues(new Uint8Array(SEED_BYTES)),
    agentKey: id.agentKey,
  });
  // The leading newline ends whatever partial input the console holds.
  const bytes = new TextEncoder().encode(`\n${line}\n`);
  const conn = await Deno.connect({ transport: "unix", path: proc.serialSocket });
  let acked = false;
  const ack = readUntilAck(conn, nonce).then(() => acked = true, () => false);
  const deadline = Date.now() + timeoutMs;
  try {
    while (!acked && Date.now() < deadline) {
      await conn.write(bytes);
      // Wakes on the ack, or after RESEND_MS to send again (never past the deadline).
      await waitFor(ack, Math.min(RESEND_MS, deadline - Date.now()));
    }
  } finally {
    conn.close();
    await ack;
  }
  if (acked) return;
  throw new VolantError(
    "upstream",
    `vm ${proc.name}: the guest did not take its identity within ${timeoutMs} ms ` +
      "(it must answer volant-identity on its console)",
  );
}

/** Resolves when `p` settles or after `ms`, whichever is first; leaves no timer behind. */
async function waitFor(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([p, new Promise((r) => timer = setTimeout(r, Math.max(0, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads the console stream until `VOLANT_IDENTITY_OK <nonce>`; rejects when it closes first. */
async function readUntilAck(conn: Deno.Conn, nonce: string): Promise<void> {
  const dec = new TextDecoder();
  const buf = new Uint8Array(4096);
  let text = "";
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("console closed");
    text = (text + dec.decode(buf.subarray(0, n), { stream: true })).slice(-8192);
    if (hasAck(text, nonce)) return;
  }
}
