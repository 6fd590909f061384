/**
 * The kernel command line as the channel from volantd to kestrel.
 *
 * The manifest rides as `volant.manifest=<base64url(gzip(JSON))>` (no padding),
 * as in Volant; the decoder (the one the host and kestrel share) also accepts
 * padding and raw JSON. The VM's own settings ride as `volant.*` keys listed
 * in {@linkcode CMDLINE_KEYS}. Pure: no Deno.* calls.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { PluginManifest } from "./plugin.ts";
import { base64UrlBytes, fastDecode, gunzipManifest, isGzip, utf8Text } from "./manifest_bytes.ts";

/** x86-64 COMMAND_LINE_SIZE: the whole line, including the terminating NUL, fits in 2048 bytes. */
export const CMDLINE_LIMIT = 2048;

/** Every `volant.*` key the host writes and the guest reads. */
export const CMDLINE_KEYS = {
  manifest: "volant.manifest",
  runtime: "volant.runtime",
  plugin: "volant.plugin",
  apiHost: "volant.api_host",
  apiPort: "volant.api_port",
  /** Boot mode: auto | initramfs | rootfs. */
  boot: "volant.boot",
  rootfsDevice: "volant.rootfs_device",
  rootfsFstype: "volant.rootfs_fstype",
  /** Guest address with prefix, e.g. 192.168.127.10/24. */
  ip: "volant.ip",
  gateway: "volant.gw",
  /** Comma-separated DNS servers. */
  dns: "volant.dns",
  mtu: "volant.mtu",
  hostname: "volant.hostname",
  /** Block device holding the shared, read-only agent image (e.g. vda). */
  agentDevice: "volant.agent_device",
  /** 1 = spawn a root shell on the console (off unless asked for). */
  debugShell: "volant.debug_shell",
  /**
   * The per-VM secret every agent request must carry (header {@linkcode AGENT_KEY_HEADER}).
   * Fresh at each boot; the cmdline is readable inside this guest only, never on the bridge.
   */
  agentKey: "volant.agent_key",
  /**
   * `1` = the daemon hands the key over the agent channel (no `volant.agent_key`): kestrel serves
   * the channel on its virtio-serial port or, without one, on vsock port 1024 (Cloud Hypervisor).
   * Without it kestrel never listens on vsock: a host that is itself a VM has a vsock device too.
   */
  agentChannel: "volant.agent_channel",
  /** `dhcp` = eth0 gets its address by DHCP (no `volant.ip`). */
  network: "volant.network",
  /** The workload pre-decoded for the shim (run_spec.ts): it starts it before kestrel. */
  run: "volant.run",
} as const;

/** The request header carrying the VM's agent key (host -> kestrel). */
export const AGENT_KEY_HEADER = "x-volant-agent-key";

/** The agent channel's virtio-serial port name (QEMU `virtserialport,name=`); kestrel finds it. */
export const AGENT_PORT_NAME = "org.volant.agent";
/** The vsock port kestrel serves the agent channel on (Cloud Hypervisor). */
export const AGENT_VSOCK_PORT = 1024;

function bytesToBase64Url(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function pipe(bytes: Uint8Array, stream: CompressionStream | DecompressionStream) {
  const body = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(body).arrayBuffer());
}

/**
 * The manifest as the guest gets it: without what only volantd uses. Action
 * payload schemas are checked on the host before a payload reaches the guest,
 * so they would only cost command-line bytes (and agents built before the
 * field existed would refuse the manifest).
 */
export function guestManifest(manifest: PluginManifest): PluginManifest {
  if (!manifest.actions) return manifest;
  const actions = Object.fromEntries(
    Object.entries(manifest.actions).map(([name, { payload_schema: _s, ...rest }]) => [name, rest]),
  );
  return { ...manifest, actions };
}

/** manifest -> JSON -> gzip -> base64url without padding. */
export async function encodeManifest(manifest: PluginManifest): Promise<string> {
  const json = new TextEncoder().encode(JSON.stringify(guestManifest(manifest)));
  return bytesToBase64Url(await pipe(json, new CompressionStream("gzip")));
}

