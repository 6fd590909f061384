/**
 * Hands a cloud-init `cidata` seed disk to the guest's cloud-init as a NoCloud
 * seed directory (`/var/lib/cloud/seed/nocloud/`, which NoCloud reads before
 * looking for disks). Needed because Volant's guest kernel carries no FAT
 * driver, so cloud-init cannot mount the disk itself; on a kernel that can,
 * both paths give the same documents. Only when the guest has cloud-init
 * (`/etc/cloud` exists), and only a FAT disk labelled CIDATA.
 *
 * @module
 */
import { fatLabel, readFatRoot } from "./fat_read.ts";

const DOCS = ["user-data", "meta-data", "network-config", "vendor-data"];
/** Seeds are small (volantd caps each document at 256 KiB). */
const MAX_SEED_BYTES = 16 << 20;

export interface SeedHandOffOptions {
  /** The guest's root (default `/`). */
  root?: string;
  /** Default `/sys/block`. */
  sysBlock?: string;
  /** Default `/dev`. */
  dev?: string;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Copies the seed's documents; returns the device it came from, or null when there is none. */
export function handOffSeed(o: SeedHandOffOptions = {}): string | null {
  const root = o.root ?? "/";
  if (!exists(`${root}/etc/cloud`)) return null;
  const sysBlock = o.sysBlock ?? "/sys/block";
  const disks = [...Deno.readDirSync(sysBlock)].map((e) => e.name).filter((n) =>
    /^vd[a-z]+$/.test(n)
  )
    .sort();
  for (const disk of disks) {
    const sectors = Number(Deno.readTextFileSync(`${sysBlock}/${disk}/size`).trim());
    if (!(sectors > 0) || sectors * 512 > MAX_SEED_BYTES) continue;
    const dev = `${o.dev ?? "/dev"}/${disk}`;
    const file = Deno.openSync(dev, { read: true });
    let head: Uint8Array;
    try {
      head = new Uint8Array(512);
      if (file.readSync(head) !== 512) continue;
    } finally {
      file.close();
    }
    if (fatLabel(head)?.toUpperCase() !== "CIDATA") continue;
    const vol = readFatRoot(Deno.readFileSync(dev));
    const dir = `${root}/var/lib/cloud/seed/nocloud`;
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const [name, bytes] of vol.files) {
      if (DOCS.includes(name)) Deno.writeFileSync(`${dir}/${name}`, bytes, { mode: 0o600 });
    }
    return disk;
  }
  return null;
}
