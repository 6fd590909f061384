/**
 * The manifest check kestrel runs without zod. volantd validated the whole
 * manifest with the shared schema (src/manifest/plugin.ts) before writing it
 * on the command line; in the guest, loading zod and building its schemas
 * costs about 5 MiB of resident memory for the agent's whole life (measured:
 * RssAnon 19.9 -> 14.2 MiB). So kestrel checks the fields it acts on, with the
 * schema's rules, and the rest by type only; anything unusual (an unknown key,
 * a Volant-style value, a field that fails) returns null and the full
 * validator (loaded on demand) decides and words the error.
 *
 * @module
 */
import type { PluginManifest } from "../src/manifest/plugin.ts";
import { dropVolantEmpties } from "../src/manifest/volant_compat.ts";
import { normalizeManifest } from "../src/manifest/normalize.ts";

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj =>
  typeof v === "object" && v !== null && !Array.isArray(v) &&
  Object.getPrototypeOf(v) === Object.prototype;
const isStr = (v: unknown): v is string => typeof v === "string";
const trimmed = (v: unknown): v is string => isStr(v) && v.length > 0 && v.trim() === v;
const only = (o: Obj, keys: string[]) => Object.keys(o).every((k) => keys.includes(k));

/** Stricter than or equal to the schema's rules for each field (never looser). */
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const USER = /^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$/;
const RESTART = ["never", "on-failure", "always"];
/** Fields kestrel does not act on: passed through when of the right JSON type. */
const OPAQUE: Record<string, (v: unknown) => boolean> = {
  labels: (v) => isObj(v) && Object.values(v).every(isStr),
  enabled: (v) => typeof v === "boolean",
  disks: Array.isArray,
  actions: isObj,
  cloud_init: isObj,
  network: isObj,
  devices: isObj,
  openapi: isObj,
};

function medium(v: unknown): boolean {
  return v === undefined || (isObj(v) && trimmed(v.url) && /^https?:\/\//.test(v.url));
}

const intIn = (v: unknown, lo: number, hi: number) =>
  Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;

function resources(r: unknown): boolean {
  return isObj(r) && only(r, ["cpu_cores", "memory_mb"]) && intIn(r.cpu_cores, 1, 64) &&
    intIn(r.memory_mb, 64, 262144);
}

function artifact(a: Obj): boolean {
  return (a.checksum === undefined || isStr(a.checksum)) &&
    (a.size === undefined || (Number.isInteger(a.size) && (a.size as number) >= 0));
}

function workload(w: unknown): boolean {
  if (
    !isObj(w) || !only(w, ["type", "base_url", "entrypoint", "env", "workdir", "user", "restart"])
  ) {
    return false;
  }
  if (w.type !== "http" || !isStr(w.base_url) || !/^https?:\/\/[^\s]+$/.test(w.base_url)) {
    return false;
  }
  if (!URL.canParse(w.base_url)) return false;
  if (!Array.isArray(w.entrypoint) || w.entrypoint.length === 0 || !w.entrypoint.every(trimmed)) {
    return false;
  }
  if (w.env !== undefined) {
    if (!isObj(w.env)) return false;
    if (!Object.entries(w.env).every(([k, v]) => ENV_NAME.test(k) && isStr(v))) return false;
  }
  if (w.workdir !== undefined && !(isStr(w.workdir) && w.workdir.startsWith("/"))) return false;
  if (w.user !== undefined && !(isStr(w.user) && USER.test(w.user))) return false;
  return w.restart === undefined || RESTART.includes(w.restart as string);
}

function healthCheck(h: unknown): boolean {
  if (h === undefined) return true;
  if (!isObj(h) || !only(h, ["endpoint", "timeout_ms"])) return false;
  if (!isStr(h.endpoint) || !/^(\/.*)?$/.test(h.endpoint)) return false;
  const t = h.timeout_ms;
  return t === undefined ||
    (Number.isInteger(t) && (t as number) >= 1 && (t as number) <= 3_600_000);
}

/** The manifest, normalised as parseManifest does, or null: ask the full validator. */
export function liteManifest(json: unknown): PluginManifest | null {
  const m = dropVolantEmpties(json);
  if (!isObj(m)) return null;
  for (const [key, value] of Object.entries(m)) {
    const known = ["schema_version", "name", "version", "runtime", "initramfs", "rootfs"]
      .concat(["resources", "workload", "health_check"]);
    if (!known.includes(key) && !(OPAQUE[key]?.(value) ?? false)) return null;
  }
  if (!isStr(m.name) || !NAME.test(m.name)) return null;
  if (!trimmed(m.version) || m.version.length > 64) return null;
  if (
    m.schema_version !== undefined &&
    !(isStr(m.schema_version) && /^1(\.\d+)?$/.test(m.schema_version))
  ) {
    return null;
  }
  if (m.runtime !== undefined && !(isStr(m.runtime) && NAME.test(m.runtime))) return null;
  if (!medium(m.initramfs) || !medium(m.rootfs) || (!m.initramfs && !m.rootfs)) return null;
  const r = m.rootfs;
  if (isObj(r) && (!only(r, ["url", "checksum", "size", "format"]) || !artifact(r))) return null;
  if (isObj(r) && r.format !== undefined && r.format !== "raw" && r.format !== "qcow2") return null;
  const i = m.initramfs;
  if (isObj(i) && (!only(i, ["url", "checksum", "size"]) || !artifact(i))) return null;
  if (!resources(m.resources) || !workload(m.workload) || !healthCheck(m.health_check)) return null;
  return normalizeManifest(m as unknown as PluginManifest);
}
