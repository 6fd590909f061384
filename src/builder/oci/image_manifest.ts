/**
 * The JSON documents of an image (OCI image spec v1 and Docker schema 2):
 * indexes (manifest lists) resolved to one platform, manifests (config +
 * layers) and the config. Validated enough that everything used later is
 * known to be there and well formed. Pure.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import { assertDigest } from "./digest_stream.ts";

export const INDEX_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
];
export const MANIFEST_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
];

/** A content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
}

/** A platform wanted, from `--platform os/arch[/variant]`. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** linux/amd64, the only platform Volant guests run. */
export const DEFAULT_PLATFORM: Platform = { os: "linux", architecture: "amd64" };

/** Parses `os/arch[/variant]`. */
export function parsePlatform(text: string): Platform {
  const parts = text.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) {
    throw new VolantError("invalid_input", `--platform: "${text}" must be os/arch[/variant]`, {
      problems: [{ field: "platform", message: "must be os/arch[/variant]" }],
    });
  }
  return { os: parts[0], architecture: parts[1], variant: parts[2] };
}

/** `linux/amd64[/v]`. */
export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

function descriptor(d: unknown, what: string): Descriptor {
  const o = d as Partial<Descriptor> | null;
  if (typeof o !== "object" || o === null || typeof o.mediaType !== "string") {
    throw new VolantError("upstream", `${what}: malformed descriptor`);
  }
  assertDigest(o.digest, what);
  if (typeof o.size !== "number" || !Number.isSafeInteger(o.size) || o.size < 0) {
    throw new VolantError("upstream", `${what}: descriptor without a valid size`);
  }
  return o as Descriptor;
}

/** Decodes a JSON document, or one clear line. */
export function decodeJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return v;
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
  }
  throw new VolantError("upstream", `${what}: not a JSON object`);
}

/** The media type of a manifest document (its own field, else the HTTP content type). */
export function mediaTypeOf(doc: Record<string, unknown>, header = ""): string {
  if (typeof doc.mediaType === "string") return doc.mediaType;
  if (header && header !== "application/json") return header;
  // An OCI index without mediaType has `manifests`; a manifest has `layers`.
  return Array.isArray(doc.manifests) ? INDEX_TYPES[0] : MANIFEST_TYPES[0];
}

/** Picks the manifest for `want` from an index; one line listing what there is otherwise. */
export function selectPlatform(index: Record<string, unknown>, want: Platform, what: string) {
  if (!Array.isArray(index.manifests)) {
    throw new VolantError("upstream", `${what}: index without manifests`);
  }
  const all = index.manifests.map((m, i) => descriptor(m, `${what} manifests[${i}]`));
  const fit = all.filter((d) =>
    MANIFEST_TYPES.includes(d.mediaType) && d.platform?.os === want.os &&
    d.platform?.architecture === want.architecture &&
    (want.variant === undefined || d.platform?.variant === want.variant)
  );
  if (fit.length === 0) {
    const have = all.filter((d) => d.platform)
      .map((d) => formatPlatform(d.platform as Platform)).join(", ") || "none";
    throw new VolantError(
      "not_found",
      `${what}: no ${formatPlatform(want)} image in the index (platforms: ${have})`,
    );
  }
  return fit[0];
}

/** A parsed image manifest: the config and the layers, bottom first. */
export interface ImageManifest {
  config: Descriptor;
  layers: Descriptor[];
}

/** Validates an image manifest document. */
export function parseImageManifest(doc: Record<string, unknown>, what: string): ImageManifest {
  if (!Array.isArray(doc.layers)) {
    throw new VolantError("upstream", `${what}: manifest without layers`);
  }
  const config = descriptor(doc.config, `${what} config`);
  const layers = doc.layers.map((l, i) => descriptor(l, `${what} layers[${i}]`));
  for (const [i, l] of layers.entries()) {
    if (layerCompression(l.mediaType) === null) {
      throw new VolantError(
        "not_implemented",
        `${what} layers[${i}]: media type ${l.mediaType} is not a layer we can unpack`,
      );
    }
  }
  return { config, layers };
}

/** The compression a layer media type declares; null when it is not a tar layer at all. */
export function layerCompression(mediaType: string): "gzip" | "zstd" | "none" | null {
  switch (mediaType) {
    case "application/vnd.oci.image.layer.v1.tar":
    case "application/vnd.oci.image.layer.nondistributable.v1.tar":
      return "none";
    case "application/vnd.oci.image.layer.v1.tar+gzip":
    case "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip":
    case "application/vnd.docker.image.rootfs.diff.tar.gzip":
    case "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip":
      return "gzip";
    case "application/vnd.oci.image.layer.v1.tar+zstd":
      return "zstd";
    default:
      return null;
  }
}

/** The parts of an image config we use. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    ExposedPorts?: Record<string, unknown>;
    Labels?: Record<string, string> | null;
    StopSignal?: string;
  };
  rootfs?: { type?: string; diff_ids?: string[] };
}

/** Validates an image config; the diff_ids must match the layer count. */
export function parseImageConfig(
  doc: Record<string, unknown>,
  layers: number,
  what: string,
): ImageConfig {
  const c = doc as ImageConfig;
  const ids = c.rootfs?.diff_ids;
  if (!Array.isArray(ids) || ids.length !== layers) {
    throw new VolantError(
      "upstream",
      `${what}: rootfs.diff_ids lists ${
        Array.isArray(ids) ? ids.length : "no"
      } layers, the manifest ${layers}`,
    );
  }
  ids.forEach((d, i) => assertDigest(d, `${what} rootfs.diff_ids[${i}]`));
  return c;
}
