/**
 * The CONTRACT FAKE of Cloud Hypervisor (src/vmm/testing/fake_cloud_hypervisor.ts)
 * shows the upstream behaviours the driver must cope with, each mirrored from
 * the upstream line its comments name: the API answers before the VM exists,
 * a boot failure comes after that, `backing_files` is lost without
 * `image_type`, the serial socket has one client and replays, and a SIGKILL
 * leaves the sockets behind. The fake is run directly here (no driver), as a
 * real process on real unix sockets. Cloud Hypervisor itself needs /dev/kvm
 * (tests/kvm/ runs it in CI).
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { ChApiClient } from "../../src/vmm/cloud_hypervisor/api_client.ts";
import { parseChEvents } from "../../src/vmm/cloud_hypervisor/event_monitor.ts";
import { writeFakeChBinary } from "../../src/vmm/testing/fake_cloud_hypervisor.ts";
import { buildTestGuest, GUEST_LINES, makeRawImage } from "../../src/vmm/testing/guest_fixture.ts";

interface Fake {
  child: Deno.ChildProcess;
  api: ChApiClient;
  dir: string;
  output(): Promise<string>;
}

const KERNEL = "/bin/busybox"; // the fake only checks for an ELF

/** SIGKILL unless it already exited (kill then throws TypeError); waits for the status. */
async function killIfRunning(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
  }
  await child.status;
}

