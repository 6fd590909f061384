/**
 * The real daemon's accelerator decision and its `machine` default:
 * `--accel auto` logs the probe's verdict and shows it in GET
 * /api/v1/system/info; `--accel kvm` on a host whose KVM cannot boot the
 * guest stops the daemon at start with one line saying why and what to use;
 * `VOLANT_ACCEL=tcg` forces TCG without a probe; `--machine q35` is the
 * machine of a VM created without one. Expectations follow the host: the
 * device check (src/vmm/accel/kvm_device.ts) says whether KVM can even be
 * tried here. About 10 s.
 */
import assert from "node:assert/strict";
import { jsonBody, writePlugin } from "../../src/api/testing/fixtures.ts";
import { startDaemonProcess } from "../../src/daemon/testing/harness.ts";
import { checkKvmDevice } from "../../src/vmm/accel/kvm_device.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const device = checkKvmDevice("/dev/kvm");

Deno.test("volantd --accel auto: the probe's verdict is logged and in system info", async () => {
  const d = await startDaemonProcess();
  try {
    const info = await (await d.fetch("/api/v1/system/info")).json();
    const accel = info.hypervisor.accel;
    assert.equal(accel.mode, "auto");
    if (!device.ok) {
      assert.equal(accel.accel, "tcg");
      assert.equal(accel.reason, `kvm unusable: ${device.reason}; using tcg`);
      assert.equal(accel.probed_at, null, "no boot was tried without a KVM device");
    } else {
      assert.ok(["kvm", "tcg"].includes(accel.accel));
      assert.match(
        accel.reason,
        accel.accel === "kvm" ? /^kvm works: / : /^kvm (unusable|not tried)/,
      );
    }
    const line = d.stderr().split("\n").find((l) => l.includes(`"accelerator: ${accel.accel}"`));
    assert.ok(line, `no accelerator line in the daemon log:\n${d.stderr()}`);
    assert.equal(JSON.parse(line).reason, accel.reason);
  } finally {
    assert.equal(await d.stop(), 0);
    await d.cleanup();
  }
});

Deno.test("volantd --accel kvm fails at start, in one line, where KVM cannot boot the guest", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volantd-accel-kvm-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
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
        "--no-host-network",
        "--accel",
        "kvm",
      ],
      env: { NO_COLOR: "1", VOLANT_CONFIG: "/dev/null" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    const lines = new TextDecoder().decode(out.stderr).trim().split("\n");
    const last = lines.at(-1)!;
    if (!device.ok) {
      assert.equal(out.code, 8, lines.join("\n"));
      assert.equal(
        last,
        `volantd: accel kvm: KVM cannot boot the guest on this host (${device.reason}); ` +
          "use --accel auto to fall back to tcg, or --accel tcg",
      );
      assert.ok(!lines.some((l) => l.includes("volantd listening")), "it never listened");
    } else {
      // A KVM device is here: whether it boots the guest is the probe's call. Either the
      // daemon ran on KVM (until the 30 s signal ended it) or it stopped with the one line.
      const ran = lines.some((l) => l.includes("volantd listening"));
      assert.ok(ran || (out.code === 8 && /^volantd: accel kvm: KVM cannot boot/.test(last)), last);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("VOLANT_ACCEL=tcg forces TCG without a probe, and says so", async () => {
  const d = await startDaemonProcess({ env: { VOLANT_ACCEL: "tcg" } });
  try {
    const info = await (await d.fetch("/api/v1/system/info")).json();
    assert.deepEqual(info.hypervisor.accel, {
      mode: "tcg",
      accel: "tcg",
      reason: "tcg asked for (accel = tcg); kvm not probed",
      probed_at: null,
      probe_ms: null,
      cached: false,
    });
  } finally {
    assert.equal(await d.stop(), 0);
    await d.cleanup();
  }
});

Deno.test("volantd --machine q35: a VM created without a machine gets q35; one that names microvm keeps it", async () => {
  const d = await startDaemonProcess({ extraArgs: ["--machine", "q35"] });
  try {
    const path = await writePlugin(d.dir, "caddy");
    const installed = await d.fetch("/api/v1/plugins", jsonBody("POST", { path }));
    assert.equal(installed.status, 201, await installed.clone().text());
    await installed.body?.cancel();
    const create = async (body: Record<string, unknown>) => {
      const res = await d.fetch(
        "/api/v1/vms",
        jsonBody("POST", { plugin: "caddy", start: false, ...body }),
      );
      assert.equal(res.status, 201, await res.clone().text());
      return await res.json();
    };
    assert.equal((await create({ name: "web" })).machine, "q35");
    assert.equal((await create({ name: "api", machine: "microvm" })).machine, "microvm");
    const config = await (await d.fetch("/api/v1/vms/web/config")).json();
    assert.equal(config.config.machine, "q35");
  } finally {
    assert.equal(await d.stop(), 0);
    await d.cleanup();
  }
});
