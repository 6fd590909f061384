/**
 * `volant.run`: the manifest's workload pre-decoded for the shim, so the shim
 * (C, no JSON, no gzip) can start the workload before kestrel is up
 * (docs/development.md, "Guest boot chain"). base64url, no padding, of
 * NUL-separated records, each a one-letter tag and its value: `v1` first,
 * then `a<arg>` per entrypoint element, `e<KEY>=<VALUE>` per workload.env
 * entry, `w<workdir>`, `u<user[:group]>`, and `R` when the workload lives on
 * the rootfs (the shim switches root first). Decoded by shim/run_spec.c and,
 * for tests, by {@linkcode decodeRunSpec}. Pure.
 *
 * @module
 */
import type { PluginManifest } from "./plugin.ts";

/** The shim's fixed limits (shim/shim.h RUN_MAX_ARGS / RUN_MAX_ENV, its 4 KiB buffer). */
const MAX_ARGS = 64;
const MAX_ENV = 128;
const MAX_BYTES = 4095;

export interface RunSpec {
  argv: string[];
  env: Record<string, string>;
  workdir?: string;
  user?: string;
  switchRoot: boolean;
}

function base64Url(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * The `volant.run` value for `manifest`, or null when the shim could not
 * carry it (a NUL in a value, over its limits): kestrel then starts the
 * workload as before.
 */
export function encodeRunSpec(manifest: PluginManifest, switchRoot: boolean): string | null {
  const w = manifest.workload;
  const env = Object.entries(w.env ?? {});
  if (w.entrypoint.length > MAX_ARGS || env.length > MAX_ENV) return null;
  const records = ["v1", ...w.entrypoint.map((a) => `a${a}`)];
  for (const [k, v] of env) records.push(`e${k}=${v}`);
  if (w.workdir !== undefined) records.push(`w${w.workdir}`);
  if (w.user !== undefined) records.push(`u${w.user}`);
  if (switchRoot) records.push("R");
  if (records.some((r) => r.includes("\0"))) return null;
  const bytes = new TextEncoder().encode(records.join("\0"));
  return bytes.length > MAX_BYTES ? null : base64Url(bytes);
}

/** The inverse of {@linkcode encodeRunSpec} (what the shim reads), for tests and tools. */
export function decodeRunSpec(value: string): RunSpec {
  const std = value.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(std + "=".repeat((4 - (std.length % 4)) % 4));
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  const [version, ...records] = new TextDecoder().decode(bytes).split("\0");
  if (version !== "v1") throw new Error(`volant.run: unknown version ${version}`);
  const out: RunSpec = { argv: [], env: {}, switchRoot: false };
  for (const r of records) {
    const v = r.slice(1);
    if (r[0] === "a") out.argv.push(v);
    else if (r[0] === "e") out.env[v.slice(0, v.indexOf("="))] = v.slice(v.indexOf("=") + 1);
    else if (r[0] === "w") out.workdir = v;
    else if (r[0] === "u") out.user = v;
    else if (r === "R") out.switchRoot = true;
    else throw new Error(`volant.run: bad record ${JSON.stringify(r)}`);
  }
  return out;
}
