/**
 * The daemon's {@linkcode ImageConverter}: fledge's OCI builder
 * (src/builder/oci) with its caches under the state directory:
 * `<state>/oci/blobs/sha256/<hex>` (pulled blobs, resumable) and
 * `<state>/oci/rootfs/<key>.ext4` (converted images, keyed by image digest).
 * Each conversion writes its manifest and rootfs into a fresh directory under
 * `<state>/oci/out/`, which the install reads and then disposes of.
 *
 * @module
 */
import { join } from "node:path";
import { buildOciRootfs } from "../builder/oci/build.ts";
import { parseReference } from "../builder/oci/reference.ts";
import { parsePlatform } from "../builder/oci/image_manifest.ts";
import type { Logger } from "../log/mod.ts";
import type { ImageConverter, ImageConvertInput, ImageConvertResult } from "../service/ports.ts";

export class OciImageConverter implements ImageConverter {
  readonly #dir: string;
  readonly #log: Logger;

  constructor(stateDir: string, log: Logger) {
    this.#dir = join(stateDir, "oci");
    this.#log = log;
  }

  async convert(input: ImageConvertInput): Promise<ImageConvertResult> {
    const ref = parseReference(input.image, "image");
    Deno.mkdirSync(join(this.#dir, "out"), { recursive: true, mode: 0o700 });
    const outDir = Deno.makeTempDirSync({ dir: join(this.#dir, "out") });
    const dispose = () => Deno.remove(outDir, { recursive: true });
    try {
      const r = await buildOciRootfs({
        image: input.image,
        imageField: "image",
        outDir,
        cacheDir: this.#dir,
        overrides: { name: input.name, port: input.port },
        platform: input.platform ? parsePlatform(input.platform) : undefined,
        insecureRegistries: input.insecureRegistry && ref.kind === "registry" ? [ref.registry] : [],
        signal: input.signal,
        progress: (line) => this.#log.info(line, { image: input.image }),
        onBytes: input.onProgress,
      });
      return { manifestPath: r.manifest.path, digest: r.image.digest, dispose };
    } catch (error) {
      await dispose();
      throw error;
    }
  }
}
