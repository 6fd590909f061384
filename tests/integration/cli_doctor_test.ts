/**
 * `volar doctor` as a user runs it (`volant volar doctor`, a real process):
 * without a daemon and with a missing kernel the right rows fail and it exits
 * 1; with a real volantd and artifacts that match their SHA256SUMS nothing
 * blocks and it exits 0; a kernel changed after its build fails again. Rows
 * are compared with what the host itself says (QEMU's --version,
 * /proc/sys/net/ipv4/ip_forward, the KVM device check), so none can be
 * hard-coded. The artifacts are small stand-in files with real checksums:
 * the doctor verifies presence and checksums, not bootability (the
 * accelerator row boots the real kernel; see src/vmm/accel). About 15 s.
 */
import assert from "node:assert/strict";
import { startDaemonProcess } from "../../src/daemon/testing/harness.ts";
import { checkKvmDevice } from "../../src/vmm/accel/kvm_device.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

interface Row {
  id: string;
  title: string;
  status: "ok" | "warn" | "fail";
  critical: boolean;
  detail: string;
  fix?: string;
}

async function doctor(configPath: string, extra: string[] = [], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "volar", "doctor", ...extra],
    env: { NO_COLOR: "1", VOLANT_CONFIG: configPath, ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function doctorJson(configPath: string, env: Record<string, string> = {}) {
  const r = await doctor(configPath, ["-o", "json"], env);
  assert.equal(r.stderr, "");
  const body = JSON.parse(r.stdout) as { ok: boolean; checks: Row[] };
  return { code: r.code, ok: body.ok, rows: new Map(body.checks.map((c) => [c.id, c])), body };
}

/** A stand-in artifact with a SHA256SUMS beside it, as the kernel and agent builds write. */
async function artifact(dir: string, name: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/${name}`, `stand-in ${name}\n`);
  const sums = await new Deno.Command("sha256sum", { args: [name], cwd: dir, stdout: "piped" })
    .output();
  await Deno.writeFile(`${dir}/SHA256SUMS`, sums.stdout, { append: true });
  return `${dir}/${name}`;
}

const ROWS = [
  "tun",
  "bridge",
  "nftables",
  "ip_forward",
  "qemu",
  "accel",
  "jail",
  "kernel",
  "agent_image",
  "boot_initramfs",
  "state_dir",
  "runtime_dir",
  "disk",
  "daemon",
  "socket",
  "vfio",
  "cloud_init_seed",
];

Deno.test("volar doctor without a daemon and without a kernel: those rows fail, exit 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-doctor-" });
  try {
    const agent = await artifact(`${dir}/agent`, "agent.img");
    const initramfs = await artifact(`${dir}/agent`, "boot.cpio.gz");
    const config = `${dir}/volantd.toml`;
    await Deno.writeTextFile(
      config,
      [
        `state_dir = "${dir}/state"`,
        `runtime_dir = "${dir}/run"`,
        `socket = "${dir}/volantd.sock"`,
        `cache_dir = "${dir}/cache"`,
        `kernel = "${dir}/kernel/vmlinux"`,
        `agent_image = "${agent}"`,
        `boot_initramfs = "${initramfs}"`,
      ].join("\n"),
    );
    const { code, ok, rows, body } = await doctorJson(config);
    assert.equal(code, 1);
    assert.equal(ok, false);
    assert.deepEqual(body.checks.map((c) => c.id), ROWS);
    for (const r of body.checks) assert.ok(r.detail.length > 0, `${r.id} has no detail`);

    assert.equal(rows.get("kernel")!.status, "fail");
    assert.equal(rows.get("kernel")!.detail, `guest kernel missing: ${dir}/kernel/vmlinux`);
    assert.match(rows.get("kernel")!.fix!, /deno task kernel/);
    assert.equal(rows.get("daemon")!.status, "fail");
    assert.match(rows.get("daemon")!.detail, /^volantd is not running \(.*socket does not exist/);
    assert.equal(rows.get("socket")!.status, "warn");
    assert.equal(rows.get("agent_image")!.status, "ok");
    assert.match(rows.get("agent_image")!.detail, /matches SHA256SUMS/);
    assert.equal(rows.get("state_dir")!.status, "ok");
    assert.match(rows.get("state_dir")!.detail, /does not exist yet; volantd creates it/);

    // Rows say what the host says.
    const qemu = await new Deno.Command("qemu-system-x86_64", {
      args: ["--version"],
      stdout: "piped",
    })
      .output();
    const version = new TextDecoder().decode(qemu.stdout).split("\n")[0].trim();
    assert.ok(rows.get("qemu")!.detail.startsWith(version), rows.get("qemu")!.detail);
    const fwd = (await Deno.readTextFile("/proc/sys/net/ipv4/ip_forward")).trim();
    assert.equal(rows.get("ip_forward")!.status, fwd === "1" ? "ok" : "warn");
    assert.match(rows.get("ip_forward")!.detail, new RegExp(`ip_forward = ${fwd}`));
    const device = checkKvmDevice("/dev/kvm");
    if (!device.ok) {
      assert.equal(rows.get("accel")!.status, "warn");
      assert.ok(rows.get("accel")!.detail.includes(device.reason), rows.get("accel")!.detail);
    }

    // The table says the same, one row per check.
    const table = await doctor(config);
    assert.equal(table.code, 1);
    for (const r of body.checks) assert.ok(table.stdout.includes(r.title), r.title);
    assert.match(table.stdout, /A check VMs need failed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("volar doctor with a running volantd and verified artifacts: nothing blocks, exit 0", async () => {
  const d = await startDaemonProcess();
  try {
    const kernel = await artifact(`${d.dir}/kernel`, "vmlinux");
    const agent = await artifact(`${d.dir}/agent`, "agent.img");
    const initramfs = await artifact(`${d.dir}/agent`, "boot.cpio.gz");
    const config = `${d.dir}/doctor.toml`;
    await Deno.writeTextFile(
      config,
      [
        `state_dir = "${d.stateDir}"`,
        `runtime_dir = "${d.dir}/run"`,
        `socket = "${d.socket}"`,
        `cache_dir = "${d.dir}/cache"`,
        `kernel = "${kernel}"`,
        `agent_image = "${agent}"`,
        `boot_initramfs = "${initramfs}"`,
      ].join("\n"),
    );
    const first = await doctorJson(config);
    const failing = first.body.checks.filter((c) => c.critical && c.status === "fail");
    assert.deepEqual(failing, [], "no critical row fails");
    assert.equal(first.code, 0);
    const daemon = first.rows.get("daemon")!;
    assert.equal(daemon.status, "ok", daemon.detail);
    const info = await (await d.fetch("/api/v1/system/info")).json();
    assert.match(
      daemon.detail,
      new RegExp(
        `^volantd ${info.version}, up \\d+ s, qemu, accel ${info.hypervisor.accel.accel}$`,
      ),
    );
    const socket = first.rows.get("socket")!;
    assert.match(socket.detail, new RegExp(`^${d.socket} 0660, owner uid ${Deno.uid()}`));
    assert.equal(first.rows.get("state_dir")!.detail.split(",")[1]?.trim(), "0700");

    // The kernel changes after its build: the doctor notices and blocks again.
    await Deno.writeTextFile(kernel, "tampered\n", { append: true });
    const second = await doctorJson(config);
    assert.equal(second.code, 1);
    assert.equal(second.rows.get("kernel")!.status, "fail");
    assert.match(second.rows.get("kernel")!.detail, /does not match SHA256SUMS/);
  } finally {
    assert.equal(await d.stop(), 0);
    await d.cleanup();
  }
});
