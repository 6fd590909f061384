/**
 * The VMM jail, checked from the host against a real QEMU boot: a volantd in
 * a network namespace this test creates (jail on, the default), one VM of the
 * static-http example. The VMM must run as the jail user with no
 * capabilities, no_new_privs and seccomp filtering (`Seccomp: 2`), inside its
 * own cgroup with the limits its resources imply; the VM must still boot to
 * healthy, serve HTTP over the TAP fd it was handed, survive a daemon restart
 * (adopted, same pid), and stop cleanly with its cgroup removed. Its visible
 * filesystem (/proc/<pid>/root, /proc/<pid>/mountinfo) must hold only its
 * runtime dir, its artifacts and what QEMU itself needs. The plugin
 * carries a `network.egress` allow-list and `isolation`: the daemon's
 * nftables tables hold the VM's rules while it runs and drop them with its
 * TAP (src/net/egress_test.ts proves the rules against real traffic).
 * Takes ~40 s on an idle host (1-2 min on a busy one).
 */
import assert from "node:assert/strict";
import { prepareHost } from "../../scripts/journey/prepare.ts";
import { Sandbox } from "../../scripts/journey/sandbox.ts";
import { cgroupDirs, cgroupParentFor, detectCgroups, limitsFor } from "../../src/vmm/cgroup.ts";
import { DEFAULT_RUNTIME_ROOT } from "../../src/vmm/runtime_dir.ts";
import { assertJailedView } from "./_jail_view.ts";

interface Vm {
  name: string;
  state: string;
  health: string;
  ip: string;
  tap: string;
  cpu_cores: number;
  memory_mb: number;
}

async function waitFor(sb: Sandbox, name: string, want: (vm: Vm) => boolean, ms = 240_000) {
  const deadline = Date.now() + ms;
  let vm: Vm | null = null;
  while (Date.now() < deadline) {
    vm = await sb.volarJson<Vm>(["vms", "show", name]);
    if (want(vm)) return vm;
    if (vm.state === "crashed") break;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`VM ${name}: wanted state not reached, last ${JSON.stringify(vm)}`);
}

const healthy = (vm: Vm) => vm.state === "running" && vm.health === "healthy";

/** `Key:\tvalue` lines of /proc/<pid>/status. */
async function procStatus(pid: number): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const line of (await Deno.readTextFile(`/proc/${pid}/status`)).split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

async function vmmPid(sb: Sandbox, name: string): Promise<number> {
  return Number((await Deno.readTextFile(`${sb.runtimeDir}/${name}/pid`)).trim());
}

