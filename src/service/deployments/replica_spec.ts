/**
 * From a deployment config to one replica's VM create body, and from a
 * failed create to a condition reason. Pure.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import type { CreateVmBody } from "../../manifest/api.ts";
import type { DeploymentConfig } from "../../manifest/deployment.ts";

/** The VM create body of replica `name` (not started when env must be patched in first). */
export function replicaBody(name: string, config: DeploymentConfig): CreateVmBody {
  const body: CreateVmBody = { name, plugin: config.plugin, start: !config.env };
  if (config.resources?.cpu_cores !== undefined) body.cpu_cores = config.resources.cpu_cores;
  if (config.resources?.memory_mb !== undefined) body.memory_mb = config.resources.memory_mb;
  if (config.kernel_cmdline !== undefined) body.kernel_cmdline = config.kernel_cmdline;
  if (config.machine !== undefined) body.machine = config.machine;
  if (config.restart_policy !== undefined) body.restart_policy = config.restart_policy;
  if (config.idle_timeout_s !== undefined) body.idle_timeout_s = config.idle_timeout_s;
  return body;
}

/** A CamelCase reason for a create that failed (shown in the ReplicaFailure condition). */
export function failureReason(error: unknown): string {
  if (!(error instanceof VolantError)) return "CreateFailed";
  const onPlugin = error.problems.some((p) => p.field === "plugin");
  switch (error.code) {
    case "exhausted":
      return "PoolExhausted";
    case "conflict":
      return onPlugin && /disabled/.test(error.message) ? "PluginDisabled" : "CreateConflict";
    case "not_found":
      return onPlugin ? "PluginNotFound" : "CreateFailed";
    case "unavailable":
      return "HostUnavailable";
    case "invalid_input":
      return "InvalidConfig";
    default:
      return "CreateFailed";
  }
}

/** Configs equal as JSON documents (key order ignored). */
export function sameConfig(a: DeploymentConfig, b: DeploymentConfig): boolean {
  const canon = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canon) : v && typeof v === "object"
      ? Object.fromEntries(
        Object.entries(v as Record<string, unknown>).sort(([x], [y]) => x < y ? -1 : 1)
          .map(([k, x]) => [k, canon(x)]),
      )
      : v;
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}
