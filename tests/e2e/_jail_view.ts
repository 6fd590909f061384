/**
 * What a jailed VMM can see, checked from the host through /proc/<pid>/root
 * and /proc/<pid>/mountinfo: a read-only tmpfs root; mounts only at its
 * runtime dir, its kernel/initramfs/disks (read from its own command line)
 * and the system paths QEMU needs; read-write only its runtime dir and
 * writable disks; no /etc/shadow, no state database, no sibling VM's
 * runtime dir, no /sys, an empty /proc. Shared by the jail e2e suites.
 */
import assert from "node:assert/strict";

/** Paths a jailed QEMU may have bound besides its own files (what jail_root.ts documents). */
const SYSTEM = [
  "/usr/lib",
  "/usr/lib64",
  "/usr/lib32",
  "/lib",
  "/lib64",
  "/lib32",
  "/bin",
  "/sbin",
  "/usr/share/qemu",
  "/usr/share/seabios",
  "/usr/share/ipxe",
  "/usr/share/qemu-efi",
  "/usr/share/ovmf",
  "/etc/ld.so.cache",
  "/usr/bin/setpriv",
  "/usr/bin/umount",
  "/dev/null",
  "/dev/zero",
  "/dev/urandom",
  "/dev/random",
  "/dev/kvm",
];

interface MountLine {
  mountpoint: string;
  options: string[];
  fstype: string;
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
}

async function mountinfo(pid: number): Promise<MountLine[]> {
  const text = await Deno.readTextFile(`/proc/${pid}/mountinfo`);
  return text.trim().split("\n").map((l) => {
    const f = l.split(" ");
    const dash = f.indexOf("-");
    return { mountpoint: unescape(f[4]), options: f[5].split(","), fstype: f[dash + 1] };
  });
}

/** The VMM's own files, from its command line: kernel, initrd, drives (and which are writable). */
async function ownFiles(pid: number): Promise<{ ro: string[]; rw: string[] }> {
  const argv = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0");
  const ro: string[] = [];
  const rw: string[] = [];
  for (const [i, a] of argv.entries()) {
    if (a === "-kernel" || a === "-initrd") ro.push(argv[i + 1]);
    if (a === "-drive") {
      const opts = argv[i + 1].replaceAll(",,", "\0").split(",").map((o) =>
        o.replaceAll("\0", ",")
      );
      const file = opts.find((o) => o.startsWith("file="))!.slice(5);
      (opts.includes("readonly=on") ? ro : rw).push(file);
    }
  }
  return { ro, rw };
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

function list(path: string): string[] {
  return [...Deno.readDirSync(path)].map((e) => e.name).sort();
}

/** Asserts VMM `pid` of VM `name` sees only what it needs. */
export async function assertJailedView(
  pid: number,
  vm: { name: string; runtimeDir: string; stateDir: string },
): Promise<void> {
  const root = `/proc/${pid}/root`;
  const runDir = `${vm.runtimeDir}/${vm.name}`;
  const own = await ownFiles(pid);
  const binary = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0")[0];
  const mounts = await mountinfo(pid);

  const top = mounts.find((m) => m.mountpoint === "/");
  assert.ok(top, "a root mount");
  assert.equal(top.fstype, "tmpfs", "the root is the jail's own tmpfs");
  assert.ok(top.options.includes("ro"), `root mounted read-only: ${top.options}`);

  const allowed = new Set([runDir, binary, ...own.ro, ...own.rw, ...SYSTEM]);
  const writable = new Set([runDir, ...own.rw]);
  for (const m of mounts) {
    if (m.mountpoint === "/") continue;
    assert.ok(allowed.has(m.mountpoint), `unexpected mount in the jail: ${m.mountpoint}`);
    const rw = m.options.includes("rw");
    if (rw) {
      const dev = m.mountpoint.startsWith("/dev/");
      assert.ok(writable.has(m.mountpoint) || dev, `${m.mountpoint} must be read-only`);
    }
  }
  assert.ok(mounts.some((m) => m.mountpoint === runDir), "its runtime dir is there");

  // What is not there, looked up through the VMM's own root.
  for (const hidden of ["/etc/shadow", "/etc/passwd", "/root", "/sys", "/home", "/var/lib"]) {
    assert.ok(!exists(`${root}${hidden}`), `${hidden} visible to the VMM`);
  }
  assert.ok(!exists(`${root}${vm.stateDir}/volant.db`), "the state database is hidden");
  assert.deepEqual(list(`${root}${vm.runtimeDir}`), [vm.name], "no other VM's runtime dir");
  assert.deepEqual(list(`${root}/etc`), ["ld.so.cache"]);
  assert.deepEqual(list(`${root}/proc`), [], "no procfs");
  for (const d of list(`${root}/dev`)) {
    assert.ok(["null", "zero", "urandom", "random", "kvm"].includes(d), `/dev/${d} visible`);
  }
  const bins = list(`${root}/usr/bin`);
  assert.ok(bins.length <= 3, `only QEMU, setpriv, umount in /usr/bin: ${bins}`);
  // And the host side holds what the jail hides, so the checks above mean something.
  assert.ok(exists("/etc/shadow") && exists(`${vm.stateDir}/volant.db`));
}
