/**
 * Where a manifest comes from and what its artifact references may point at.
 *
 * - body: artifacts must be absolute http(s) URLs (the daemon reads no host file for it);
 * - http(s) URL: relative references resolve against it; no file references;
 * - file path / file:// URL: relative references resolve against the
 *   manifest's directory, and every local reference must stay inside that
 *   directory after resolving symlinks (no `..`, no symlink escape).
 *
 * @module
 */
import { dirname, isAbsolute, resolve, sep as SEPARATOR } from "node:path";
import { fileURLToPath } from "node:url";
import { VolantError } from "../errors.ts";
import type { InstallPluginBody } from "../manifest/api.ts";
import { checksumHex, type PluginManifest } from "../manifest/mod.ts";
import type { ArtifactSource } from "./artifact_store.ts";
import { fileProblem } from "./fs_problem.ts";
import type { GuardedResponse } from "./guarded_fetch.ts";

/** 1 MiB is far more than any manifest that fits a kernel command line. */
const MAX_MANIFEST_BYTES = 1 << 20;

export type ManifestOrigin =
  | { kind: "body" }
  | { kind: "http"; url: URL }
  | { kind: "file"; dir: string; path: string };

export interface LoadedManifest {
  raw: unknown;
  origin: ManifestOrigin;
  /** Shown in the plugin record. */
  source: string;
  /** The manifest's exact bytes (what a signature covers); absent for a body object. */
  bytes?: Uint8Array;
}

function bad(
  field: string,
  message: string,
  code: "invalid_input" | "forbidden" = "invalid_input",
) {
  return new VolantError(code, `${field}: ${message}`, { problems: [{ field, message }] });
}

function parseJson(text: string, field: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // The parser's message may quote file content; keep it out of the answer.
    throw bad(field, "is not a JSON document");
  }
}

async function readLimited(body: AsyncIterable<Uint8Array>, field: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    // Leaving the loop closes the download (the guarded body cancels on return).
    if (size > MAX_MANIFEST_BYTES) {
      throw bad(field, `manifest is larger than ${MAX_MANIFEST_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer());
}

/**
 * The daemon reads host files as root on behalf of a caller it cannot
 * identify, so it reads only files every user could read themselves: a
 * manifest or artifact without the world-read bit (an SSH key, a shadow
 * file) is refused before a byte of it is read or hashed.
 */
async function statReadable(path: string, field: string): Promise<{ real: string; size: number }> {
  let real: string;
  let info: Deno.FileInfo;
  try {
    real = await Deno.realPath(path);
    info = await Deno.stat(real);
  } catch (cause) {
    throw fileProblem(field, path, cause);
  }
  if (!info.isFile) throw bad(field, `${path} is not a regular file`);
  if (info.mode !== null && (info.mode & 0o004) === 0) {
    throw bad(
      field,
      `${path} is not world-readable; volantd reads only host files every user may read (chmod o+r)`,
      "forbidden",
    );
  }
  return { real, size: info.size };
}

async function loadFile(path: string, field: string): Promise<LoadedManifest> {
  const { real, size } = await statReadable(path, field);
  if (size > MAX_MANIFEST_BYTES) {
    throw bad(field, `manifest is larger than ${MAX_MANIFEST_BYTES} bytes`);
  }
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(real);
  } catch (cause) {
    throw fileProblem(field, path, cause);
  }
  return {
    raw: parseJson(new TextDecoder().decode(bytes), field),
    origin: { kind: "file", dir: dirname(real), path: real },
    source: path,
    bytes,
  };
}

/** How the install's downloads are made: the guarded fetch bound to a policy by the caller. */
export type ManifestFetch = (url: string, field: string) => Promise<GuardedResponse>;

/** Loads the manifest JSON named by an install body (not yet validated). */
export async function loadManifest(
  body: InstallPluginBody,
  download: ManifestFetch,
): Promise<LoadedManifest> {
  if (typeof body.manifest === "string") {
    // The manifest's exact text, so a signature over its bytes can be checked.
    return {
      raw: parseJson(body.manifest, "manifest"),
      origin: { kind: "body" },
      source: "body",
      bytes: new TextEncoder().encode(body.manifest),
    };
  }
  if (body.manifest !== undefined) {
    return { raw: body.manifest, origin: { kind: "body" }, source: "body" };
  }
  if (body.path !== undefined) {
    if (!isAbsolute(body.path)) throw bad("path", "must be an absolute path");
    return await loadFile(body.path, "path");
  }
  let url: URL;
  try {
    url = new URL(body.url!);
  } catch {
    throw bad("url", `${JSON.stringify(body.url)} is not a valid URL`);
  }
  if (url.protocol === "file:") {
    return { ...(await loadFile(fileURLToPath(url), "url")), source: url.href };
  }
  const res = await download(url.href, "url");
  const bytes = await readLimited(res.body, "url");
  return {
    raw: parseJson(new TextDecoder().decode(bytes), "url"),
    origin: { kind: "http", url: new URL(res.url) },
    source: url.href,
    bytes,
  };
}

/** One artifact the manifest references, resolved and vetted. */
export interface ArtifactRef {
  kind: "initramfs" | "rootfs" | "disk";
  name: string;
  /** Manifest field, e.g. `rootfs.url` or `disks.1.source`. */
  field: string;
  /** Manifest field of the checksum. */
  checksumField: string;
  source: ArtifactSource;
  /** Display form (resolved URL or path). */
  display: string;
  expected?: string;
  /** The manifest's declared size in bytes, if any. */
  declaredSize?: number;
}

function isInside(dir: string, path: string): boolean {
  const base = dir.endsWith(SEPARATOR) ? dir : dir + SEPARATOR;
  return path.startsWith(base);
}

/** Resolves one reference against the origin, enforcing the rules in the module doc. */
export async function resolveReference(
  ref: string,
  origin: ManifestOrigin,
  field: string,
): Promise<{ source: ArtifactSource; display: string }> {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(ref)?.[1]?.toLowerCase();
  const parse = (input: string, base?: URL) => {
    try {
      return new URL(input, base);
    } catch {
      throw bad(field, `${JSON.stringify(ref)} is not a valid URL`);
    }
  };
  if (scheme === "http" || scheme === "https") {
    const href = parse(ref).href;
    return { source: { kind: "http", url: href }, display: href };
  }
  if (origin.kind === "body") {
    throw bad(
      field,
      "a manifest sent in the request body may reference only http(s) URLs",
      "forbidden",
    );
  }
  if (origin.kind === "http") {
    if (scheme === "file" || isAbsolute(ref)) {
      throw bad(field, "a manifest fetched over http(s) cannot reference local files", "forbidden");
    }
    const url = parse(ref, origin.url);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw bad(field, "must resolve to an http(s) URL", "forbidden");
    }
    return { source: { kind: "http", url: url.href }, display: url.href };
  }
  // A manifest on disk: local references stay inside its own directory.
  let local: string;
  if (scheme === "file") {
    try {
      local = fileURLToPath(parse(ref));
    } catch (cause) {
      if (cause instanceof VolantError) throw cause;
      throw bad(field, `${JSON.stringify(ref)} is not a valid file URL`);
    }
  } else if (scheme !== undefined) throw bad(field, `unsupported URL scheme ${scheme}:`);
  else if (ref.split(/[\\/]/).includes("..")) {
    throw bad(field, "must not contain '..'", "forbidden");
  } else local = resolve(origin.dir, ref);
  let real: string;
  try {
    real = await Deno.realPath(local);
  } catch (cause) {
    throw fileProblem(field, ref, cause);
  }
  if (!isInside(origin.dir, real)) {
    throw bad(
      field,
      `${ref} resolves outside the manifest's directory ${origin.dir}; artifacts must live beside the manifest`,
      "forbidden",
    );
  }
  await statReadable(real, field);
  return { source: { kind: "file", path: real }, display: real };
}