/** True while `pid` runs (a zombie left to a non-reaping init counts as gone). */
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
  name: "vmm jail: QEMU runs unprivileged, seccomp-filtered, in its cgroup; boots, adopts, stops",
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  if (Deno.uid() !== 0) throw new Error("e2e tests need root (netns, TAP, cgroups): run as root");
  const cg = await detectCgroups();
  if ("reason" in cg) throw new Error(`this test needs cgroups: ${cg.reason}`);
  const artifacts = await prepareHost();
  const sb = await Sandbox.create({ artifacts, prefix: "volant-jail", keepSys: true });
  const name = `jail${Deno.pid % 100000}`;
  const parent = cgroupParentFor(sb.runtimeDir, DEFAULT_RUNTIME_ROOT);
  try {
    await sb.startDaemon();

    await t.step("system info reports the jail", async () => {
      const info = await sb.volarJson<
        {
          hypervisor: { jail: { enabled: boolean; uid: number; seccomp: boolean; cgroup: string } };
        }
      >(["info"]);
      assert.equal(info.hypervisor.jail.enabled, true, JSON.stringify(info.hypervisor));
      assert.notEqual(info.hypervisor.jail.uid, 0);
      assert.equal(info.hypervisor.jail.seccomp, true);
      assert.equal(info.hypervisor.jail.cgroup, cg.version === 2 ? "v2" : "v1");
    });

    const dist = `${sb.dir}/dist`;
    const built = await sb.buildExample();
    // The same plugin with a network policy: egress to one network and port, isolated.
    const m = JSON.parse(await Deno.readTextFile(built));
    m.network = {
      mode: "bridged",
      egress: { allow: [{ cidr: "10.99.0.0/24", ports: [80], protocol: "tcp" }] },
      isolation: true,
    };
    const manifest = `${dist}/policed.manifest.json`;
    await Deno.writeTextFile(manifest, JSON.stringify(m));
    const inst = await sb.volar(["plugins", "install", manifest]);
    assert.equal(inst.code, 0, inst.stderr);

    let vm!: Vm;
    let pid = 0;
    await t.step(
      "a jailed VM boots to healthy and serves HTTP through the passed TAP",
      async () => {
        const r = await sb.volar(["vms", "create", name, "--plugin", "static-http"]);
        assert.equal(r.code, 0, r.stderr);
        vm = await waitFor(sb, name, healthy);
        pid = await vmmPid(sb, name);
        const page = await sb.fetchInNetns(`http://${vm.ip}/`);
        assert.match(page, /static-http|<html|<h1/i);
      },
    );

    await t.step("the VMM: jail uid, no capabilities, no_new_privs, Seccomp 2", async () => {
      const st = await procStatus(pid);
      const [ruid, euid, suid] = st.Uid.split(/\s+/).map(Number);
      assert.ok(ruid !== 0 && euid === ruid && suid === ruid, `Uid: ${st.Uid}`);
      assert.ok(!st.Gid.split(/\s+/).includes("0"), `Gid: ${st.Gid}`);
      assert.equal(st.Groups, "", "no supplementary groups");
      assert.equal(st.Seccomp, "2", "QEMU's seccomp filter is on");
      assert.equal(st.NoNewPrivs, "1");
      for (const k of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]) {
        assert.equal(BigInt(`0x${st[k]}`), 0n, `${k}: ${st[k]}`);
      }
      const cmdline = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0");
      assert.ok(cmdline[0].endsWith("qemu-system-x86_64"), "the wrapper exec'd into QEMU");
      assert.ok(cmdline.some((a) => a.startsWith("tap,id=net0,fd=3")), "TAP passed as an fd");
    });

    await t.step("the VMM sits in its own cgroup with limits from the VM's resources", async () => {
      const want = limitsFor({ cpus: vm.cpu_cores, memoryMb: vm.memory_mb });
      const member = await Deno.readTextFile(`/proc/${pid}/cgroup`);
      const dirs = cgroupDirs(cg, parent, name);
      if (cg.version === 1) {
        for (const c of ["cpu", "memory", "pids"]) {
          assert.match(member, new RegExp(`:${c}(,[a-z]+)*:/${parent}/${name}\\n`), member);
        }
        const [cpu, memory, pids] = dirs;
        const read = async (p: string) => (await Deno.readTextFile(p)).trim();
        assert.equal(Number(await read(`${memory}/memory.limit_in_bytes`)), want.memoryBytes);
        assert.equal(Number(await read(`${pids}/pids.max`)), want.pids);
        assert.equal(Number(await read(`${cpu}/cpu.cfs_quota_us`)), want.cpuQuotaUs);
        const procs = (await read(`${memory}/cgroup.procs`)).split("\n").map(Number);
        assert.deepEqual(procs, [pid]);
        // The guest's memory is charged here, not to the daemon.
        assert.ok(Number(await read(`${memory}/memory.usage_in_bytes`)) > 16 * 1024 * 1024);
      } else {
        assert.match(member, new RegExp(`^0::.*/${parent}/${name}$`, "m"));
        const read = async (f: string) => (await Deno.readTextFile(`${dirs[0]}/${f}`)).trim();
        assert.equal(Number(await read("memory.max")), want.memoryBytes);
        assert.equal(Number(await read("pids.max")), want.pids);
        assert.equal(await read("cpu.max"), `${want.cpuQuotaUs} 100000`);
      }
    });

    await t.step("the manifest's egress/isolation policy is in the netns's nftables", async () => {
      const rules = (await sb.inNetns(["nft", "list", "ruleset"])).stdout;
      const chain = rules.slice(rules.indexOf(`chain vm_${vm.tap} {`));
      assert.match(chain, /ip daddr 10\.99\.0\.0\/24 tcp dport 80 accept/);
      assert.match(chain, /counter packets \d+ bytes \d+ drop/);
      assert.match(rules, new RegExp(`ip saddr ${vm.ip.replaceAll(".", "\\.")} jump vm_${vm.tap}`));
      assert.match(rules, new RegExp(`iifname "${vm.tap}" counter packets \\d+ bytes \\d+ drop`));
      assert.match(rules, new RegExp(`oifname "${vm.tap}" counter packets \\d+ bytes \\d+ drop`));
    });

    await t.step("the VMM owns its runtime dir; the state dir stays closed", async () => {
      const st = await procStatus(pid);
      const uid = Number(st.Uid.split(/\s+/)[0]);
      assert.equal((await Deno.stat(`${sb.runtimeDir}/${name}`)).uid, uid);
      // In its own root the VMM needs no traverse right on the host's 0700 state dir.
      const state = await Deno.stat(sb.stateDir);
      assert.equal(state.mode! & 0o077, 0, `state dir mode ${state.mode!.toString(8)}`);
    });

    await t.step("the VMM sees only its own files (private mount namespace)", async () => {
      // A sibling VM's runtime dir on the host, made now: the jail must not show it.
      const other = `${sb.runtimeDir}/other-vm`;
      await Deno.mkdir(other);
      await Deno.writeTextFile(`${other}/qmp.sock`, "not yours");
      try {
        await assertJailedView(pid, { name, runtimeDir: sb.runtimeDir, stateDir: sb.stateDir });
      } finally {
        await Deno.remove(other, { recursive: true });
      }
    });

    await t.step("a daemon restart adopts the jailed VMM (same pid, still healthy)", async () => {
      await sb.stopDaemon();
      assert.ok(alive(pid), "the VMM outlives the daemon");
      await sb.startDaemon();
      const again = await waitFor(sb, name, healthy);
      assert.equal(again.ip, vm.ip);
      assert.equal(await vmmPid(sb, name), pid);
      assert.equal((await procStatus(pid)).Seccomp, "2");
      // The daemon reaches the sockets the VMM made inside its own root.
      const page = await sb.fetchInNetns(`http://${again.ip}/`);
      assert.match(page, /static-http|<html|<h1/i);
      const info = await sb.volarJson<{ state: string }>(["vms", "show", name]);
      assert.equal(info.state, "running");
    });

    await t.step("stop ends the VMM and removes its cgroup", async () => {
      const r = await sb.volar(["vms", "stop", name]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await sb.volarJson<Vm>(["vms", "show", name])).state, "stopped");
      assert.ok(!alive(pid), "VMM gone");
      const deadline = Date.now() + 5_000;
      let left = cgroupDirs(cg, parent, name).filter((d) => alive0(d));
      while (left.length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        left = left.filter((d) => alive0(d));
      }
      assert.deepEqual(left, [], "cgroup dirs removed");
      const tables = (await sb.inNetns(["nft", "list", "tables"])).stdout;
      assert.ok(
        !/volant_egress|volant_l2/.test(tables),
        `policy tables go with the TAP: ${tables}`,
      );
    });
  } finally {
    await sb.close();
  }
});

/** True when `path` exists. */
function alive0(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
