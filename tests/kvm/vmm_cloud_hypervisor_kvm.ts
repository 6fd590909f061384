/**
 * The KVM suite: the Cloud Hypervisor driver against the REAL Cloud Hypervisor
 * (no fake), on a host with /dev/kvm. Run by
 * .github/workflows/cloud-hypervisor.yml on GitHub's Linux runners:
 *
 *   deno test -A --no-prompt tests/kvm/vmm_cloud_hypervisor_kvm.ts
 *
 * 1. the driver conformance suite (src/vmm/conformance.ts) with our kernel
 *    and the busybox test guest, overlays and the guest-panic step included;
 * 2. snapshot -> stop -> restore into an empty VMM -> resume -> console echo;
 * 3. one end-to-end boot: volantd with `--hypervisor cloud-hypervisor` in a
 *    network namespace this test creates, a VM created through the API runs,
 *    its serial log comes through the API, and deleting it leaves no VMM.
 *
 * Prerequisites (a missing one FAILS the test saying how to get it): root,
 * usable /dev/kvm, `cloud-hypervisor` v53.0+ on PATH (or $VOLANT_CH_BINARY),
 * our kernel (`deno task kernel`), busybox-static, cpio, qemu-utils, iproute2.
 * The file name has no `_test` suffix so `deno task test` on a host without
 * KVM (the build machine) does not pick it up; the fake-VMM suites
 * (tests/integration/vmm_cloud_hypervisor_test.ts and friends) run there.
 * Takes about a minute on a 4-core runner.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { createHash } from "node:crypto";
import type { VmSpec } from "../../src/service/ports.ts";
import { CloudHypervisorDriver } from "../../src/vmm/cloud_hypervisor/driver.ts";
import { runConformance, waitForSerial } from "../../src/vmm/conformance.ts";
import { checkKvmDevice } from "../../src/vmm/accel/kvm_device.ts";
import { connectConsole } from "../../src/vmm/serial.ts";
import { resolveBinary } from "../../src/vmm/spawn.ts";
import { bootInChildProcess } from "../../src/vmm/testing/boot_detached.ts";
import {
  buildTestGuest,
  findTestKernel,
  GUEST_LINES,
} from "../../src/vmm/testing/guest_fixture.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

/** The real binary; fails saying how to install it. */
async function chBinary(): Promise<string> {
  const name = Deno.env.get("VOLANT_CH_BINARY") ?? "cloud-hypervisor";
  const bin = await resolveBinary(name);
  if (!bin) {
    throw new Error(
      `${name} not found: install cloud-hypervisor-static v53.0 from ` +
        "https://github.com/cloud-hypervisor/cloud-hypervisor/releases into /usr/local/bin " +
        "(see .github/workflows/cloud-hypervisor.yml), or set VOLANT_CH_BINARY",
    );
  }
  return bin;
}

function requireKvm(): void {
  if (Deno.uid() !== 0) throw new Error("the KVM suite needs root (TAPs, netns, /dev/kvm)");
  const kvm = checkKvmDevice("/dev/kvm");
  if (!kvm.ok) {
    throw new Error(
      `${kvm.reason}: run on a KVM host (GitHub's Linux runners have it)`,
    );
  }
}

