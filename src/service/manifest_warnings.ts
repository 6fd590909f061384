/**
 * Fields a manifest may carry only for compatibility with Volant (Go): they
 * validate, and install answers with a warning naming each, so nothing is
 * silently ignored. Fields this host cannot honour are refused at create
 * instead (host_fields.ts). Pure.
 *
 * @module
 */
import type { FieldProblem } from "../errors.ts";
import type { PluginManifest } from "../manifest/mod.ts";

/** One warning per compatibility-only field set in `m`. */
export function compatWarnings(m: PluginManifest, subnet: string): FieldProblem[] {
  const out: FieldProblem[] = [];
  const ignored = (field: string, why: string) => out.push({ field, message: why });
  const net = m.network;
  for (const key of ["subnet", "gateway", "auto_assign"] as const) {
    if (net?.[key] !== undefined) {
      ignored(
        `network.${key}`,
        `kept for Volant compatibility and ignored: VMs get addresses from volantd's subnet ${subnet}`,
      );
    }
  }
  if (m.devices?.allowlist?.length && !m.devices.pci_passthrough?.length) {
    ignored("devices.allowlist", "has no effect without devices.pci_passthrough");
  }
  return out;
}
