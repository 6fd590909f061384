/**
 * Route-level schemas: the shared ones from src/manifest/api.ts given
 * component ids for the OpenAPI document, plus path and query shapes that
 * only the HTTP layer has.
 *
 * @module
 */
import { z } from "zod";
import {
  CreateVmBodySchema,
  EventListSchema,
  EventQuerySchema,
  InstallPluginBodySchema,
  PciListSchema,
  PluginEnabledBodySchema,
  PluginInstallResultSchema,
  PluginListSchema,
  PluginRecordSchema,
  PluginRemoveQuerySchema,
  ProblemSchema,
  SystemInfoSchema,
  VersionedVmConfigSchema,
  VmConfigHistoryQuerySchema,
  VmConfigHistorySchema,
  VmConfigPatchSchema,
  VmListQuerySchema,
  VmListSchema,
  VmRecordSchema,
  VmStopQuerySchema,
} from "../manifest/api.ts";
import { PluginManifestSchema } from "../manifest/plugin.ts";
import { NameSchema } from "../manifest/names.ts";

export const Problem = ProblemSchema.meta({ id: "Problem" });
export const PluginRecord = PluginRecordSchema.meta({ id: "PluginRecord" });
export const PluginList = PluginListSchema.meta({ id: "PluginList" });
export const PluginInstallResult = PluginInstallResultSchema.meta({ id: "PluginInstallResult" });
export const InstallPluginBody = InstallPluginBodySchema.meta({ id: "InstallPluginBody" });
export const PluginEnabledBody = PluginEnabledBodySchema.meta({ id: "PluginEnabledBody" });
export const PluginManifest = PluginManifestSchema.meta({ id: "PluginManifest" });
export const PluginRemoveQuery = PluginRemoveQuerySchema;
export const VmRecord = VmRecordSchema.meta({ id: "VmRecord" });
export const VmList = VmListSchema.meta({ id: "VmList" });
export const VmListQuery = VmListQuerySchema;
export const CreateVmBody = CreateVmBodySchema.meta({ id: "CreateVmBody" });
export const VmStopQuery = VmStopQuerySchema;
export const VersionedVmConfig = VersionedVmConfigSchema.meta({ id: "VersionedVmConfig" });
export const VmConfigPatch = VmConfigPatchSchema.meta({ id: "VmConfigPatch" });
export const VmConfigHistory = VmConfigHistorySchema.meta({ id: "VmConfigHistory" });
export const VmConfigHistoryQuery = VmConfigHistoryQuerySchema;
export const EventList = EventListSchema.meta({ id: "EventList" });
export const SystemInfo = SystemInfoSchema.meta({ id: "SystemInfo" });
export const PciList = PciListSchema.meta({ id: "PciList" });

/** `{name}` path parameter: a DNS label, so no name can escape a directory. */
export const NameParam = z.object({ name: NameSchema });

/** GET /api/v1/events: the shared query plus SSE resume and the JSON-page switch. */
export const EventStreamQuery = EventQuerySchema.extend({
  /** Resume point for clients that cannot send the Last-Event-ID header. */
  last_event_id: z.coerce.number().int().min(0).optional(),
  /** `false` = one JSON page instead of an SSE stream. */
  follow: z.enum(["true", "false", "1", "0"]).optional(),
});

/** GET /api/v1/vms/{name}/logs. */
export const LogQuery = z.object({
  /** Last N lines (default 200; 0 = whole retained log). */
  tail: z.coerce.number().int("must be an integer").min(0).max(100_000).default(200),
  /** Keep the response open and stream new output. */
  follow: z.enum(["true", "false", "1", "0"]).default("false"),
});

export const Health = z.object({ status: z.literal("ok") }).meta({ id: "Health" });

/** True for the query-string spellings of true. */
export function isTrue(v: string | undefined): boolean {
  return v === "true" || v === "1";
}

/** The standard error responses, by status. */
export function problems(
  ...statuses: number[]
): Record<number, { description: string; content: Record<string, { schema: typeof Problem }> }> {
  const out: Record<
    number,
    { description: string; content: Record<string, { schema: typeof Problem }> }
  > = {};
  const text: Record<number, string> = {
    400: "Invalid input (problem+json naming the field)",
    401: "Missing or wrong bearer token (TCP only)",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict with the current state",
    422: "Checksum mismatch",
    501: "Not implemented",
    502: "Upstream failure",
    503: "Unavailable (e.g. no hypervisor or host networking)",
  };
  for (const s of statuses) {
    out[s] = {
      description: text[s] ?? "Error",
      content: { "application/problem+json": { schema: Problem } },
    };
  }
  return out;
}
