/**
 * A guest that exhausts its memory is stopped by its VMM's cgroup, not by the
 * host: a volantd in a network namespace this test creates, jail on, with a
 * tight `vmm_memory_overhead_mb` (24 MiB: the cgroup limit is guest RAM +
 * 24 MiB, less than QEMU's own ~35 MiB under TCG, so a guest that touches
 * all its RAM pushes the VMM over). One VM of the static-http example with a
 * CGI script that fills a ramfs in the guest. Checks: the VMM ran under that
 * limit, the kernel OOM-killed it inside its cgroup, the daemon marks the VM
 * crashed with the reason, the host's other processes and the daemon are
 * untouched (same daemon pid, still answering), and the VM can be deleted.
 * With the default overhead (320 MiB) the same guest is stopped by its own
 * kernel's OOM killer instead: a guest cannot use more than its RAM, and the
 * cgroup bounds the VMM process as a whole. Takes ~1 min on an idle host.
 */
import assert from "node:assert/strict";
import { prepareHost } from "../../scripts/journey/prepare.ts";
import { Sandbox } from "../../scripts/journey/sandbox.ts";
import { REPO } from "../../scripts/_repo.ts";
import { cgroupDirs, cgroupParentFor, detectCgroups } from "../../src/vmm/cgroup.ts";
import { DEFAULT_RUNTIME_ROOT } from "../../src/vmm/runtime_dir.ts";

const OVERHEAD_MB = 24;
const GUEST_MB = 384;

interface Vm {
  name: string;
  state: string;
  health: string;
  ip: string;
  memory_mb: number;
  last_error: string | null;
}

/** The fill: a ramfs cannot be reclaimed, so every page dd writes stays backed by QEMU. */
const FILL_CGI = `#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
mkdir -p /fill && mount -t ramfs ramfs /fill || { echo "no ramfs"; exit 0; }
echo filling
dd if=/dev/zero of=/fill/f bs=1M </dev/null >/dev/null 2>&1 &
`;

async function waitFor(sb: Sandbox, name: string, want: (vm: Vm) => boolean, ms = 240_000) {
  const deadline = Date.now() + ms;
  let vm: Vm | null = null;
  while (Date.now() < deadline) {
    vm = await sb.volarJson<Vm>(["vms", "show", name]);
    if (want(vm)) return vm;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`VM ${name}: wanted state not reached, last ${JSON.stringify(vm)}`);
}

async function vmstatOomKills(): Promise<number> {
  const m = /^oom_kill (\d+)$/m.exec(await Deno.readTextFile("/proc/vmstat"));
  return m ? Number(m[1]) : 0;
}

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

Deno.test({
  name: "vmm cgroup: a guest that fills its RAM gets its VMM OOM-killed in its cgroup",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  if (Deno.uid() !== 0) throw new Error("e2e tests need root (netns, TAP, cgroups): run as root");
  const cg = await detectCgroups();
  if ("reason" in cg) throw new Error(`this test needs cgroups: ${cg.reason}`);
  const artifacts = await prepareHost();
  const sb = await Sandbox.create({
    artifacts,
    prefix: "volant-oom",
    keepSys: true,
    daemonArgs: ["--vmm-memory-overhead-mb", String(OVERHEAD_MB)],
  });
  const name = `oom${Deno.pid % 100000}`;
  const parent = cgroupParentFor(sb.runtimeDir, DEFAULT_RUNTIME_ROOT);
  try {
    await sb.startDaemon();
    // The example plugin with more RAM and the fill script.
    const src = `${sb.dir}/plugin`;
    await new Deno.Command("cp", { args: ["-r", `${REPO}/examples/static-http`, src] }).output();
    const toml = (await Deno.readTextFile(`${src}/fledge.toml`))
      .replace(/memory_mb = \d+/, `memory_mb = ${GUEST_MB}`)
      .replace(/restart = "on-failure"/, 'restart = "never"');
    await Deno.writeTextFile(`${src}/fledge.toml`, toml);
    await Deno.writeTextFile(`${src}/www/cgi-bin/fill`, FILL_CGI, { mode: 0o755 });
    const build = await sb.fledge([
      "build",
      "-c",
      `${src}/fledge.toml`,
      "-o",
      `${src}/dist`,
      "--json",
    ]);
    assert.equal(build.code, 0, build.stderr);
    const manifest = (JSON.parse(build.stdout) as { manifest: { path: string } }).manifest.path;
    const inst = await sb.volar(["plugins", "install", manifest]);
    assert.equal(inst.code, 0, inst.stderr);

    const r = await sb.volar([
      "vms",
      "create",
      name,
      "--plugin",
      "static-http",
      "--restart",
      "never",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const vm = await waitFor(sb, name, (v) => v.state === "running" && v.health === "healthy");
    assert.equal(vm.memory_mb, GUEST_MB);
    const pid = Number((await Deno.readTextFile(`${sb.runtimeDir}/${name}/pid`)).trim());
    const memory = cgroupDirs(cg, parent, name)[cg.version === 2 ? 0 : 1];
    const limitFile = cg.version === 2 ? "memory.max" : "memory.limit_in_bytes";
    const limit = Number((await Deno.readTextFile(`${memory}/${limitFile}`)).trim());
    assert.equal(limit, (GUEST_MB + OVERHEAD_MB) * 1024 * 1024);
    const usageFile = cg.version === 2 ? "memory.current" : "memory.usage_in_bytes";
    const usage = Number((await Deno.readTextFile(`${memory}/${usageFile}`)).trim());
    console.log(`VMM memory at healthy: ${(usage / 2 ** 20).toFixed(0)} MiB of ${limit / 2 ** 20}`);
    const startedAt = (await sb.volarJson<{ started_at: string }>(["info"])).started_at;
    const before = await vmstatOomKills();

    const page = await sb.fetchInNetns(`http://${vm.ip}/cgi-bin/fill`);
    assert.match(page, /filling/, `the fill started: ${page}`);

    const crashed = await waitFor(sb, name, (v) => v.state === "crashed", 180_000);
    assert.match(crashed.last_error ?? "", /cgroup memory limit/, JSON.stringify(crashed));
    assert.ok(!alive(pid), "the VMM is gone");
    assert.ok((await vmstatOomKills()) > before, "the kernel's OOM killer acted");

    // The host and the daemon are untouched: it still answers, its VMs list is sane.
    const info = await sb.volarJson<{ started_at: string; vms: { total: number } }>(["info"]);
    assert.equal(info.started_at, startedAt, "the same volantd, not restarted");
    assert.equal(info.vms.total, 1);
    const del = await sb.volar(["vms", "delete", name]);
    assert.equal(del.code, 0, del.stderr);
    for (const d of cgroupDirs(cg, parent, name)) {
      assert.ok(!(await exists(d)), `cgroup ${d} removed`);
    }
  } finally {
    await sb.close();
  }
});

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