/**
 * Decodes a `volant.manifest` value to a JSON value (not yet validated):
 * base64url with or without padding, gzip or not, or raw JSON text. The usual
 * encoding takes the synchronous fast path (manifest_bytes.ts); the rest, and
 * every error, take the checks below.
 */
export function decodeManifestValue(value: string): Promise<unknown> {
  try {
    return Promise.resolve(decodeManifestSync(value));
  } catch (e) {
    return Promise.reject(e);
  }
}

function decodeManifestSync(value: string): unknown {
  const fast = fastDecode(value);
  if (fast !== null) return JSON.parse(fast);
  const trimmed = value.trim();
  if (trimmed.startsWith("{")) return JSON.parse(trimmed);
  let bytes = trimmed === "" ? new Uint8Array() : base64UrlBytes(trimmed);
  if (bytes === null) {
    throw new VolantError("invalid_input", "volant.manifest is neither base64url nor JSON");
  }
  if (isGzip(bytes)) {
    try {
      bytes = gunzipManifest(bytes);
    } catch (cause) {
      throw new VolantError("invalid_input", "volant.manifest: gzip data is corrupt", { cause });
    }
  }
  try {
    return JSON.parse(utf8Text(bytes));
  } catch (cause) {
    throw new VolantError("invalid_input", "volant.manifest does not decode to JSON", { cause });
  }
}

/**
 * Splits a kernel command line into key/value pairs (last one wins), honouring
 * double quotes as the kernel does. Bare words map to "".
 */
export function parseCmdline(cmdline: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /(?:[^\s"]+|"[^"]*")+/g;
  for (const token of cmdline.match(re) ?? []) {
    const unquoted = token.replace(/"/g, "");
    const eq = unquoted.indexOf("=");
    if (eq < 0) out.set(unquoted, "");
    else out.set(unquoted.slice(0, eq), unquoted.slice(eq + 1));
  }
  return out;
}

/** Quotes a value that holds whitespace; rejects what the kernel cannot carry. */
function formatArg(key: string, value: string): string {
  if (value.includes('"') || /[\n\0]/.test(value)) {
    throw new VolantError(
      "invalid_input",
      `kernel argument ${key}: value holds a quote or newline`,
      {
        problems: [{ field: key, message: "must not contain quotes or newlines" }],
      },
    );
  }
  return /\s/.test(value) ? `${key}="${value}"` : `${key}=${value}`;
}

/** Joins base args and `volant.*` pairs in a stable order (insertion order of `pairs`). */
export function joinCmdline(base: string[], pairs: [string, string][]): string {
  return [...base.filter((s) => s.length > 0), ...pairs.map(([k, v]) => formatArg(k, v))].join(
    " ",
  );
}

/** The biggest top-level fields of a manifest by JSON size, for budget errors. */
export function biggestFields(manifest: PluginManifest, count = 3): [string, number][] {
  return Object.entries(manifest)
    .map(([k, v]): [string, number] => [k, JSON.stringify(v ?? null).length])
    .sort((a, b) => b[1] - a[1])
    .slice(0, count);
}

/**
 * Throws `invalid_input` when `cmdline` does not fit the x86-64 budget, naming
 * its size, the limit and the manifest's biggest fields.
 */
export function checkCmdlineBudget(cmdline: string, manifest?: PluginManifest): void {
  const size = new TextEncoder().encode(cmdline).length + 1; // the kernel's trailing NUL
  if (size <= CMDLINE_LIMIT) return;
  const biggest = manifest
    ? "; biggest manifest fields: " +
      biggestFields(manifest).map(([k, n]) => `${k} (${n} B of JSON)`).join(", ")
    : "";
  throw new VolantError(
    "invalid_input",
    `kernel command line is ${size} bytes, over the ${CMDLINE_LIMIT}-byte limit${biggest}`,
    {
      problems: [{
        field: "manifest",
        message: `kernel command line is ${size} bytes, over the ${CMDLINE_LIMIT}-byte limit`,
      }],
      details: { size, limit: CMDLINE_LIMIT },
    },
  );
}