async function withFake(
  args: (dir: string) => string[],
  fn: (f: Fake) => Promise<void>,
  env: Record<string, string> = {},
  prepare: (dir: string) => Promise<void> = async () => {},
) {
  const dir = await Deno.makeTempDir({ prefix: "volant-chfake-" });
  const guest = await buildTestGuest({ kernel: KERNEL });
  await prepare(dir);
  const bin = await writeFakeChBinary(dir);
  const child = new Deno.Command(bin, {
    args: args(dir).map((a) => a.replaceAll("@INITRAMFS@", guest.initramfs)),
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
  let out = "";
  const collect = (async () => {
    const dec = new TextDecoder();
    await Promise.all([child.stdout, child.stderr].map(async (s) => {
      for await (const c of s) out += dec.decode(c);
    }));
  })();
  const f: Fake = {
    child,
    api: new ChApiClient(`${dir}/api.sock`),
    dir,
    output: async () => {
      await collect;
      return out;
    },
  };
  try {
    await fn(f);
  } finally {
    await killIfRunning(child);
    await collect;
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(guest.dir, { recursive: true });
  }
}

const base = (dir: string, extra: string[] = [], cmdline = "console=ttyS0") => [
  "--api-socket",
  `path=${dir}/api.sock`,
  "--event-monitor",
  `path=${dir}/events.json`,
  "--cpus",
  "boot=1",
  "--memory",
  "size=128M",
  "--kernel",
  KERNEL,
  "--initramfs",
  "@INITRAMFS@",
  ...extra,
  "--serial",
  `socket=${dir}/serial.sock`,
  "--console",
  "off",
  "--cmdline",
  cmdline,
];

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function events(dir: string): Promise<string[]> {
  const text = await Deno.readTextFile(`${dir}/events.json`);
  return parseChEvents(text).events.map((e) => `${e.source} ${e.event}`);
}

Deno.test("CH fake: vmm.ping answers before the VM exists (vm.info 404), Running comes later", async () => {
  await withFake((dir) => base(dir), async (f) => {
    await until("ping", () => f.api.ping());
    const early = await f.api.vmInfo().then(() => 200, (e) => e.details?.status);
    assertEquals(early, 404, "no VM yet while the API already answers");
    await until("Running", async () => (await f.api.vmInfo()).state === "Running" || undefined);
  }, { VOLANT_FAKE_CH_CREATE_DELAY_MS: "1500" });
});

Deno.test("CH fake: a garbage kernel fails after the API answered: exit 1", async () => {
  await withFake(
    (dir) => base(dir).map((a) => a === KERNEL ? `${dir}/cloud-hypervisor` : a),
    async (f) => {
      await until("ping", () => f.api.ping());
      const status = await f.child.status;
      assertEquals(status.code, 1);
      ok(/InvalidElfMagicNumber/.test(await f.output()));
    },
    { VOLANT_FAKE_CH_CREATE_DELAY_MS: "500" },
  );
});

async function overlay(dir: string): Promise<void> {
  await makeRawImage(`${dir}/base.img`);
  const out = await new Deno.Command("qemu-img", {
    args: ["create", "-q", "-f", "qcow2", "-F", "raw", "-b", `${dir}/base.img`, `${dir}/ov.qcow2`],
  }).output().catch(() => {
    throw new Error("qemu-img missing: apt-get install -y qemu-utils");
  });
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

Deno.test("CH fake: without image_type a qcow2 overlay loses backing_files: the guest's reboot fails", async () => {
  await withFake(
    (dir) =>
      base(
        dir,
        ["--disk", `path=${dir}/ov.qcow2,readonly=off,backing_files=on`],
        "volant_test=panic",
      ),
    async (f) => {
      const status = await f.child.status;
      assertEquals(status.code, 1);
      const out = await f.output();
      ok(/BackingFilesDisabled/.test(out), out);
      // The first boot worked; the reboot (the persisted config) could not open the disk.
      const ev = await events(f.dir);
      ok(
        ev.includes("vm booted") && ev.includes("vm rebooting") && !ev.includes("vm rebooted"),
        ev.join(),
      );
    },
    {},
    overlay,
  );
});

Deno.test("CH fake: with image_type=qcow2 the overlay keeps its backing file across reboots (a reboot loop)", async () => {
  await withFake(
    (dir) =>
      base(
        dir,
        ["--disk", `path=${dir}/ov.qcow2,readonly=off,image_type=qcow2,backing_files=on`],
        "volant_test=panic",
      ),
    async (f) => {
      await until("two reboots", async () => {
        return (await events(f.dir)).filter((e) => e === "vm rebooted").length >= 2 || undefined;
      });
      assertEquals((await f.api.vmInfo()).state, "Running"); // still alive: it loops
    },
    {},
    overlay,
  );
});

async function readUntil(conn: Deno.Conn, needle: string, ms = 5000): Promise<string> {
  let text = "";
  const buf = new Uint8Array(4096);
  const end = Date.now() + ms;
  while (!text.includes(needle)) {
    if (Date.now() > end) throw new Error(`no ${needle} in ${JSON.stringify(text)}`);
    const n = await conn.read(buf);
    if (n === null) throw new Error(`EOF before ${needle}: ${JSON.stringify(text)}`);
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text;
}

Deno.test("CH fake: one serial client at a time; output printed while none listened is replayed", async () => {
  await withFake((dir) => base(dir), async (f) => {
    await until("Running", async () => (await f.api.vmInfo()).state === "Running" || undefined);
    await new Promise((r) => setTimeout(r, 300)); // the guest printed with nobody connected
    const a = await Deno.connect({ transport: "unix", path: `${f.dir}/serial.sock` });
    ok((await readUntil(a, GUEST_LINES.disks)).includes(GUEST_LINES.ready), "replayed");
    const b = await Deno.connect({ transport: "unix", path: `${f.dir}/serial.sock` });
    // The newer client takes over: the older one is shut down.
    const buf = new Uint8Array(64);
    assertEquals(await a.read(buf).catch(() => null), null);
    await b.write(new TextEncoder().encode("hi\n"));
    await readUntil(b, `${GUEST_LINES.echo} hi`);
    a.close();
    b.close();
  });
});

Deno.test("CH fake: SIGKILL leaves api, serial and vsock sockets behind; a clean exit removes them", async () => {
  const sockets = ["api.sock", "serial.sock", "vsock.sock"];
  const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);
  for (const how of ["SIGKILL", "vmm.shutdown"] as const) {
    await withFake(
      (dir) => base(dir, ["--vsock", `cid=3,socket=${dir}/vsock.sock`]),
      async (f) => {
        await until("Running", async () => (await f.api.vmInfo()).state === "Running" || undefined);
        if (how === "SIGKILL") f.child.kill("SIGKILL");
        else await f.api.shutdownVmm();
        await f.child.status;
        for (const s of sockets) {
          assertEquals(await exists(`${f.dir}/${s}`), how === "SIGKILL", `${s} after ${how}`);
        }
      },
    );
  }
});

Deno.test("CH fake: a stale vsock socket fails the boot (Cannot create virtio-vsock backend)", async () => {
  await withFake(
    (dir) => base(dir, ["--vsock", `cid=3,socket=${dir}/vsock.sock`]),
    async (f) => {
      assertEquals((await f.child.status).code, 1);
      ok(/Cannot create virtio-vsock backend/.test(await f.output()));
    },
    {},
    async (dir) => {
      const l = Deno.listen({ transport: "unix", path: `${dir}/vsock.sock` });
      // Closing a Deno listener unlinks its file: recreate a stale one the way a crash leaves it.
      l.close();
      await Deno.writeTextFile(`${dir}/vsock.sock`, "");
    },
  );
});

Deno.test("CH fake: a single-value flag given twice is a usage error (exit 2), as clap does", async () => {
  await withFake((dir) => [...base(dir), "--cpus", "boot=2"], async (f) => {
    assertEquals((await f.child.status).code, 2);
    ok(/cannot be used multiple times/.test(await f.output()));
  });
});
