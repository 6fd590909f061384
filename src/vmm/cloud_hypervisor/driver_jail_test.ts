/**
 * Cloud Hypervisor under the VMM jail: the spawn plan the driver makes,
 * checked against CH's documented contract (v53.0: `--net fd=` is NetConfig's
 * `fd`, as docs/macvtap-bridge.md passes a TAP; `--seccomp true` is its own
 * filter; CH re-attaches the fd with IFF_VNET_HDR, net_util/src/tap.rs
 * `from_tap_fd`). CH itself needs a working /dev/kvm, which this machine
 * lacks, so the plan is inspected rather than run; the same wrapper runs for
 * real under QEMU (tests/e2e/vmm_jail_test.ts) and in jail_root_test.ts.
 * Root only (the jail resolves a real user and setpriv). Takes < 1 s.
 */
import assert from "node:assert/strict";
import { VolantError } from "../../errors.ts";
import type { VmSpec } from "../../service/ports.ts";
import type { LaunchSpec } from "../detached_driver.ts";
import { Jail, resolveJail } from "../jail.ts";
import type { SpawnExtras } from "../spawn.ts";
import { CloudHypervisorDriver } from "./driver.ts";

const ID = 64_900 + (Deno.pid % 90);
const CH = "/usr/local/bin/cloud-hypervisor";

/** Exposes the protected spawn plan. */
class PlanDriver extends CloudHypervisorDriver {
  plan(spec: LaunchSpec): Promise<{ extras: SpawnExtras; release: () => void }> {
    return this.spawnExtras(spec);
  }
  argv(spec: VmSpec): Promise<string[]> {
    return this.buildArgv(CH, spec);
  }
}

Deno.test("CH jailed: own user, private root with /dev/kvm, cgroup-less plan, seccomp, TAP fd", async () => {
  if (Deno.uid() !== 0) throw new Error("jail tests need root: run as root");
  const tmp = await Deno.makeTempDir({ prefix: "volant-chjail-" });
  try {
    const { jail } = await resolveJail({ enabled: true, user: `${ID}:${ID}`, vmmBinary: CH });
    assert.ok(jail?.root, "this host gives VMMs their own root");
    // No cgroups here: the plan must not create real ones.
    const bare = new Jail(jail.user, ID, ID, null, jail.setpriv, jail.sh, jail.root);
    const driver = new PlanDriver({
      binary: CH,
      skipKvmCheck: true,
      runtimeRoot: `${tmp}/run`,
      stateRoot: `${tmp}/state`,
      jail: bare,
      jailStatus: bare.status([]),
    });
    const spec: VmSpec = {
      name: "web",
      runtimeDir: `${tmp}/run/web`,
      stateDir: `${tmp}/state/web`,
      kernel: `${tmp}/k`,
      initramfs: `${tmp}/i`,
      disks: [{ id: "d0", path: `${tmp}/ro.img`, format: "raw", readonly: true }],
      cpus: 2,
      memoryMb: 256,
      cmdline: "console=ttyS0",
      machine: "q35",
      net: { tap: "vtap9", mac: "02:00:00:00:00:09" },
      serialLogMaxBytes: 1 << 20,
    };
    // A vsock-mode spec: CH's vsock is userspace (vsock.sock in the runtime dir), no vhost.
    const { extras, release } = await driver.plan({ ...spec, net: undefined, vsock: { cid: 7 } });
    release();
    const w = extras.wrapper!;
    assert.match(w[0], /\/unshare$/);
    assert.deepEqual(w.slice(1, 5), ["--mount", "--propagation", "private", "--"]);
    for (
      const entry of [`ro:${CH}`, `rw:${spec.runtimeDir}`, `ro:${spec.kernel}`, "dev:/dev/kvm"]
    ) {
      assert.ok(w.includes(entry), `${entry} in the jail's root: ${w.join(" ")}`);
    }
    assert.ok(w.includes(`ro:${spec.initramfs}`) && w.includes(`ro:${tmp}/ro.img`));
    assert.ok(!w.includes("dev:/dev/vhost-vsock"), `no vhost-vsock for CH: ${w.join(" ")}`);
    const setpriv = w.indexOf(bare.setpriv);
    assert.ok(setpriv > 0, "the drop to the user comes last, inside the new root");
    const drop = w.slice(setpriv);
    for (const flag of [`--reuid=${ID}`, `--regid=${ID}`, "--nnp", "--bounding-set=-all"]) {
      assert.ok(drop.includes(flag), `${flag}: ${drop.join(" ")}`);
    }
    assert.equal(w.at(-1), "--", "CH's own argv follows the wrapper");

    const argv = await driver.argv(spec);
    assert.equal(argv[argv.indexOf("--net") + 1], "fd=3,mac=02:00:00:00:00:09");
    assert.equal(argv[argv.indexOf("--seccomp") + 1], "true");
    // Bridged too: the agent channel's vsock, its socket in the runtime dir the root binds rw.
    assert.equal(argv[argv.indexOf("--vsock") + 1], `cid=3,socket=${spec.runtimeDir}/vsock.sock`);
    assert.equal(driver.jailStatus?.mountNs, true);

    await assert.rejects(
      driver.restore(spec, `${tmp}/snap`),
      (e) => e instanceof VolantError && e.code === "unavailable" && /jail/.test(e.message),
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
