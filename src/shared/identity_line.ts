/**
 * The clone identity hand-off, as text: one line the host sends a restored
 * clone and the one the guest answers. Pure and transport-neutral (no I/O):
 * the daemon types it on the serial console today; an agent channel can carry
 * the same line later. Both sides import this one module.
 *
 *     volant-identity <nonce> <ip/prefix> <gateway> <mac> <hostname> <seed hex> [<agent key>]
 *     VOLANT_IDENTITY_OK <nonce>
 *
 * The seed is 32 bytes (64 hex digits) for the guest's RNG. The line is kept
 * under 200 bytes: far below the tty's 4 KiB line buffer.
 *
 * @module
 */

export const IDENTITY_COMMAND = "volant-identity";
export const IDENTITY_ACK = "VOLANT_IDENTITY_OK";
export const SEED_BYTES = 32;

/** What a clone is told to become. */
export interface IdentityMessage {
  /** Fresh per hand-off: 8-32 lowercase hex digits. */
  nonce: string;
  address: string;
  prefix: number;
  gateway: string;
  mac: string;
  hostname: string;
  /** SEED_BYTES fresh random bytes for the guest's RNG. */
  seed: Uint8Array;
  /** The clone's own agent key (base64url), replacing the template's. */
  agentKey?: string;
}

const NONCE = /^[0-9a-f]{8,32}$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;
const HOSTNAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;
const SEED = new RegExp(`^[0-9a-f]{${SEED_BYTES * 2}}$`);
const KEY = /^[A-Za-z0-9_-]{16,128}$/;

/** Why a line was refused: `field` names the part. */
export class IdentityLineError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = "IdentityLineError";
  }
}

/** A fresh nonce (16 hex digits). */
export function newNonce(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(8)));
}

export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function fromHex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The line (no newline) for `m`; throws IdentityLineError on a value that would not parse back. */
export function formatIdentity(m: IdentityMessage): string {
  const parts = [
    IDENTITY_COMMAND,
    m.nonce,
    `${m.address}/${m.prefix}`,
    m.gateway,
    m.mac.toLowerCase(),
    m.hostname,
    toHex(m.seed),
  ];
  if (m.agentKey !== undefined) parts.push(m.agentKey);
  const line = parts.join(" ");
  parseIdentity(line); // the same checks as the receiver
  return line;
}

/** True when `line` is meant as a hand-off (so a refusal is worth reporting). */
export function isIdentityLine(line: string): boolean {
  return line.trim().startsWith(`${IDENTITY_COMMAND} `);
}

/** Parses and checks one line; throws IdentityLineError naming the bad part. */
export function parseIdentity(line: string): IdentityMessage {
  const f = line.trim().split(/\s+/);
  if (f[0] !== IDENTITY_COMMAND) throw new IdentityLineError("command", `not ${IDENTITY_COMMAND}`);
  if (f.length !== 7 && f.length !== 8) {
    throw new IdentityLineError("line", `${f.length - 1} fields, want 6 or 7`);
  }
  const [, nonce, cidr, gateway, mac, hostname, seed, agentKey] = f;
  if (!NONCE.test(nonce)) throw new IdentityLineError("nonce", "want 8-32 lowercase hex digits");
  const [address, prefixText, extra] = cidr.split("/");
  const prefix = Number(prefixText);
  if (
    extra !== undefined || !IPV4.test(address) || !/^\d{1,2}$/.test(prefixText ?? "") ||
    prefix > 32
  ) {
    throw new IdentityLineError("address", `"${cidr}" is not an IPv4 address/prefix`);
  }
  if (!IPV4.test(gateway)) throw new IdentityLineError("gateway", `"${gateway}" is not IPv4`);
  if (!MAC.test(mac)) throw new IdentityLineError("mac", `"${mac}" is not a MAC address`);
  if (parseInt(mac.slice(0, 2), 16) & 1) {
    throw new IdentityLineError("mac", "a multicast MAC cannot be a NIC's");
  }
  if (!HOSTNAME.test(hostname)) throw new IdentityLineError("hostname", "not a DNS label");
  if (!SEED.test(seed)) {
    throw new IdentityLineError("seed", `want ${SEED_BYTES * 2} lowercase hex digits`);
  }
  if (agentKey !== undefined && !KEY.test(agentKey)) {
    throw new IdentityLineError("agent_key", "want 16-128 base64url characters");
  }
  return {
    nonce,
    address,
    prefix,
    gateway,
    mac,
    hostname,
    seed: fromHex(seed),
    ...(agentKey !== undefined ? { agentKey } : {}),
  };
}

export function formatAck(nonce: string): string {
  return `${IDENTITY_ACK} ${nonce}`;
}

/** Whether `text` (console output, any amount) holds the ack of `nonce`. */
export function hasAck(text: string, nonce: string): boolean {
  return new RegExp(`(?:^|\\s)${IDENTITY_ACK} ${nonce}(?:\\s|$)`).test(text);
}

/**
 * The guest's memory of nonces: a new one is applied; the last applied one
 * again (the host resending because it missed the ack) is acknowledged again
 * without re-applying; any older one is a replay and refused. A clone starts
 * with its template's memory, so the template's hand-off is already "old".
 */
export class NonceGuard {
  readonly #seen = new Set<string>();
  #last: string | undefined;
  readonly #limit: number;

  constructor(limit = 64) {
    this.#limit = limit;
  }

  /** "apply" (new), "ack" (the last one again) or "replay". Does not record. */
  check(nonce: string): "apply" | "ack" | "replay" {
    if (nonce === this.#last) return "ack";
    return this.#seen.has(nonce) ? "replay" : "apply";
  }

  /** Records `nonce` as applied. */
  applied(nonce: string): void {
    this.#seen.add(nonce);
    this.#last = nonce;
    if (this.#seen.size > this.#limit) {
      this.#seen.delete(this.#seen.values().next().value!);
    }
  }
}
