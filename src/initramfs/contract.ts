/**
 * Which boot contract an initramfs expects, from its contents.
 *
 * - `volant-ts` (ours, docs/development.md "Guest boot chain"): the shim at
 *   /init, the agent image at `vda`, the network from `volant.ip`/`volant.gw`.
 *   fledge's skeleton always has the `/volant/agent` mount point.
 * - `volant` (Volant's Go fledge): the image brings its own PID 1 (`/init`,
 *   Volant's C init or the user's) and its own agent (`/bin/kestrel`) or a
 *   custom init (`/.volant_init`); the kernel configures eth0 from `ip=` and
 *   the rootfs, if any, is `vda`. No `/volant/agent` mount point.
 *
 * An image is `volant` when it has an executable `/init`, has `/bin/kestrel`
 * or `/.volant_init`, and lacks `/volant/agent`; everything else is ours.
 * gzip and uncompressed images are inspected; others (zstd, xz) are ours.
 *
 * @module
 */
import { gunzipSync } from "node:zlib";
import { readNewc } from "./newc_read.ts";

export type BootContract = "volant-ts" | "volant";

/** The decision and what it rests on (shown by `plugins show`). */
export interface ContractFinding {
  contract: BootContract;
  /** One line: the entries that decided it, or why the image was not inspected. */
  reason: string;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** Strips the leading `./` or `/` newc names may carry. */
function canonical(name: string): string {
  return "/" + name.replace(/^\.?\/+/, "");
}

/** The contract of a newc archive, plain or gzip-compressed. */
export function bootContractOf(image: Uint8Array): ContractFinding {
  let cpio = image;
  if (image[0] === 0x1f && image[1] === 0x8b) {
    cpio = new Uint8Array(gunzipSync(image));
  } else if (!startsWithNewc(image)) {
    return { contract: "volant-ts", reason: "not a gzip or plain newc archive: not inspected" };
  }
  const kinds = new Map<string, number>();
  for (const r of readNewc(cpio)) kinds.set(canonical(r.name), r.mode);
  const init = kinds.get("/init");
  const initRuns = init !== undefined &&
    (((init & S_IFMT) === S_IFREG && (init & 0o111) !== 0) || (init & S_IFMT) === S_IFLNK);
  const kestrel = kinds.has("/bin/kestrel");
  const customInit = kinds.has("/.volant_init");
  const agentMount = kinds.get("/volant/agent");
  const ours = agentMount !== undefined && (agentMount & S_IFMT) === S_IFDIR;
  if (initRuns && (kestrel || customInit) && !ours) {
    const agent = kestrel ? "/bin/kestrel" : "/.volant_init";
    return {
      contract: "volant",
      reason: `own /init and ${agent}, no /volant/agent: kernel ip=, rootfs at vda, no agent disk`,
    };
  }
  return {
    contract: "volant-ts",
    reason: ours
      ? "has /volant/agent: shim + agent image (volant.ip)"
      : "no own agent (/bin/kestrel or /.volant_init) beside /init: agent image (volant.ip)",
  };
}

function startsWithNewc(b: Uint8Array): boolean {
  return new TextDecoder().decode(b.subarray(0, 6)) === "070701";
}
