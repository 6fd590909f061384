/**
 * How `volar plugins show` names who signed a plugin.
 *
 * @module
 */
import type { PluginRecord } from "../manifest/api.ts";

/** `alice (key 0123456789ABCDEF), signed 2026-12-02T12:00:00.000Z` or `unsigned`. */
export function signerLine(p: PluginRecord): string {
  const s = p.signature;
  if (!s) return "unsigned";
  const when = s.signed_at ? `signed ${s.signed_at}` : "no signing time";
  return `${s.key_name} (key ${s.key_id}, ${s.algorithm}), ${when}, verified ${s.verified_at}`;
}
