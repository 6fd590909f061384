/**
 * VM config: the initial document at create, and PATCH merging (reference
 * §3.8, fixed): `network` is honoured, a patched `manifest` is validated,
 * must keep the plugin's name and may only use artifacts the VM has pinned.
 * Pure.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import {
  type ArtifactRecord,
  type CreateVmBody,
  type PluginRecord,
  type VmConfig,
  type VmConfigPatch,
  VmConfigSchema,
} from "../manifest/api.ts";
import { parseManifest, parseOrThrow, type PluginManifest } from "../manifest/mod.ts";
import { checkExtraArgs } from "./cmdline.ts";
import { effectiveCloudInit } from "./cloud_init.ts";
import type { MachineKind } from "./ports.ts";

/** What the host configuration decides for a VM the request leaves open. */
export interface VmDefaults {
  /** The `machine` config key (volantd `--machine`). */
  machine: MachineKind;
}

export function initialConfig(
  body: CreateVmBody,
  plugin: PluginRecord,
  defaults: VmDefaults,
): VmConfig {
  const m = plugin.manifest;
  const config: VmConfig = {
    plugin: plugin.name,
    runtime: plugin.runtime,
    kernel_cmdline: body.kernel_cmdline?.trim() ?? "",
    resources: {
      cpu_cores: body.cpu_cores ?? m.resources.cpu_cores,
      memory_mb: body.memory_mb ?? m.resources.memory_mb,
    },
    machine: body.machine ?? defaults.machine,
    restart_policy: body.restart_policy ?? "never",
    manifest: m,
  };
  if (m.network) config.network = m.network;
  const ci = effectiveCloudInit(m.cloud_init, body.cloud_init);
  if (ci) config.cloud_init = ci;
  if (body.idle_timeout_s !== undefined) config.idle_timeout_s = body.idle_timeout_s;
  return parseOrThrow(VmConfigSchema, config, "VM config");
}

/** Artifacts a manifest needs, as `kind:name`. */
function neededArtifacts(m: PluginManifest): string[] {
  const out: string[] = [];
  if (m.initramfs) out.push("initramfs:initramfs");
  if (m.rootfs) out.push("rootfs:rootfs");
  for (const d of m.disks ?? []) out.push(`disk:${d.name}`);
  return out;
}

function prefixed(error: unknown, prefix: string): never {
  if (error instanceof VolantError) {
    throw new VolantError(error.code, error.message, {
      problems: error.problems.map((p) => ({ ...p, field: `${prefix}.${p.field}` })),
      cause: error,
    });
  }
  throw error;
}

export function mergeConfigPatch(
  current: VmConfig,
  patch: VmConfigPatch,
  pinned: readonly ArtifactRecord[],
): VmConfig {
  const next: VmConfig = structuredClone(current);
  if (patch.runtime !== undefined) next.runtime = patch.runtime.trim();
  if (patch.kernel_cmdline !== undefined) {
    checkExtraArgs(patch.kernel_cmdline);
    next.kernel_cmdline = patch.kernel_cmdline.trim();
  }
  if (patch.resources) next.resources = { ...next.resources, ...patch.resources };
  if (patch.machine !== undefined) next.machine = patch.machine;
  if (patch.restart_policy !== undefined) next.restart_policy = patch.restart_policy;
  if (patch.manifest !== undefined) {
    let m: PluginManifest;
    try {
      m = parseManifest(patch.manifest);
    } catch (error) {
      prefixed(error, "manifest");
    }
    if (m.name !== current.plugin) {
      throw new VolantError("invalid_input", `manifest.name: must stay ${current.plugin}`, {
        problems: [{ field: "manifest.name", message: `must stay ${current.plugin}` }],
      });
    }
    const have = new Set(pinned.map((a) => `${a.kind}:${a.name}`));
    const missing = neededArtifacts(m).filter((k) => !have.has(k));
    if (missing.length > 0) {
      throw new VolantError(
        "invalid_input",
        `manifest: artifacts ${
          missing.join(", ")
        } are not installed for this VM; install a new plugin version instead`,
        { problems: [{ field: "manifest", message: `unknown artifacts ${missing.join(", ")}` }] },
      );
    }
    next.manifest = m;
  }
  if (patch.network !== undefined) {
    if (patch.network === null) delete next.network;
    else next.network = patch.network;
  }
  if (patch.cloud_init !== undefined) {
    if (patch.cloud_init === null) delete next.cloud_init;
    else next.cloud_init = patch.cloud_init;
  }
  if (patch.expose !== undefined) next.expose = patch.expose;
  if (patch.metadata !== undefined) {
    if (patch.metadata === null) delete next.metadata;
    else next.metadata = patch.metadata;
  }
  if (patch.idle_timeout_s !== undefined) {
    if (patch.idle_timeout_s === null) delete next.idle_timeout_s;
    else next.idle_timeout_s = patch.idle_timeout_s;
  }
  return parseOrThrow(VmConfigSchema, next, "VM config");
}