/** Every artifact of `manifest`, resolved; refuses missing checksums unless allowed. */
export async function collectArtifacts(
  manifest: PluginManifest,
  origin: ManifestOrigin,
  allowUnverified: boolean,
): Promise<ArtifactRef[]> {
  const wanted: (Omit<ArtifactRef, "source" | "display"> & { ref: string })[] = [];
  if (manifest.initramfs) {
    wanted.push({
      kind: "initramfs",
      name: "initramfs",
      field: "initramfs.url",
      checksumField: "initramfs.checksum",
      ref: manifest.initramfs.url,
      expected: manifest.initramfs.checksum && checksumHex(manifest.initramfs.checksum),
      declaredSize: manifest.initramfs.size,
    });
  }
  if (manifest.rootfs) {
    wanted.push({
      kind: "rootfs",
      name: "rootfs",
      field: "rootfs.url",
      checksumField: "rootfs.checksum",
      ref: manifest.rootfs.url,
      expected: manifest.rootfs.checksum && checksumHex(manifest.rootfs.checksum),
      declaredSize: manifest.rootfs.size,
    });
  }
  manifest.disks?.forEach((d, i) =>
    wanted.push({
      kind: "disk",
      name: d.name,
      field: `disks.${i}.source`,
      checksumField: `disks.${i}.checksum`,
      ref: d.source,
      expected: d.checksum && checksumHex(d.checksum),
      declaredSize: d.size,
    })
  );
  const unverified = wanted.filter((w) => !w.expected && !allowUnverified);
  const problems = unverified.map((w) => ({
    field: w.checksumField,
    message: `${w.kind === "disk" ? `disk ${w.name}` : w.name} (${w.ref}) has no checksum ` +
      `(an empty "checksum" counts as none): install with --allow-unverified ` +
      `(API: "allow_unverified": true) to accept it unverified, or set ` +
      `${w.checksumField} to "sha256:<64 hex digits>"`,
  }));
  if (problems.length > 0) {
    throw new VolantError(
      "invalid_input",
      `${unverified.map((w) => w.kind === "disk" ? `disk ${w.name}` : w.name).join(", ")}: ` +
        `no checksum; install with --allow-unverified to accept unverified artifacts`,
      { problems },
    );
  }
  const out: ArtifactRef[] = [];
  for (const w of wanted) {
    const { source, display } = await resolveReference(w.ref, origin, w.field);
    out.push({ ...w, source, display });
  }
  return out;
}
