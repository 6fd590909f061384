/**
 * The example plugin as fledge builds it, booted for real: QEMU microvm (the
 * host's accelerator decision)
 * with the guest kernel, fledge's initramfs (shim at /init, busybox, www/) and the
 * shared agent image as vda; the manifest fledge wrote rides the cmdline. The NIC
 * is a TAP in a network namespace this test creates and deletes; the page is
 * fetched from inside that namespace at the VM's address.
 *
 * Needs `deno task kernel` (guest kernel) and `deno task agent` (shim + agent image).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { defaultShimPath } from "../../src/builder/build.ts";
import { fledge, REPO } from "../../src/builder/_testing.ts";
import { encodeManifest, parseManifest } from "../../src/manifest/mod.ts";
import { guestKernel, hostQemuAccel, requireQemu } from "../e2e/_guest_vm.ts";

const BOOT_TIMEOUT_MS = 180_000;
const HOST_IP = "10.98.0.1";
const GUEST_IP = "10.98.0.10";

async function run(cmd: string[], check = true) {
  const o = await new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  const r = { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
  if (check && o.code !== 0) throw new Error(`${cmd.join(" ")} failed (${o.code}): ${r.err}`);
  return r;
}

function requireFile(path: string, how: string): void {
  try {
    Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new Error(`${path} is missing: ${how}`);
    throw error;
  }
}

Deno.test("fledge -> boot: the example appliance serves its page from a real microVM", async () => {
  await requireQemu();
  for (const [tool, pkg] of [["ip", "iproute2"], ["curl", "curl"]]) {
    if ((await run(["sh", "-c", `command -v ${tool}`], false)).code !== 0) {
      throw new Error(`${tool} missing: apt-get install -y ${pkg}`);
    }
  }
  const kernel = await guestKernel();
  const shim = defaultShimPath();
  requireFile(shim, "run `deno task agent`");
  const agentImage = join(shim, "..", "agent.img");
  requireFile(agentImage, "run `deno task agent`");

  const dir = Deno.makeTempDirSync({ prefix: "fledge-boot-" });
  const ns = `fbt${Deno.pid}x${Math.floor(Math.random() * 1e6)}`;
  let qemu: Deno.ChildProcess | null = null;
  try {
    const b = await fledge([
      "build",
      "-c",
      join(REPO, "examples", "static-http", "fledge.toml"),
      "-o",
      join(dir, "dist"),
      "--json",
      "-q",
    ]);
    assert.equal(b.code, 0, b.stderr);
    const summary = JSON.parse(b.stdout);
    const manifest = parseManifest(JSON.parse(Deno.readTextFileSync(summary.manifest.path)));

    await run(["ip", "netns", "add", ns]);
    const ip = (...a: string[]) => run(["ip", "-n", ns, ...a]);
    await ip("link", "set", "lo", "up");
    await ip("link", "add", "br0", "type", "bridge");
    await ip("addr", "add", `${HOST_IP}/24`, "dev", "br0");
    await ip("link", "set", "br0", "up");
    await ip("tuntap", "add", "tap0", "mode", "tap");
    await ip("link", "set", "tap0", "master", "br0");
    await ip("link", "set", "tap0", "up");

    const serialLog = join(dir, "serial.log");
    const accel = await hostQemuAccel();
    const append = [
      "console=ttyS0 panic=-1 reboot=t",
      ...accel.kernelArgs,
      `volant.ip=${GUEST_IP}/24 volant.gw=${HOST_IP} volant.hostname=static-http`,
      `volant.manifest=${await encodeManifest(manifest)}`,
    ].join(" ");
    qemu = new Deno.Command("ip", {
      args: [
        ...["netns", "exec", ns, "qemu-system-x86_64"],
        ...["-M", "microvm", ...accel.qemuArgs, "-smp", "1"],
        ...["-m", `${manifest.resources.memory_mb}M`, "-no-reboot", "-nodefaults"],
        ...["-no-user-config", "-display", "none", "-monitor", "none"],
        ...["-kernel", kernel, "-initrd", summary.artifact.path, "-append", append],
        ...["-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no"],
        ...["-device", "virtio-net-device,netdev=n0"],
        ...["-drive", `id=d0,file=${agentImage},format=raw,if=none,readonly=on`],
        ...["-device", "virtio-blk-device,drive=d0"],
        ...["-chardev", `file,id=ser0,path=${serialLog}`, "-serial", "chardev:ser0"],
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();

    const deadline = performance.now() + BOOT_TIMEOUT_MS;
    let text = "";
    while (!/kestrel: ready in \d+ ms/.test(text)) {
      if (performance.now() > deadline) {
        throw new Error(`kestrel not ready after ${BOOT_TIMEOUT_MS} ms:\n${text.slice(-3000)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
      try {
        text = Deno.readTextFileSync(serialLog);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    console.log(`guest: ${/kestrel: ready in \d+ ms/.exec(text)![0]}`);
    const health = await run(
      [
        "ip",
        "netns",
        "exec",
        ns,
        "curl",
        "-s",
        "-m",
        "10",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        `http://${GUEST_IP}:8080/healthz`,
      ],
      false,
    );
    assert.equal(health.out, "200", "kestrel's API answers /healthz");
    const page = await run(
      ["ip", "netns", "exec", ns, "curl", "-s", "-m", "10", `http://${GUEST_IP}/`],
      false,
    );
    assert.equal(
      page.out,
      Deno.readTextFileSync(join(REPO, "examples", "static-http", "www", "index.html")),
    );
  } finally {
    if (qemu) {
      qemu.kill("SIGKILL");
      await qemu.status;
    }
    await run(["ip", "netns", "del", ns], false);
    Deno.removeSync(dir, { recursive: true });
  }
});
