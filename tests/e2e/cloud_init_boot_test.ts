/**
 * cloud-init (NoCloud) booted for real: a rootfs holding Debian's own
 * `cloud-init` package (with its Python dependencies, unpacked from the .debs
 * with dpkg-deb and put on ext4 with mke2fs -d), a `cidata` seed written by
 * volantd's code (service/cloud_init.ts seedFiles + vmm/seed VfatSeedWriter),
 * and a QEMU guest in a network namespace this test creates and deletes.
 * kestrel switches to the rootfs, hands the seed to cloud-init (the guest
 * kernel cannot mount FAT) and runs the workload: `cloud-init init --local;
 * cloud-init init; cloud-init modules --mode=config`, then busybox httpd. From
 * the host we observe the page a `write_files` entry wrote, the hostname set
 * from the seed's meta-data (the kernel command line names another), and the
 * instance-id. The rootfs uses a short /etc/cloud/cloud.cfg (the modules the
 * test needs, network config off: kestrel owns eth0) so Python under TCG
 * stays within minutes. One boot. Takes about 2-3 min on an idle host; the
 * first run also downloads ~30 MB of .debs (cached in
 * /var/cache/volant/cloud-init-debs) and builds the image (cached).
 *
 * Needs the kernel (`deno task kernel`), qemu, qemu-img, mke2fs, dosfstools,
 * mtools, dpkg-deb and apt access to a Debian mirror.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { bootEntries, buildAgentArtifacts } from "../../scripts/agent_image.ts";
import { writeCpio } from "../../scripts/cpio_newc.ts";
import { gzipSync } from "node:zlib";
import { encodeManifest, type PluginManifest } from "../../src/manifest/mod.ts";
import { instanceId, seedFiles } from "../../src/service/cloud_init.ts";
import { VfatSeedWriter } from "../../src/vmm/seed/vfat_seed.ts";
import { NetVm, requireTools, sh, TestNetns } from "./_net_vm.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const CACHE = Deno.env.get("VOLANT_CACHE_DIR") ?? "/var/cache/volant";
const HOST = "10.97.0.1";
const GUEST = "10.97.0.10";
const BB = "/volant/agent/bin/busybox";

/** Debian packages left out of cloud-init's dependency closure: perl, locales, installer bits. */
const LEAVE_OUT = new Set(
  ("perl perl-base perl-modules-5.36 libperl5.36 usrmerge usr-is-merged locales libc-l10n " +
    "cdebconf libdebian-installer4 libnewt0.52 libslang2 install-info libfile-find-rule-perl " +
    "libnumber-compare-perl libtext-glob-perl libtextwrap1 eject isc-dhcp-client debconf dpkg " +
    "fdisk gdisk libfdisk1 init-system-helpers lsb-base sysvinit-utils tar").split(" "),
);
const EXTRA = "dash coreutils hostname base-files sed grep libacl1 libattr1 libgmp10 mount";

const CLOUD_CFG = `# Volant e2e: the modules this test needs (Debian's full list is slow under TCG).
datasource_list: [NoCloud, None]
network: {config: disabled}
preserve_hostname: false
users: []
disable_root: false
cloud_init_modules: [write_files, set_hostname, update_hostname]
cloud_config_modules: [timezone]
cloud_final_modules: []
system_info:
  distro: debian
  paths: {cloud_dir: /var/lib/cloud/, templates_dir: /etc/cloud/templates/}
`;

const USER_DATA = `#cloud-config
write_files:
  - path: /srv/index.html
    content: "written by cloud-init from the volant seed\\n"
  - path: /srv/cgi-bin/who
    permissions: "0755"
    content: |
      #!${BB} sh
      echo Content-Type: text/plain
      echo
      echo "hostname=$(${BB} hostname)"
      echo "etc_hostname=$(cat /etc/hostname)"
      echo "instance_id=$(cat /var/lib/cloud/data/instance-id)"
`;

async function packageList(): Promise<string[]> {
  const r = await sh([
    "apt-cache",
    ...["depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts"],
    ...["--no-breaks", "--no-replaces", "--no-enhances", "cloud-init"],
  ]);
  const names = r.out.split("\n").filter((l) => /^[a-z0-9]/.test(l));
  return [...new Set([...names, ...EXTRA.split(" ")])].filter((p) => !LEAVE_OUT.has(p)).sort();
}

