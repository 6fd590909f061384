/**
 * Name and checksum rules shared by every schema. Pure: no Deno.* calls.
 *
 * @module
 */
import { z } from "zod";

/** DNS label (RFC 1123): 1-63 chars, lower-case letters, digits and '-', no leading/trailing '-'. */
export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A resource name: plugin, VM, deployment. Names end up in paths and interface names. */
export const NameSchema = z.string().regex(
  DNS_LABEL,
  "must be a DNS label: 1-63 lower-case letters, digits or '-', not starting or ending with '-'",
);

/** `sha256:<64 hex>` or bare 64 hex, any case. */
export const CHECKSUM = /^(sha256:)?[0-9a-fA-F]{64}$/;

export const ChecksumSchema = z.string().regex(
  CHECKSUM,
  "must be sha256:<64 hex digits> or 64 hex digits",
);

/** Lower-case hex digest from an accepted checksum form. */
export function checksumHex(checksum: string): string {
  return checksum.replace(/^sha256:/, "").toLowerCase();
}

/**
 * An artifact reference: an http(s) or file URL, an absolute path, or a path
 * relative to the manifest's own location.
 */
export const ArtifactUrlSchema = z.string().min(1, "must not be empty").refine(
  (v) => !/\s/.test(v) && (!/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(v) || /^(https?|file):/.test(v)),
  "must be an http(s):// or file:// URL, or a path (no whitespace)",
);
