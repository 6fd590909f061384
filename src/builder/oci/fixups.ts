/**
 * Rootless unpacking: what a non-root user cannot put into the tree (owners,
 * char/block devices, xattrs outside `user.*`) is recorded here per path and
 * written into the ext4 image afterwards by one `debugfs -w` script
 * (`sif uid/gid/mode/mtime`, `mknod`, `ea_set -f`). Paths removed by later
 * layers (whiteouts, opaque dirs, replacements) are dropped from the record.
 *
 * @module
 */
import { join } from "node:path";

/** A device node the tree does not hold. */
export interface DeviceRecord {
  type: "char" | "block";
  major: number;
  minor: number;
  mode: number;
  mtime: number;
}

export class Fixups {
  /** Relative path ("" = root) -> owner. */
  readonly owners = new Map<string, { uid: number; gid: number }>();
  readonly devices = new Map<string, DeviceRecord>();
  readonly xattrs = new Map<string, Map<string, Uint8Array>>();

  /** Forgets `rel` and everything under it. */
  drop(rel: string): void {
    const prefix = `${rel}/`;
    for (const m of [this.owners, this.devices, this.xattrs] as Map<string, unknown>[]) {
      for (const k of m.keys()) if (k === rel || k.startsWith(prefix)) m.delete(k);
    }
  }

  /** Recorded devices directly under `dir` that `keep` does not name. */
  devicesUnder(dir: string, keep: (rel: string) => boolean): string[] {
    const prefix = dir === "" ? "" : `${dir}/`;
    return [...this.devices.keys()].filter((k) =>
      k.startsWith(prefix) && !k.slice(prefix.length).includes("/") && !keep(k)
    );
  }

  /**
   * The debugfs script (and value files under `tmp`) that applies the record;
   * `dirTime(rel)` gives a directory's final mtime (mknod touches the parent).
   */
  script(tmp: string, dirTime: (rel: string) => number): string {
    const q = (rel: string) => `"/${rel}"`;
    const lines: string[] = [];
    for (const [rel, d] of [...this.devices].sort(([a], [b]) => a < b ? -1 : 1)) {
      // debugfs mknod takes a name in its current directory, not a path.
      const parent = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "";
      const name = rel.slice(parent === "" ? 0 : parent.length + 1);
      lines.push(`cd ${q(parent)}`);
      lines.push(`mknod "${name}" ${d.type === "char" ? "c" : "b"} ${d.major} ${d.minor}`);
      lines.push("cd /");
      const kind = d.type === "char" ? 0o020000 : 0o060000;
      lines.push(`sif ${q(rel)} mode 0${(kind | d.mode).toString(8)}`);
      lines.push(`sif ${q(rel)} mtime ${d.mtime}`);
      lines.push(`sif ${q(parent)} mtime ${dirTime(parent)}`);
    }
    for (const [rel, o] of [...this.owners].sort(([a], [b]) => a < b ? -1 : 1)) {
      lines.push(`sif ${q(rel)} uid ${o.uid}`, `sif ${q(rel)} gid ${o.gid}`);
    }
    let n = 0;
    for (const [rel, attrs] of this.xattrs) {
      for (const [name, value] of attrs) {
        const f = join(tmp, `xattr-${n++}`);
        Deno.writeFileSync(f, value);
        lines.push(`ea_set -f ${f} ${q(rel)} ${name}`);
      }
    }
    return lines.join("\n") + "\n";
  }
}