/** The cloud-init rootfs image (built once per package list, cached). */
async function cloudInitRootfs(): Promise<string> {
  const pkgs = await packageList();
  const hash = createHash("sha256").update(`${pkgs.join(" ")}\n${CLOUD_CFG}\npyc`);
  const key = hash.digest("hex").slice(0, 16);
  const out = join(CACHE, "cloud-init-rootfs", `${key}.img`);
  try {
    await Deno.stat(out);
    return out;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const debs = join(CACHE, "cloud-init-debs");
  await Deno.mkdir(debs, { recursive: true });
  const have = new Set([...Deno.readDirSync(debs)].map((e) => e.name.split("_")[0]));
  const missing = pkgs.filter((p) => !have.has(p));
  if (missing.length > 0) {
    const r = await new Deno.Command("apt-get", { args: ["download", "-q", ...missing], cwd: debs })
      .output();
    if (!r.success) {
      throw new Error(`apt-get download failed: ${new TextDecoder().decode(r.stderr)}`);
    }
  }
  const stage = await Deno.makeTempDir({ prefix: "ci-rootfs-" });
  try {
    for (const e of Deno.readDirSync(debs)) {
      if (pkgs.includes(e.name.split("_")[0])) {
        await sh(["dpkg-deb", "-x", join(debs, e.name), stage]);
      }
    }
    await Deno.writeTextFile(join(stage, "etc/cloud/cloud.cfg"), CLOUD_CFG);
    await Deno.writeTextFile(join(stage, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    await Deno.writeTextFile(join(stage, "etc/group"), "root:x:0:\n");
    await Deno.writeTextFile(join(stage, "etc/hostname"), "debian\n");
    for (
      const d of [
        "volant/agent",
        "srv/cgi-bin",
        "var/lib/cloud",
        "proc",
        "sys",
        "dev",
        "run",
        "tmp",
      ]
    ) {
      await Deno.mkdir(join(stage, d), { recursive: true });
    }
    // What the packages' postinst (py3compile) would do: without .pyc files every
    // cloud-init stage recompiles its modules, minutes under TCG.
    await sh(["chroot", stage, "/usr/bin/python3", "-m", "compileall", "-q", "/usr/lib/python3"]);
    await sh([
      "chroot",
      stage,
      "/usr/bin/python3",
      "-m",
      "compileall",
      "-q",
      "/usr/lib/python3.11",
    ]);
    await Deno.mkdir(join(CACHE, "cloud-init-rootfs"), { recursive: true });
    const tmp = `${out}.tmp`;
    await sh(["mke2fs", "-q", "-t", "ext4", "-d", stage, "-L", "rootfs", tmp, "400M"]);
    await Deno.rename(tmp, out);
  } finally {
    await Deno.remove(stage, { recursive: true });
  }
  return out;
}

const manifest = {
  name: "ci",
  version: "1.0.0",
  rootfs: { url: "https://example.invalid/ci.img" },
  resources: { cpu_cores: 1, memory_mb: 1024 },
  workload: {
    type: "http",
    base_url: "http://127.0.0.1:80",
    entrypoint: [
      BB,
      "sh",
      "-c",
      "cloud-init init --local; echo ci-local=$?; cloud-init init; echo ci-init=$?; " +
      "cloud-init modules --mode=config; echo ci-config=$?; " +
      `exec ${BB} httpd -f -p 80 -h /srv`,
    ],
  },
} as unknown as PluginManifest;

Deno.test("cloud-init e2e: Debian's cloud-init reads the cidata seed; write_files and the hostname are seen from the host", async () => {
  await requireTools([
    ["mke2fs", "e2fsprogs"],
    ["qemu-img", "qemu-utils"],
    ["dpkg-deb", "dpkg"],
    ["mkfs.vfat", "dosfstools"],
    ["mcopy", "mtools"],
  ]);
  const agent = await buildAgentArtifacts({
    kestrel: { kind: "entry", path: join(REPO, "agent/main.ts") },
    cacheDir: CACHE,
    setCurrent: false,
    log: () => {},
  });
  const base = await cloudInitRootfs();
  const dir = await Deno.makeTempDir({ prefix: "ci-e2e-" });
  const ns = new TestNetns(`${HOST}/24`);
  let vm: NetVm | undefined;
  try {
    const overlay = join(dir, "rootfs.qcow2");
    await sh(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", overlay]);
    const initrd = join(dir, "boot.cpio.gz");
    await Deno.writeFile(
      initrd,
      gzipSync(writeCpio(await bootEntries(await Deno.readFile(agent.shim)))),
    );
    const row = { id: 7, name: "ci-seeded", created_at: new Date().toISOString() };
    const seed = join(dir, "cidata.img");
    await new VfatSeedWriter().write(seed, seedFiles({ user_data: { content: USER_DATA } }, row));
    await ns.create();
    vm = await NetVm.start(ns, dir, {
      initrd,
      mac: "02:fe:0d:4c:00:10",
      memMiB: 1024,
      disks: [
        { path: agent.agentImage, readonly: true },
        { path: overlay, format: "qcow2" },
        { path: seed, readonly: true },
      ],
      append: `volant.boot=rootfs volant.rootfs_device=vdb volant.agent_device=vda ` +
        `volant.ip=${GUEST}/24 volant.gw=${HOST} volant.hostname=from-cmdline ` +
        `volant.manifest=${await encodeManifest(manifest)}`,
    });
    const t0 = performance.now();
    await vm.waitFor(/kestrel: cloud-init: NoCloud seed from \/dev\/vdc/, 240_000);
    const done = await vm.waitFor(/ci-config=(\d+)/, 420_000);
    console.log(
      `cloud-init's three stages done ${
        Math.round((performance.now() - t0) / 1000)
      } s after the seed hand-off`,
    );
    const text = await vm.console();
    assert.match(text, /ci-local=0/);
    assert.match(text, /ci-init=0/);
    assert.equal(done[1], "0");

    let page: [number, string] = [0, ""];
    for (let i = 0; i < 60 && page[0] !== 200; i++) {
      page = await ns.get(`http://${GUEST}/`);
      if (page[0] !== 200) await new Promise((r) => setTimeout(r, 1000));
    }
    assert.deepEqual(page, [200, "written by cloud-init from the volant seed\n"]);
    const [wc, who] = await ns.get(`http://${GUEST}/cgi-bin/who`);
    assert.equal(wc, 200);
    assert.match(who, /^hostname=ci-seeded$/m);
    assert.match(who, /^etc_hostname=ci-seeded$/m);
    assert.match(who, new RegExp(`^instance_id=${instanceId(row)}$`, "m"));
  } finally {
    await vm?.kill();
    await ns.delete();
    await Deno.remove(dir, { recursive: true });
  }
});
