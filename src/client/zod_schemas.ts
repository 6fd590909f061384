/**
 * Every response schema the client checks, by name: the zod schemas shared
 * with the daemon (src/manifest). This module (and zod) loads only when the
 * zod-free fast check (check.ts, json_schema.ts against response_schemas.json,
 * generated from these) rejects an answer, to name the field; and in the
 * generator and its test.
 *
 * @module
 */
import { z } from "zod";
import {
  ActionResultSchema,
  EventSchema,
  PluginInstallResultSchema,
  PluginListSchema,
  PluginRecordSchema,
  SystemInfoSchema,
  VersionedVmConfigSchema,
  VmConfigHistorySchema,
  VmListSchema,
  VmRecordSchema,
} from "../manifest/api.ts";
import { DeploymentListSchema, DeploymentRecordSchema } from "../manifest/deployment.ts";
import { ExecFrameSchema } from "../manifest/exec.ts";
import { SnapshotListSchema, SnapshotRecordSchema } from "../manifest/snapshot.ts";
import { TrustedKeyListSchema, TrustedKeySchema } from "../manifest/signing.ts";

/**
 * An event as the client accepts it: the shared schema, but any `type`
 * string, so a newer daemon's new event types do not break older clients.
 */
export const ClientEventSchema = EventSchema.extend({ type: z.string() });

/** The response schemas by name (the keys of response_schemas.json). */
export const RESPONSE_ZOD = {
  ActionResult: ActionResultSchema,
  ClientEvent: ClientEventSchema,
  DeploymentList: DeploymentListSchema,
  DeploymentRecord: DeploymentRecordSchema,
  EventPage: z.object({ items: z.array(ClientEventSchema) }),
  ExecFrame: ExecFrameSchema,
  FilesWritten: z.object({ entries: z.number(), bytes: z.number() }),
  PluginInstallResult: PluginInstallResultSchema,
  PluginList: PluginListSchema,
  PluginRecord: PluginRecordSchema,
  SnapshotList: SnapshotListSchema,
  SnapshotRecord: SnapshotRecordSchema,
  SystemInfo: SystemInfoSchema,
  TrustedKey: TrustedKeySchema,
  TrustedKeyList: TrustedKeyListSchema,
  VersionedVmConfig: VersionedVmConfigSchema,
  VmConfigHistory: VmConfigHistorySchema,
  VmList: VmListSchema,
  VmRecord: VmRecordSchema,
};

/** A response schema's name. */
export type ResponseName = keyof typeof RESPONSE_ZOD;

/** What each named response is, as the schema accepts it. */
export type ResponseTypes = { [K in ResponseName]: z.infer<(typeof RESPONSE_ZOD)[K]> };

/**
 * The JSON Schema of every response (what src/client/response_schemas.json
 * holds): zod's input view, so unknown properties pass as zod lets them pass.
 */
export function responseJsonSchemas(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(RESPONSE_ZOD)) {
    const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<
      string,
      unknown
    >;
    delete json.$schema;
    out[name] = json;
  }
  return out;
}
