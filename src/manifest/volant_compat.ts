/**
 * Volant's empty values: Volant (Go) marshals every struct field, so an
 * exported manifest carries `"rootfs": {"url": "", "format": "raw"}`,
 * `"checksum": ""`, `"timeout_ms": 0` and the like, and Volant reads an empty
 * string or a zero as "not set". {@linkcode dropVolantEmpties} applies that
 * rule before validation, so such manifests validate unchanged:
 *
 * - `initramfs` / `rootfs` with an empty `url`: the whole section is absent;
 * - an empty `checksum`, `format`, `target`, `image`, `image_digest`,
 *   `openapi`, `runtime`, `schema_version`, `workload.workdir`,
 *   `network.subnet|gateway`, `cloud_init.datasource|seed_mode` and cloud-init
 *   document `content|path`: absent;
 * - `timeout_ms: 0` (health check, actions): absent.
 *
 * Whitespace around strings is trimmed first, as Volant's Normalize does.
 * The input is never modified; a copy is returned. Pure: no Deno.* calls.
 *
 * @module
 */

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

const isEmpty = (v: unknown) => typeof v === "string" && v.trim() === "";

/** Deletes `keys` of `o` whose value is an empty (or blank) string. */
function dropEmpty(o: Obj, keys: readonly string[]): void {
  for (const k of keys) if (isEmpty(o[k])) delete o[k];
}

function dropZero(o: Obj, key: string): void {
  if (o[key] === 0) delete o[key];
}

/** Trims string values (one level), as Volant's Normalize does for these fields. */
function trimStrings(o: Obj, keys: readonly string[]): void {
  for (const k of keys) if (typeof o[k] === "string") o[k] = (o[k] as string).trim();
}

/** A copy of `raw` with Volant's empty values removed (non-objects come back unchanged). */
export function dropVolantEmpties(raw: unknown): unknown {
  if (!isObj(raw)) return raw;
  const m = structuredClone(raw) as Obj;
  trimStrings(m, ["schema_version", "name", "version", "runtime", "image", "image_digest"]);
  dropEmpty(m, ["schema_version", "runtime", "image", "image_digest", "openapi"]);
  for (const key of ["initramfs", "rootfs"]) {
    const a = m[key];
    if (!isObj(a)) continue;
    trimStrings(a, ["url", "checksum", "format"]);
    // Volant ignores a medium without a URL, whatever else it carries.
    if (isEmpty(a.url)) {
      delete m[key];
      continue;
    }
    dropEmpty(a, ["checksum", "format"]);
    if (typeof a.format === "string") a.format = a.format.toLowerCase();
  }
  if (Array.isArray(m.disks)) {
    for (const d of m.disks) {
      if (!isObj(d)) continue;
      trimStrings(d, ["name", "source", "checksum", "format", "target"]);
      dropEmpty(d, ["checksum", "format", "target"]);
      if (typeof d.format === "string") d.format = d.format.toLowerCase();
    }
  }
  if (isObj(m.health_check)) dropZero(m.health_check, "timeout_ms");
  if (isObj(m.actions)) {
    for (const a of Object.values(m.actions)) if (isObj(a)) dropZero(a, "timeout_ms");
  }
  if (isObj(m.workload)) {
    trimStrings(m.workload, ["type", "base_url", "workdir"]);
    dropEmpty(m.workload, ["workdir"]);
  }
  if (isObj(m.network)) {
    dropEmpty(m.network, ["subnet", "gateway"]);
    if (typeof m.network.mode === "string") m.network.mode = m.network.mode.trim().toLowerCase();
  }
  if (isObj(m.cloud_init)) {
    const c = m.cloud_init;
    dropEmpty(c, ["datasource", "seed_mode"]);
    for (const doc of ["user_data", "meta_data", "network_config"]) {
      const d = c[doc];
      if (!isObj(d)) continue;
      dropEmpty(d, ["content", "path"]);
      // Go's zero value `{}` (or `{"inline": false}`) is "no document".
      if (Object.keys(d).every((k) => k === "inline" && d.inline === false)) delete c[doc];
    }
  }
  return m;
}
