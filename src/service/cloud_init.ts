/**
 * cloud-init NoCloud: what goes into a VM's `cidata` seed. The effective
 * documents are the manifest's `cloud_init` with the VM's own (`cloud_init`
 * at create / PATCH) winning per document; `meta-data` always carries an
 * `instance-id` unique per VM and stable across its restarts (from the row
 * id and creation time) and `local-hostname` = the VM's name. Document
 * `path`s are read at install (beside a file manifest, or relative to an
 * http(s) one) and stored inline, so a seed never reads host paths. Pure,
 * except {@linkcode inlineDocPaths}, which reads through the install's resolver.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { PluginManifest } from "../manifest/mod.ts";
import type { SeedFile } from "./ports.ts";

type CloudInit = NonNullable<PluginManifest["cloud_init"]>;
type Doc = NonNullable<CloudInit["user_data"]>;

export const CLOUD_INIT_DOCS = {
  user_data: "user-data",
  meta_data: "meta-data",
  network_config: "network-config",
} as const;

/** A seed document's largest size (NoCloud documents are small; this keeps a seed image small). */
export const MAX_DOC_BYTES = 256 * 1024;

const hasContent = (d: Doc | undefined): d is Doc & { content: string } => d?.content !== undefined;

/** Manifest documents with the VM's winning per document (datasource/seed_mode likewise). */
export function effectiveCloudInit(
  manifest: CloudInit | undefined,
  vm: CloudInit | undefined,
): CloudInit | undefined {
  if (!manifest && !vm) return undefined;
  const out: CloudInit = { ...manifest };
  for (const key of Object.keys(CLOUD_INIT_DOCS) as (keyof typeof CLOUD_INIT_DOCS)[]) {
    if (hasContent(vm?.[key])) out[key] = vm[key];
  }
  if (vm?.datasource) out.datasource = vm.datasource;
  if (vm?.seed_mode) out.seed_mode = vm.seed_mode;
  return out;
}

/** True when there is something to seed. */
export function wantsSeed(ci: CloudInit | undefined): boolean {
  return Boolean(ci && Object.keys(CLOUD_INIT_DOCS).some((k) => hasContent(ci[k as "user_data"])));
}

/** Unique per VM (row id + creation time, so a re-created name differs) and stable across restarts. */
export function instanceId(vm: { id: number; name: string; created_at: string }): string {
  const t = Date.parse(vm.created_at);
  return `volant-${vm.name}-${vm.id}-${Number.isNaN(t) ? 0 : t.toString(36)}`;
}

/** The seed's files; meta-data gains instance-id and local-hostname when it lacks them. */
export function seedFiles(
  ci: CloudInit,
  vm: { id: number; name: string; created_at: string },
): SeedFile[] {
  const files: SeedFile[] = [];
  const user = ci.user_data?.content ?? "#cloud-config\n";
  files.push({ name: "user-data", content: user });
  let meta = ci.meta_data?.content ?? "";
  if (!/^local-hostname\s*:/m.test(meta)) meta = `local-hostname: ${vm.name}\n${meta}`;
  if (!/^instance-id\s*:/m.test(meta)) meta = `instance-id: ${instanceId(vm)}\n${meta}`;
  files.push({ name: "meta-data", content: meta });
  if (ci.network_config?.content !== undefined) {
    files.push({ name: "network-config", content: ci.network_config.content });
  }
  for (const f of files) {
    if (new TextEncoder().encode(f.content).length > MAX_DOC_BYTES) {
      const field = `cloud_init.${f.name.replace("-", "_")}`;
      throw new VolantError("too_large", `${field}: larger than ${MAX_DOC_BYTES} bytes`, {
        problems: [{ field, message: `must be at most ${MAX_DOC_BYTES} bytes` }],
      });
    }
  }
  return files;
}

/**
 * The manifest with every document `path` replaced by its content, read by
 * `read` (the install's resolver: beside a file manifest, or relative to an
 * http(s) one; never host paths for a manifest sent in the body).
 */
export async function inlineDocPaths(
  m: PluginManifest,
  read: (ref: string, field: string) => Promise<string>,
): Promise<PluginManifest> {
  if (!m.cloud_init) return m;
  const ci: CloudInit = { ...m.cloud_init };
  for (const key of Object.keys(CLOUD_INIT_DOCS) as (keyof typeof CLOUD_INIT_DOCS)[]) {
    const doc = ci[key];
    if (doc?.path === undefined) continue;
    const field = `cloud_init.${key}.path`;
    const content = await read(doc.path, field);
    if (new TextEncoder().encode(content).length > MAX_DOC_BYTES) {
      throw new VolantError("too_large", `${field}: larger than ${MAX_DOC_BYTES} bytes`, {
        problems: [{ field, message: `must be at most ${MAX_DOC_BYTES} bytes` }],
      });
    }
    ci[key] = { inline: true, content };
  }
  return { ...m, cloud_init: ci };
}
