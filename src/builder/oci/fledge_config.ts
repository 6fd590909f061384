/**
 * `fledge build` / `fledge validate` for `strategy = "oci_rootfs"`: fledge.toml
 * -> {@linkcode buildOciRootfs} options. Relative `oci:DIR` and
 * `docker-archive:FILE` paths resolve against the config file's directory.
 *
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { VolantError } from "../../errors.ts";
import { type FledgeOciConfig, parseFledgeOciConfig } from "../../manifest/fledge_oci.ts";
import { decodeToml } from "../config.ts";
import { buildOciRootfs, type OciBuildOptions, type OciBuildResult } from "./build.ts";
import type { FsType } from "./fs_image.ts";
import { parsePlatform } from "./image_manifest.ts";
import type { ManifestOverrides } from "./image_to_manifest.ts";

/** The `strategy` of a fledge.toml, read before picking the schema (undefined if absent). */
export function strategyOf(file: string): unknown {
  let text: string;
  try {
    text = Deno.readTextFileSync(resolve(file));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined; // the loader words this
    throw error;
  }
  const doc = decodeToml(text) as Record<string, unknown>;
  return doc?.strategy;
}

/** Reads and validates an oci_rootfs fledge.toml. */
export function loadOciConfig(file: string): { oci: FledgeOciConfig; path: string; dir: string } {
  const path = resolve(file);
  const oci = parseFledgeOciConfig(decodeToml(Deno.readTextFileSync(path)));
  for (const key of ["dockerfile", "context", "target", "build_args"] as const) {
    if (oci.source[key] !== undefined) {
      throw new VolantError(
        "not_implemented",
        `source.${key}: building an image from a Dockerfile is not implemented; build and push it, then set source.image`,
        {
          problems: [{ field: `source.${key}`, message: "Dockerfile builds are not implemented" }],
        },
      );
    }
  }
  const t = oci.filesystem?.type;
  if (t !== undefined && t !== "ext4" && t !== "erofs") {
    throw new VolantError(
      "not_implemented",
      `filesystem.type: "${t}" is not built; use "ext4" or "erofs"`,
      {
        problems: [{
          field: "filesystem.type",
          message: `"${t}" is not built; use "ext4" or "erofs"`,
        }],
      },
    );
  }
  return { oci, path, dir: resolve(path, "..") };
}

/** `oci:DIR` / `docker-archive:FILE` relative to the config's directory. */
export function resolveImagePath(image: string, dir: string): string {
  for (const prefix of ["oci:", "docker-archive:"]) {
    if (image.startsWith(prefix)) {
      const rest = image.slice(prefix.length);
      return isAbsolute(rest) ? image : `${prefix}${resolve(dir, rest)}`;
    }
  }
  return image;
}

/** The manifest overrides a config carries. */
export function overridesOf(c: FledgeOciConfig): ManifestOverrides {
  const w = c.workload;
  return {
    name: c.plugin?.name,
    version: c.plugin?.version,
    runtime: c.plugin?.runtime,
    resources: c.resources,
    workload: w === undefined ? undefined : {
      entrypoint: w.entrypoint,
      base_url: w.base_url,
      env: w.env,
      workdir: w.workdir,
      user: w.user,
      restart: w.restart,
    },
    health_check: c.health_check,
    actions: c.actions,
    labels: c.labels,
  };
}

/** CLI options that are not in the file. */
export type OciCliOptions = Omit<OciBuildOptions, "image" | "overrides" | "filesystem" | "outDir">;

/** Builds the oci_rootfs plugin described by `configFile`. */
export async function buildOciFromConfig(
  configFile: string,
  outDir: string,
  cli: OciCliOptions,
): Promise<OciBuildResult> {
  const { oci, dir } = loadOciConfig(configFile);
  return await buildOciRootfs({
    ...cli,
    platform: cli.platform ??
      (oci.source.platform ? parsePlatform(oci.source.platform) : undefined),
    image: resolveImagePath(oci.source.image, dir),
    outDir,
    overrides: overridesOf(oci),
    mappings: oci.mappings === undefined ? undefined : { mappings: oci.mappings, configDir: dir },
    filesystem: {
      type: oci.filesystem?.type as FsType | undefined,
      size_buffer_mb: oci.filesystem?.size_buffer_mb,
      preallocate: oci.filesystem?.preallocate,
    },
  });
}
