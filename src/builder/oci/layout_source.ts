/**
 * Images on disk: an OCI image layout directory (`oci:DIR[:tag]`, as
 * `skopeo copy ... oci:DIR:tag` and umoci write it) and a `docker save`
 * archive (`docker-archive:FILE`). Blobs are read in place and verified
 * against their digests as they stream; nothing is copied into the cache.
 *
 * @module
 */
import { join } from "node:path";
import { VolantError } from "../../errors.ts";
import { digestOf } from "./digest_stream.ts";
import { sniffCompression } from "./decompress.ts";
import {
  decodeJson,
  DEFAULT_PLATFORM,
  type Descriptor,
  INDEX_TYPES,
  layerCompression,
  mediaTypeOf,
  parseImageConfig,
  parseImageManifest,
  type Platform,
  selectPlatform,
} from "./image_manifest.ts";
import { type PulledImage, verifiedFile } from "./pulled_image.ts";
import type { ArchiveReference, LayoutReference } from "./reference.ts";
import { TarReader } from "../../shared/tar_reader.ts";

function readOrFail(path: string, what: string): Uint8Array {
  try {
    return Deno.readFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new VolantError("not_found", `${what}: ${path} does not exist`, { cause: error });
    }
    throw error;
  }
}

/** Reads a blob of the layout, checking its digest. */
function layoutBlob(dir: string, digest: string, what: string): Uint8Array {
  const bytes = readOrFail(join(dir, "blobs", "sha256", digest.slice(7)), what);
  const actual = digestOf(bytes);
  if (actual !== digest) {
    throw new VolantError(
      "checksum_mismatch",
      `${what}: digest mismatch: expected ${digest}, got ${actual}`,
    );
  }
  return bytes;
}

/** Resolves `ref` in an OCI layout. */
export function openLayout(
  ref: LayoutReference,
  platform: Platform = DEFAULT_PLATFORM,
): PulledImage {
  const name = `oci:${ref.dir}${ref.tag ? `:${ref.tag}` : ""}`;
  const index = decodeJson(readOrFail(join(ref.dir, "index.json"), name), `${name} index.json`);
  const all = (Array.isArray(index.manifests) ? index.manifests : []) as Descriptor[];
  const named = ref.tag === undefined
    ? all
    : all.filter((d) => d.annotations?.["org.opencontainers.image.ref.name"] === ref.tag);
  if (named.length === 0) throw new VolantError("not_found", `${name}: no such tag in the layout`);
  if (named.length > 1) {
    throw new VolantError(
      "invalid_input",
      `${name}: the layout holds ${named.length} images; name one with oci:DIR:tag`,
    );
  }
  let desc = named[0];
  let doc = decodeJson(layoutBlob(ref.dir, desc.digest, name), name);
  if (INDEX_TYPES.includes(mediaTypeOf(doc, desc.mediaType))) {
    desc = selectPlatform(doc, platform, name);
    doc = decodeJson(layoutBlob(ref.dir, desc.digest, name), name);
  }
  const manifest = parseImageManifest(doc, name);
  const configBytes = layoutBlob(ref.dir, manifest.config.digest, `${name} config`);
  const config = parseImageConfig(
    decodeJson(configBytes, `${name} config`),
    manifest.layers.length,
    `${name} config`,
  );
  const ids = config.rootfs!.diff_ids!;
  return {
    reference: name,
    digest: desc.digest,
    configDigest: manifest.config.digest,
    config,
    fetchedBytes: 0,
    layers: manifest.layers.map((l, i) => ({
      index: i,
      digest: l.digest,
      diffId: ids[i],
      compression: layerCompression(l.mediaType)!,
      size: l.size,
      open: () =>
        verifiedFile(
          join(ref.dir, "blobs", "sha256", l.digest.slice(7)),
          l.digest,
          `layer ${i + 1} ${l.digest}`,
        ),
    })),
  };
}

/** Member name -> data offset and size, from one pass over the archive. */
async function indexArchive(file: string): Promise<Map<string, { offset: number; size: number }>> {
  const members = new Map<string, { offset: number; size: number }>();
  // In the callback, reader.offset is where the member's data starts.
  const reader: TarReader = new TarReader((h) => {
    if (h.type === "file") {
      members.set(h.path.replace(/^\.\//, ""), { offset: reader.offset, size: h.size });
    }
    return null;
  });
  using f = await Deno.open(file, { read: true });
  const buf = new Uint8Array(1 << 20);
  for (let n; !reader.done && (n = await f.read(buf)) !== null;) reader.push(buf.subarray(0, n));
  return members;
}

/** Resolves a `docker save` archive (one image). */
export async function openArchive(ref: ArchiveReference): Promise<PulledImage> {
  const name = `docker-archive:${ref.file}`;
  try {
    Deno.statSync(ref.file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new VolantError("not_found", `${name}: no such file`);
    }
    throw error;
  }
  const members = await indexArchive(ref.file);
  const read = async (member: string) => {
    const m = members.get(member);
    if (!m) throw new VolantError("invalid_input", `${name}: member ${member} is missing`);
    using f = await Deno.open(ref.file, { read: true });
    await f.seek(m.offset, Deno.SeekMode.Start);
    const out = new Uint8Array(m.size);
    for (let got = 0; got < m.size;) {
      const n = await f.read(out.subarray(got));
      if (n === null) throw new VolantError("invalid_input", `${name}: ${member} is truncated`);
      got += n;
    }
    return out;
  };
  const list = JSON.parse(new TextDecoder().decode(await read("manifest.json"))) as {
    Config: string;
    Layers: string[];
  }[];
  if (!Array.isArray(list) || list.length !== 1) {
    throw new VolantError(
      "invalid_input",
      `${name}: manifest.json must describe exactly one image`,
    );
  }
  const configBytes = await read(list[0].Config);
  const configDigest = digestOf(configBytes);
  const config = parseImageConfig(
    decodeJson(configBytes, `${name} config`),
    list[0].Layers.length,
    `${name} config`,
  );
  const ids = config.rootfs!.diff_ids!;
  const layers = [];
  for (const [i, member] of list[0].Layers.entries()) {
    const m = members.get(member);
    if (!m) throw new VolantError("invalid_input", `${name}: layer ${member} is missing`);
    using f = await Deno.open(ref.file, { read: true });
    await f.seek(m.offset, Deno.SeekMode.Start);
    const head = new Uint8Array(4);
    await f.read(head);
    layers.push({
      index: i,
      diffId: ids[i],
      compression: sniffCompression(head),
      size: m.size,
      open: () => verifiedFile(ref.file, undefined, `layer ${i + 1}`, m.offset, m.size),
    });
  }
  // No manifest digest in an archive: the config digest identifies the image.
  return { reference: name, digest: configDigest, configDigest, config, fetchedBytes: 0, layers };
}
