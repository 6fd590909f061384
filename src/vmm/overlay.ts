/**
 * Per-VM copy-on-write overlays: a qcow2 file in the VM's state dir backed by
 * the shared read-only image, so nothing is copied per VM and the disk keeps
 * its contents across stop/start.
 *
 * @module
 */
import { VolantError } from "../errors.ts";

async function run(args: string[]): Promise<string> {
  const out = await new Deno.Command("qemu-img", { args, stdout: "piped", stderr: "piped" })
    .output()
    .catch((e) => {
      if (e instanceof Deno.errors.NotFound) {
        throw new VolantError(
          "unavailable",
          "qemu-img not found: apt-get install qemu-utils (or qemu-system-x86)",
        );
      }
      throw e;
    });
  if (!out.success) {
    throw new VolantError(
      "upstream",
      `qemu-img ${args[0]} failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/** `qemu-img info` facts we use. */
export interface ImageInfo {
  format: string;
  backingFilename?: string;
  virtualSize: number;
}

/** Reads an image's format and backing file. */
export async function imageInfo(path: string): Promise<ImageInfo> {
  const j = JSON.parse(await run(["info", "--output=json", "-U", path]));
  return {
    format: j.format,
    backingFilename: j["full-backing-filename"] ?? j["backing-filename"],
    virtualSize: j["virtual-size"],
  };
}

/**
 * Creates `overlay` backed by `backing` unless it already exists with that
 * backing (idempotent). Returns true when it created the file.
 */
export async function ensureOverlay(overlay: string, backing: string): Promise<boolean> {
  try {
    const have = await imageInfo(overlay);
    const want = await Deno.realPath(backing);
    const got = have.backingFilename ? await Deno.realPath(have.backingFilename) : undefined;
    if (have.format !== "qcow2" || got !== want) {
      throw new VolantError(
        "conflict",
        `overlay ${overlay} exists with backing ${have.backingFilename ?? "none"}, not ${backing}`,
      );
    }
    return false;
  } catch (e) {
    if (!(e instanceof VolantError && e.code === "upstream")) throw e;
    // qemu-img info failed: the overlay does not exist yet (checked below).
  }
  try {
    await Deno.lstat(overlay);
    throw new VolantError("conflict", `${overlay} exists and is not a readable qcow2 image`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const backingFormat = (await imageInfo(backing)).format === "qcow2" ? "qcow2" : "raw";
  await run(["create", "-q", "-f", "qcow2", "-F", backingFormat, "-b", backing, overlay]);
  return true;
}
