/**
 * Gives a restored clone its own identity over a host-only path: the VM's
 * serial console socket (only the daemon can open it). The daemon types one line,
 *
 *     volant-identity <nonce> <ip/prefix> <gateway> <mac> <hostname> <seed hex>
 *
 * and the guest answers `VOLANT_IDENTITY_OK <nonce>` on its console once it
 * has set eth0's MAC and address, its hostname, and reseeded its RNG with the
 * 32 fresh bytes (RNDADDENTROPY + RNDRESEEDCRNG). The values come from the
 * clone's own kernel command line (`volant.ip`, `volant.gw`,
 * `volant.hostname`), which its restored memory does not hold.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import type { VmProcess, VmSpec } from "../ports.ts";

/** What the clone is told. */
export interface CloneIdentity {
  ip: string;
  gw: string;
  mac: string;
  hostname: string;
}

/** The identity a spec's command line and NIC give a VM. */
export function identityFromSpec(spec: VmSpec): CloneIdentity {
  const arg = (k: string) => new RegExp(`(?:^| )${k}=(\\S+)`).exec(spec.cmdline)?.[1];
  const ip = arg("volant.ip");
  const gw = arg("volant.gw");
  if (!ip || !gw || !spec.net) {
    throw new VolantError("conflict", `vm ${spec.name} has no bridged address: cannot clone it`);
  }
  return { ip, gw, mac: spec.net.mac, hostname: arg("volant.hostname") ?? spec.name };
}

/**
 * Sends the identity line (again every second: a busy guest's UART drops
 * input) until the guest acknowledges it in its serial log, or `timeoutMs`.
 */
export async function handIdentity(
  proc: VmProcess,
  id: CloneIdentity,
  timeoutMs = 10_000,
): Promise<void> {
  const nonce = crypto.randomUUID().slice(0, 8);
  const seed = Array.from(crypto.getRandomValues(new Uint8Array(32)))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  const line = `\nvolant-identity ${nonce} ${id.ip} ${id.gw} ${id.mac} ${id.hostname} ${seed}\n`;
  const ack = `VOLANT_IDENTITY_OK ${nonce}`;
  const conn = await Deno.connect({ transport: "unix", path: proc.serialSocket });
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      await conn.write(new TextEncoder().encode(line));
      const until = Math.min(deadline, Date.now() + 1000);
      while (Date.now() < until) {
        if ((await tail(proc.serialLog)).includes(ack)) return;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  } finally {
    conn.close();
  }
  throw new VolantError(
    "upstream",
    `vm ${proc.name}: the guest did not take its identity within ${timeoutMs} ms ` +
      "(it must answer volant-identity on its console)",
  );
}

/** The last 4 KiB of the serial log. */
async function tail(path: string): Promise<string> {
  const f = await Deno.open(path, { read: true });
  try {
    const size = (await f.stat()).size;
    const start = Math.max(0, size - 4096);
    await f.seek(start, Deno.SeekMode.Start);
    const buf = new Uint8Array(size - start);
    let off = 0;
    while (off < buf.length) {
      const n = await f.read(buf.subarray(off));
      if (n === null) break;
      off += n;
    }
    return new TextDecoder().decode(buf.subarray(0, off));
  } finally {
    f.close();
  }
}
