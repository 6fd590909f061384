/**
 * The shared boot initramfs for rootfs-only plugins: the shim as /init,
 * busybox and its applet links, FHS dirs, /dev/console and /dev/null.
 *
 * @module
 */
import { gzipSync } from "node:zlib";
import { type CpioEntry, writeCpio } from "./cpio_entries.ts";
import { BUSYBOX } from "./options.ts";
import { run } from "./run.ts";

/** Busybox applet paths (`busybox --list-full`) to links placed where FHS expects them. */
export function busyboxLinkEntries(listFull: string): CpioEntry[] {
  const out: CpioEntry[] = [];
  for (const p of listFull.split("\n").map((l) => l.trim())) {
    if (!/^(usr\/)?s?bin\/[A-Za-z0-9._\[-]+$/.test(p) || p === "bin/busybox") continue;
    const depth = p.split("/").length - 1;
    out.push({ path: p, type: "symlink", target: "../".repeat(depth) + "bin/busybox" });
  }
  return out;
}

/** The boot initramfs members: shim as /init, busybox + links, FHS dirs, console/null nodes. */
export async function bootEntries(shim: Uint8Array): Promise<CpioEntry[]> {
  const dirs = ["bin", "dev", "etc", "lib", "mnt", "proc", "root", "run", "sbin", "sys", "tmp"]
    .concat(["usr", "usr/bin", "usr/sbin", "volant", "volant/agent"]);
  const entries: CpioEntry[] = dirs.map((d) => ({
    path: d,
    type: "dir" as const,
    mode: d === "tmp" ? 0o1777 : d === "root" ? 0o700 : 0o755,
  }));
  entries.push(
    { path: "dev/console", type: "char", major: 5, minor: 1, mode: 0o600 },
    { path: "dev/null", type: "char", major: 1, minor: 3, mode: 0o666 },
    { path: "init", type: "file", data: shim, mode: 0o755 },
    { path: "bin/busybox", type: "file", data: await Deno.readFile(BUSYBOX), mode: 0o755 },
    ...busyboxLinkEntries(await run(BUSYBOX, ["--list-full"])),
  );
  return entries;
}

/** The shared boot initramfs for rootfs-only plugins. */
export async function bootInitramfs(shim: Uint8Array): Promise<Uint8Array> {
  // zlib writes mtime 0 and no file name: the same bytes as `gzip -n`.
  return gzipSync(writeCpio(await bootEntries(shim)), { level: 9 });
}
