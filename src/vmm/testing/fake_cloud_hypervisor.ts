/**
 * CONTRACT FAKE of the `cloud-hypervisor` process, for the conformance suite.
 * Cloud Hypervisor cannot run here (no /dev/kvm, not packaged). This program
 * accepts exactly the documented flags our driver passes (and rejects others,
 * as CH does), serves the REST API contract fake (../cloud_hypervisor/fake_api.ts)
 * on --api-socket, listens on --serial socket=, and plays the test guest: it
 * prints the same lines as the QEMU test guest, powers off on vm.power-button
 * and on `volant_test=poweroff`, and refuses a kernel that is neither an ELF
 * vmlinux nor a bzImage. It proves the driver's contract, not CH itself.
 *
 * @module
 */
import { FakeChApi, serveFakeChApi } from "../cloud_hypervisor/fake_api.ts";
import { GUEST_LINES } from "./guest_fixture.ts";

/** Writes an executable `cloud-hypervisor` wrapper that runs this fake; returns its path. */
export async function writeFakeChBinary(dir: string): Promise<string> {
  const path = `${dir}/cloud-hypervisor`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\nexec ${Deno.execPath()} run -A --no-prompt ${import.meta.filename} "$@"\n`,
    { mode: 0o755 },
  );
  return path;
}

function fail(msg: string): never {
  console.error(`Error parsing command line: ${msg}`);
  Deno.exit(1);
}

function kv(value: string, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of value.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 1) fail(`${flag}: bad option ${part}`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

async function isKernel(path: string): Promise<boolean> {
  const f = await Deno.open(path);
  try {
    const head = new Uint8Array(0x206);
    const n = (await f.read(head)) ?? 0;
    const elf = n >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c &&
      head[3] === 0x46;
    const bz = n >= 0x206 && new TextDecoder().decode(head.subarray(0x202, 0x206)) === "HdrS";
    return elf || bz;
  } finally {
    f.close();
  }
}

async function main(args: string[]) {
  const seen: Record<string, string[]> = {};
  const allowed = new Set([
    "--api-socket",
    "--cpus",
    "--memory",
    "--kernel",
    "--initramfs",
    "--disk",
    "--net",
    "--serial",
    "--console",
    "--cmdline",
    "--vsock",
  ]);
  for (let i = 0; i < args.length; i += 2) {
    if (!allowed.has(args[i])) fail(`unknown argument ${args[i]}`);
    if (args[i + 1] === undefined) fail(`${args[i]} needs a value`);
    (seen[args[i]] ??= []).push(args[i + 1]);
  }
  for (const f of ["--api-socket", "--cpus", "--memory", "--kernel", "--serial", "--cmdline"]) {
    if (!seen[f]) fail(`missing ${f}`);
  }
  const api = kv(seen["--api-socket"][0], "--api-socket").path ?? fail("--api-socket path=");
  const serial = kv(seen["--serial"][0], "--serial").socket ?? fail("--serial socket=");
  if (!/^boot=\d+$/.test(seen["--cpus"][0])) fail("--cpus boot=<n>");
  if (!/^size=\d+M$/.test(seen["--memory"][0])) fail("--memory size=<n>M");
  if (seen["--console"]?.[0] !== "off") fail("--console off expected");
  const disks = (seen["--disk"] ?? []).map((d) => kv(d, "--disk"));
  for (const d of disks) {
    if (!d.path || !["on", "off"].includes(d.readonly)) fail("--disk path=,readonly=on|off");
    await Deno.stat(d.path).catch(() => fail(`--disk ${d.path}: no such file`));
  }
  const kernel = seen["--kernel"][0];
  if (!(await Deno.stat(kernel).catch(() => null))) fail(`--kernel ${kernel}: no such file`);
  if (!(await isKernel(kernel))) {
    console.error("Error booting VM: VmBoot(KernelLoad(InvalidElfMagicNumber))");
    Deno.exit(1);
  }
  const cmdline = ` ${seen["--cmdline"][0]} `;

  // The guest's serial output: kept so a client connecting late still sees it.
  const history: Uint8Array[] = [];
  const clients = new Set<Deno.UnixConn>();
  const print = (line: string) => {
    const bytes = new TextEncoder().encode(line + "\r\n");
    history.push(bytes);
    for (const c of clients) c.write(bytes).catch(() => clients.delete(c));
  };
  const powerOff = (line: string) => {
    print(line);
    setTimeout(() => Deno.exit(0), 50);
  };

  const listener = Deno.listen({ transport: "unix", path: serial });
  (async () => {
    for await (const conn of listener) {
      clients.add(conn);
      for (const b of history) await conn.write(b);
      (async () => {
        const buf = new Uint8Array(1024);
        let pending = "";
        while (true) {
          const n = await conn.read(buf).catch(() => null);
          if (n === null) break;
          pending += new TextDecoder().decode(buf.subarray(0, n));
          let nl;
          while ((nl = pending.search(/\r|\n/)) >= 0) {
            const line = pending.slice(0, nl).trim();
            pending = pending.slice(nl + 1);
            if (line) print(`${GUEST_LINES.echo} ${line}`);
          }
        }
        clients.delete(conn);
      })();
    }
  })();

  const vmApi = new FakeChApi({ cmdline: { args: cmdline.trim() }, disks }, {
    onPowerButton: () => powerOff(GUEST_LINES.powerButton),
    onVmmShutdown: () => Deno.exit(0),
  });
  serveFakeChApi(api, vmApi);

  setTimeout(() => {
    print(`${GUEST_LINES.ready} uptime=0.10`);
    print(`${GUEST_LINES.disks} ${disks.map((_, i) => `vd${"abcdefgh"[i]}`).join(" ")} `);
    if (cmdline.includes(" volant_test=poweroff ")) powerOff(GUEST_LINES.poweroff);
  }, 100);
}

if (import.meta.main) await main(Deno.args);
