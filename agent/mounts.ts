/**
 * Mounts kestrel makes (and undoes at poweroff), and the switch into a root
 * disk. Switch root without deleting anything: mount the disk at /mnt/root,
 * MS_MOVE the shim's /proc /sys /dev /run /tmp and the agent image mount
 * (/volant/agent) into it, then `mount --move /mnt/root /`, `chroot .`,
 * `chdir /`. The initramfs stays in memory underneath (a few MB: shim and
 * busybox); nothing is copied, so the agent keeps running from the moved
 * /volant/agent, which the workload can see too.
 *
 * @module
 */
import * as libc from "./_libc.ts";
import type { ConsoleSink } from "./console.ts";
import { VolantError } from "../src/errors.ts";
import { existsSync } from "../src/shared/fs.ts";
import { sleep } from "./timeout.ts";

export const NEW_ROOT = "/mnt/root";

/** The mounts to carry into the new root, in order (each only if it is a mount point). */
export const MOVED_MOUNTS = ["/proc", "/sys", "/dev", "/run", "/tmp", "/volant/agent"];

/** Mount points listed in a /proc/self/mountinfo text (field 5). */
export function mountPoints(mountinfo: string): Set<string> {
  const out = new Set<string>();
  for (const line of mountinfo.split("\n")) {
    const fields = line.split(" ");
    if (fields.length > 4) out.add(fields[4].replace(/\\040/g, " "));
  }
  return out;
}

/** Tracks what kestrel mounted so poweroff undoes exactly that. */
export class MountTable {
  readonly #mine: string[] = [];
  #rootDisk = false;

  mount(source: string, target: string, fstype: string, flags: number, data?: string): void {
    libc.mount(source, target, fstype, flags, data ?? null);
    this.#mine.push(target);
  }

  bind(source: string, target: string): void {
    libc.mount(source, target, null, libc.MS.BIND);
    this.#mine.push(target);
  }

  /** Switches root to `device` (see the module doc). Needs PID 1 in the initial mount namespace. */
  async switchRoot(
    device: string,
    fstype: string,
    console: ConsoleSink,
    waitMs = 5_000,
  ): Promise<void> {
    const dev = `/dev/${device}`;
    const deadline = performance.now() + waitMs;
    while (!existsSync(dev)) {
      if (performance.now() >= deadline) {
        throw new VolantError("unavailable", `rootfs: ${dev} did not appear in ${waitMs} ms`);
      }
      await sleep(10);
    }
    const points = mountPoints(Deno.readTextFileSync("/proc/self/mountinfo"));
    Deno.mkdirSync(NEW_ROOT, { recursive: true });
    libc.mount(dev, NEW_ROOT, fstype, libc.MS.RELATIME);
    for (const m of MOVED_MOUNTS) {
      if (!points.has(m)) continue;
      const target = NEW_ROOT + m;
      try {
        Deno.mkdirSync(target, { recursive: true });
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      }
      libc.mount(m, target, null, libc.MS.MOVE);
    }
    libc.chdir(NEW_ROOT);
    libc.mount(".", "/", null, libc.MS.MOVE);
    libc.chroot(".");
    libc.chdir("/");
    this.#rootDisk = true;
    console.line(`switched root to ${dev} (${fstype})`);
  }

  /** The shim already switched root to `device` (workload first): poweroff still makes it read-only. */
  rootSwitchedByShim(_device: string): void {
    this.#rootDisk = true;
  }

  /** Detaches kestrel's own mounts (newest first) and makes a root disk read-only. */
  unmountAll(console: ConsoleSink): void {
    for (const target of this.#mine.splice(0).reverse()) {
      try {
        libc.umount2(target, libc.MNT_DETACH);
      } catch (e) {
        console.line(`unmount: ${(e as Error).message}`);
      }
    }
    if (this.#rootDisk) {
      try {
        libc.mount(null, "/", null, libc.MS.REMOUNT | libc.MS.RDONLY);
      } catch (e) {
        console.line(`remount / read-only: ${(e as Error).message}`);
      }
    }
  }
}
