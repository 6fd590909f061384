/**
 * Interface names: validation (the kernel's IFNAMSIZ limit and a safe
 * character set) and Volant's TAP naming contract `vtap<id>`.
 *
 * @module
 */
import { VolantError } from "../errors.ts";

/** Prefix of every TAP Volant creates; the sweep recognises TAPs by it. */
export const TAP_PREFIX = "vtap";

/** IFNAMSIZ is 16 including the NUL. */
export const MAX_IFNAME_BYTES = 15;

const ALLOWED = /^[A-Za-z0-9_.-]+$/;

/** Throws an invalid_input VolantError naming `field` unless `name` is a usable interface name. */
export function validateIfName(name: string, field = "name"): string {
  const problem = ifNameProblem(name);
  if (problem) {
    throw new VolantError("invalid_input", `${field}: ${problem}`, {
      problems: [{ field, message: problem }],
    });
  }
  return name;
}

function ifNameProblem(name: unknown): string | null {
  if (typeof name !== "string" || name.length === 0) return "interface name must not be empty";
  const bytes = new TextEncoder().encode(name).byteLength;
  if (bytes > MAX_IFNAME_BYTES) {
    return `interface name "${name}" is ${bytes} bytes; at most ${MAX_IFNAME_BYTES} are allowed`;
  }
  if (!ALLOWED.test(name)) {
    return `interface name "${name}" may contain only letters, digits, "_", "." and "-"`;
  }
  if (name === "." || name === "..") return `interface name "${name}" is reserved`;
  return null;
}

/** The TAP name of a VM: `vtap<id>` with the VM's numeric row id. */
export function tapName(id: number): string {
  if (!Number.isSafeInteger(id) || id < 0) {
    throw new VolantError("invalid_input", `tap id must be a non-negative integer, got ${id}`, {
      problems: [{ field: "id", message: "must be a non-negative integer" }],
    });
  }
  return validateIfName(`${TAP_PREFIX}${id}`, "tap");
}

/** True for names Volant gives its TAPs (`vtap` + digits). */
export function isVolantTap(name: string): boolean {
  return name.startsWith(TAP_PREFIX) && /^\d+$/.test(name.slice(TAP_PREFIX.length));
}
