/**
 * What a VMM launch needs of a VM: a boot has the whole spec, a restore only
 * its dirs. Its own module so the jail hooks and the detached driver can both
 * name it without importing each other.
 *
 * @module
 */
import type { VmSpec } from "../service/ports.ts";

/** What a launch needs of a VM: a boot has the whole spec, a restore only its dirs. */
export type LaunchSpec =
  & Pick<VmSpec, "name" | "runtimeDir" | "stateDir" | "serialLogMaxBytes">
  & Partial<VmSpec>;
