/**
 * The fixed part of every appliance: the FHS directories (all 0755, /tmp 1777,
 * /root 0700), /dev/console and /dev/null as cpio entries (never mknod on the
 * host: the build is rootless), minimal /etc/passwd and /etc/group so user
 * lookups work, and the /volant/agent mount point the shim uses for the agent image.
 *
 * @module
 */
import { DIR_MODE } from "./modes.ts";
import type { ImageTree } from "./tree.ts";

const DIRS = [
  "/bin",
  "/dev",
  "/etc",
  "/lib",
  "/mnt",
  "/proc",
  "/run",
  "/sbin",
  "/sys",
  "/usr",
  "/usr/bin",
  "/usr/lib",
  "/usr/sbin",
  "/var",
  "/var/log",
  "/volant",
  "/volant/agent",
];

const PASSWD =
  "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP = "root:x:0:\nnogroup:x:65534:\n";

/** Adds the skeleton to `tree`. */
export function addSkeleton(tree: ImageTree): void {
  const origin = "skeleton";
  for (const d of DIRS) tree.mkdirp(d, origin, DIR_MODE);
  tree.mkdirp("/tmp", origin, 0o1777);
  tree.mkdirp("/root", origin, 0o700);
  tree.put("/dev/console", { type: "char", mode: 0o600, major: 5, minor: 1, origin });
  tree.put("/dev/null", { type: "char", mode: 0o666, major: 1, minor: 3, origin });
  const enc = new TextEncoder();
  tree.put("/etc/passwd", { type: "file", mode: 0o644, data: enc.encode(PASSWD), origin });
  tree.put("/etc/group", { type: "file", mode: 0o644, data: enc.encode(GROUP), origin });
}