Deno.test({
  name: "KVM: Cloud Hypervisor driver passes the conformance suite against the real VMM",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    requireKvm();
    const binary = await chBinary();
    const guest = await buildTestGuest({ kernel: await findTestKernel() });
    const root = await Deno.makeTempDir({ prefix: "volant-kvm-ch-" });
    try {
      const options = { binary, runtimeRoot: `${root}/run`, stateRoot: `${root}/state` };
      await runConformance(t, {
        label: "cloud-hypervisor (real, KVM)",
        makeDriver: () => new CloudHypervisorDriver(options),
        bootElsewhere: (spec) => bootInChildProcess({ driver: "cloud-hypervisor", options, spec }),
        runtimeRoot: options.runtimeRoot,
        stateRoot: options.stateRoot,
        guest,
        machine: "q35",
        supports: { pause: true, console: true, overlays: true },
        rebootsInPlace: true,
        lineTimeoutMs: 30_000,
      });
    } finally {
      await Deno.remove(root, { recursive: true });
      await Deno.remove(guest.dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "KVM: snapshot, stop, restore into an empty VMM, resume: the guest answers on its console",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    requireKvm();
    const binary = await chBinary();
    const guest = await buildTestGuest({ kernel: await findTestKernel() });
    const root = await Deno.makeTempDir({ prefix: "volant-kvm-chsnap-" });
    const keepAlive = setInterval(() => {}, 1000);
    try {
      const driver = new CloudHypervisorDriver({
        binary,
        runtimeRoot: `${root}/run`,
        stateRoot: `${root}/state`,
      });
      const spec: VmSpec = {
        name: "snap",
        runtimeDir: `${root}/run/snap`,
        stateDir: `${root}/state/snap`,
        kernel: guest.kernel,
        initramfs: guest.initramfs,
        disks: [],
        cpus: 1,
        memoryMb: 256,
        cmdline: guest.cmdline,
        machine: "q35",
        serialLogMaxBytes: 1 << 20,
      };
      const proc = await driver.boot(spec);
      const snapDir = `${root}/snapshots/snap`;
      try {
        await waitForSerial(proc, GUEST_LINES.ready, 30_000);
        await driver.snapshot(proc, snapDir);
        const mem = await Deno.stat(`${snapDir}/memory-ranges`);
        ok(mem.size > 0, "guest memory written");
      } finally {
        await driver.shutdown(proc, { graceMs: 20_000 });
      }
      const restored = await driver.restore(spec, snapDir);
      try {
        assertEquals((await driver.info(restored)).state, "running");
        const conn = await connectConsole(restored.serialSocket);
        try {
          for (let i = 0; i < 40; i++) {
            await conn.write(new TextEncoder().encode("after-restore\n"));
            try {
              await waitForSerial(restored, `${GUEST_LINES.echo} after-restore`, 500);
              break;
            } catch (e) {
              if (i === 39) throw e;
            }
          }
        } finally {
          conn.close();
        }
      } finally {
        await driver.shutdown(restored, { graceMs: 20_000 });
      }
      await driver.destroy(spec);
    } finally {
      clearInterval(keepAlive);
      await Deno.remove(root, { recursive: true });
      await Deno.remove(guest.dir, { recursive: true });
    }
  },
});

async function sh(cmd: string[], allowFail = false): Promise<string> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success && !allowFail) {
    throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

Deno.test({
  name: "KVM end to end: volantd --hypervisor cloud-hypervisor boots a VM through the API",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    requireKvm();
    await chBinary();
    const kernel = await findTestKernel();
    const guest = await buildTestGuest({ kernel });
    const ns = `volkvm${crypto.randomUUID().slice(0, 8)}`;
    const dir = await Deno.makeTempDir({ prefix: "volant-kvm-e2e-" });
    await sh(["ip", "netns", "add", ns]);
    let daemon: Deno.ChildProcess | undefined;
    let stderr = "";
    const client = Deno.createHttpClient({
      proxy: { transport: "unix", path: `${dir}/volantd.sock` },
    });
    const api = async (path: string, init: RequestInit = {}) => {
      const res = await fetch(`http://volantd${path}`, { ...init, client });
      const text = await res.text();
      if (!res.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${res.status} ${text}`);
      return text;
    };
    let pid: number | undefined;
    try {
      await Deno.writeTextFile(`${dir}/volantd.toml`, "");
      await Deno.mkdir(`${dir}/plugin`);
      const initramfs = await Deno.readFile(guest.initramfs);
      await Deno.writeFile(`${dir}/plugin/initramfs.cpio`, initramfs);
      await Deno.writeTextFile(
        `${dir}/plugin/manifest.json`,
        JSON.stringify({
          name: "testguest",
          version: "1",
          initramfs: {
            url: "initramfs.cpio",
            checksum: createHash("sha256").update(initramfs).digest("hex"),
          },
          resources: { cpu_cores: 1, memory_mb: 256 },
          workload: { type: "http", base_url: "http://127.0.0.1:80", entrypoint: ["/bin/true"] },
        }),
      );
      await Deno.writeFile(`${dir}/agent.img`, new Uint8Array(1024 * 1024));
      daemon = new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          ns,
          Deno.execPath(),
          "run",
          "-A",
          MAIN,
          "volantd",
          "--state-dir",
          `${dir}/state`,
          "--socket",
          `${dir}/volantd.sock`,
          "--runtime-dir",
          `${dir}/run`,
          "--cache-dir",
          `${dir}/cache`,
          "--hypervisor",
          "cloud-hypervisor",
          "--kernel",
          kernel,
          "--agent-image",
          `${dir}/agent.img`,
          "--bridge",
          "vbrkvm0",
          "--subnet",
          "10.88.0.0/24",
          "--stop-grace-seconds",
          "10",
        ],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
        env: { NO_COLOR: "1", VOLANT_CONFIG: `${dir}/volantd.toml` },
      }).spawn();
      (async () => {
        for await (const c of daemon!.stderr) stderr += new TextDecoder().decode(c);
      })();
      const deadline = Date.now() + 60_000;
      while (true) {
        try {
          await api("/healthz");
          break;
        } catch (e) {
          if (Date.now() > deadline) throw new Error(`volantd not ready: ${e}\n${stderr}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      const post = (body: unknown): RequestInit => ({
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      await api("/api/v1/plugins", post({ path: `${dir}/plugin/manifest.json` }));
      const vm = JSON.parse(await api("/api/v1/vms", post({ name: "kvm1", plugin: "testguest" })));
      assertEquals(vm.state, "running", JSON.stringify(vm));
      pid = vm.pid;
      const rec = JSON.parse(await Deno.readTextFile(`${dir}/run/kvm1/vmm.json`));
      assertEquals(rec.kind, "cloud-hypervisor");
      let log = "";
      for (let i = 0; i < 120 && !log.includes(GUEST_LINES.ready); i++) {
        log = await api("/api/v1/vms/kvm1/logs?tail=200");
        if (!log.includes(GUEST_LINES.ready)) await new Promise((r) => setTimeout(r, 250));
      }
      ok(log.includes(GUEST_LINES.ready), `serial log through the API:\n${log}`);
      const res = await fetch("http://volantd/api/v1/vms/kvm1", { method: "DELETE", client });
      await res.body?.cancel();
      assertEquals(res.status, 204);
      ok(!(await Deno.stat(`/proc/${pid}`).then(() => true, () => false)), "VMM gone after delete");
    } finally {
      if (daemon) {
        daemon.kill("SIGTERM");
        await daemon.status;
      }
      if (pid && (await Deno.stat(`/proc/${pid}`).then(() => true, () => false))) {
        Deno.kill(pid, "SIGKILL"); // only the VMM this test started
      }
      client.close();
      await sh(["ip", "netns", "del", ns], true);
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(guest.dir, { recursive: true });
    }
  },
});
