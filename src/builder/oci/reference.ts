/**
 * Image references, as `docker pull` and skopeo spell them:
 *
 * - `[registry/]repository[:tag][@sha256:<hex>]` (optionally `docker://`-prefixed):
 *   a registry over the OCI distribution API. No registry means Docker Hub
 *   (`registry-1.docker.io`, `library/` for one-component names); the first
 *   component is a registry when it holds a `.` or `:` or is `localhost`.
 * - `oci:DIR[:tag]`: an OCI image layout on disk (`index.json` + `blobs/`).
 * - `docker-archive:FILE`: a `docker save` tar.
 *
 * Pure: no I/O.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";

/** A reference to an image in a registry. */
export interface RegistryReference {
  kind: "registry";
  /** Host[:port] to talk to (Docker Hub is `registry-1.docker.io`). */
  registry: string;
  /** Repository path, e.g. `library/nginx`. */
  repository: string;
  /** Tag, when given (default `latest` when there is no digest either). */
  tag?: string;
  /** `sha256:<hex>` pin, when given. */
  digest?: string;
}

/** An OCI image layout directory. */
export interface LayoutReference {
  kind: "oci";
  dir: string;
  /** `org.opencontainers.image.ref.name` to pick; default: the only manifest. */
  tag?: string;
}

/** A `docker save` archive. */
export interface ArchiveReference {
  kind: "docker-archive";
  file: string;
}

export type ImageReference = RegistryReference | LayoutReference | ArchiveReference;

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const HOST = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;

/** Docker Hub's API host. */
export const DOCKER_HUB = "registry-1.docker.io";

function bad(field: string, ref: string, why: string): VolantError {
  return new VolantError("invalid_input", `${field}: "${ref}" ${why}`, {
    problems: [{ field, message: `"${ref}" ${why}` }],
  });
}

/** Parses `ref`; `field` names the input in errors (`source.image`, `image`). */
export function parseReference(ref: string, field = "image"): ImageReference {
  const text = ref.trim();
  if (text.startsWith("oci:")) {
    const rest = text.slice(4);
    // The tag is after the last ':' only if that part has no '/' (a path may hold ':').
    const i = rest.lastIndexOf(":");
    const tag = i > 0 && !rest.slice(i + 1).includes("/") ? rest.slice(i + 1) : undefined;
    const dir = tag === undefined ? rest : rest.slice(0, i);
    if (dir === "") throw bad(field, ref, "needs a directory: oci:DIR[:tag]");
    if (tag !== undefined && !TAG.test(tag)) throw bad(field, ref, "has a bad tag");
    return { kind: "oci", dir, tag };
  }
  if (text.startsWith("docker-archive:")) {
    const file = text.slice("docker-archive:".length);
    if (file === "") throw bad(field, ref, "needs a file: docker-archive:FILE");
    return { kind: "docker-archive", file };
  }
  let rest = text.startsWith("docker://") ? text.slice(9) : text;
  if (rest === "") throw bad(field, ref, "is empty");
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(field, ref, "has a bad digest (want sha256:<64 hex>)");
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(field, ref, "has a bad tag");
  }
  const parts = rest.split("/");
  let registry = "docker.io";
  if (parts.length > 1 && (/[.:]/.test(parts[0]) || parts[0] === "localhost")) {
    registry = parts.shift()!;
    if (!HOST.test(registry)) throw bad(field, ref, "has a bad registry host");
  }
  if (parts.length === 0 || !parts.every((p) => COMPONENT.test(p))) {
    throw bad(field, ref, "is not a valid image name (lower-case [registry/]name[:tag][@digest])");
  }
  if (registry === "docker.io" || registry === "index.docker.io") {
    registry = DOCKER_HUB;
    if (parts.length === 1) parts.unshift("library");
  }
  if (tag === undefined && digest === undefined) tag = "latest";
  return { kind: "registry", registry, repository: parts.join("/"), tag, digest };
}

/** The reference in canonical text form (`host/repo:tag@digest`, `oci:dir:tag`, ...). */
export function formatReference(r: ImageReference): string {
  if (r.kind === "oci") return `oci:${r.dir}${r.tag ? `:${r.tag}` : ""}`;
  if (r.kind === "docker-archive") return `docker-archive:${r.file}`;
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ""}${
    r.digest ? `@${r.digest}` : ""
  }`;
}
