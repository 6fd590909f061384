/**
 * What the snapshot end-to-end tests share: a volantd (child process, QEMU
 * driver, jail on as by default) inside a network namespace the test creates,
 * and a plugin whose guest is our kernel + a busybox initramfs that puts
 * `volant.ip` on eth0 and serves on :8080 (busybox httpd):
 * `/healthz`, `/cgi-bin/count` (a counter held in the memory of one long-lived
 * shell process, reached through FIFOs: the value survives only if that
 * process does), `/cgi-bin/uptime`, `/cgi-bin/random` (16 bytes of
 * /dev/urandom, hex) and `/cgi-bin/net` (eth0's address and MAC). It
 * answers the clone identity hand-off on its console (new MAC, address,
 * hostname, RNG reseed through a tiny static helper built with musl-gcc).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { findTestKernel } from "../../src/vmm/testing/guest_fixture.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

const INIT = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec 0</dev/console 1>/dev/console 2>&1
for ev in /dev/input/event*; do
  [ -e "$ev" ] || continue
  ( dd if="$ev" of=/dev/null bs=24 count=1 2>/dev/null; poweroff -f ) &
done
for kv in $(cat /proc/cmdline); do
  case "$kv" in
    volant.ip=*) IP="\${kv#volant.ip=}" ;;
    volant.gw=*) GW="\${kv#volant.gw=}" ;;
  esac
done
ip link set lo up
ip link set eth0 up
ip addr add "$IP" dev eth0
ip route add default via "$GW"
mkfifo /tmp/req /tmp/resp
# The counter lives in this one process's memory.
( n=0; while true; do read -r _ < /tmp/req; n=$((n + 1)); echo "$n" > /tmp/resp; done ) &
httpd -p 8080 -h /www
echo COUNTER_GUEST_READY
# The identity hand-off of a restored clone (src/service/snapshots/identity_handoff.ts).
while true; do
  while read -r cmd nonce ip gw mac host seed; do
    [ "$cmd" = volant-identity ] || continue
    ip link set eth0 address "$mac"
    ip addr flush dev eth0
    ip addr add "$ip" dev eth0
    ip route add default via "$gw" 2>/dev/null
    hostname "$host"
    /bin/reseed "$seed" && echo "VOLANT_IDENTITY_OK $nonce"
  done
  sleep 1
done
`;

/**
 * RNDADDENTROPY with the given hex bytes, then RNDRESEEDCRNG: the clone's
 * RNG output depends on the fresh seed at once (not at the next timed reseed).
 */
const RESEED_C = `#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#define RNDADDENTROPY 0x40085203
#define RNDRESEEDCRNG 0x5207
int main(int argc, char **argv) {
  struct { int entropy_count; int buf_size; unsigned char buf[64]; } e;
  size_t n = argc > 1 ? strlen(argv[1]) / 2 : 0;
  if (n == 0 || n > 64) return 2;
  for (size_t i = 0; i < n; i++) sscanf(argv[1] + 2 * i, "%2hhx", &e.buf[i]);
  e.buf_size = (int)n;
  e.entropy_count = (int)n * 8;
  int fd = open("/dev/urandom", O_RDWR);
  if (fd < 0 || ioctl(fd, RNDADDENTROPY, &e) < 0 || ioctl(fd, RNDRESEEDCRNG) < 0) {
    perror("reseed");
    return 1;
  }
  return 0;
}
`;

/** CGI scripts of the guest's httpd (busybox sh). */
const CGI: Record<string, string> = {
  count: "echo x > /tmp/req; cat /tmp/resp",
  uptime: "cut -d' ' -f1 /proc/uptime",
  random: "head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n'; echo",
  net: "echo \"$(ip -o -4 addr show eth0 | awk '{print $4}') $(cat /sys/class/net/eth0/address)\"",
};

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

/** Builds the counter guest's initramfs (uncompressed newc) into `dir`. */
export async function buildCounterInitramfs(dir: string): Promise<string> {
  const bb = await Deno.readFile("/bin/busybox").catch(() => {
    throw new Error("/bin/busybox missing: apt-get install -y busybox-static");
  });
  const root = `${dir}/root`;
  for (const d of ["bin", "dev", "proc", "sys", "tmp"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
  }
  await Deno.writeFile(`${root}/bin/busybox`, bb, { mode: 0o755 });
  await Deno.writeTextFile(`${dir}/reseed.c`, RESEED_C);
  await sh(["musl-gcc", "-static", "-Os", "-o", `${root}/bin/reseed`, `${dir}/reseed.c`]).catch(
    (e) => {
      throw new Error(`${e}: apt-get install -y musl-tools`);
    },
  );
  await Deno.mkdir(`${root}/www/cgi-bin`, { recursive: true });
  await Deno.writeTextFile(`${root}/www/healthz`, "ok\n");
  for (const [name, body] of Object.entries(CGI)) {
    const script = `#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n${body}\n`;
    await Deno.writeTextFile(`${root}/www/cgi-bin/${name}`, script, { mode: 0o755 });
  }
  await Deno.writeTextFile(`${root}/init`, INIT, { mode: 0o755 });
  await sh(["mknod", "-m", "600", `${root}/dev/console`, "c", "5", "1"]);
  const out = `${dir}/initramfs.cpio`;
  await sh(["sh", "-c", `cd ${root} && find . | cpio -o -H newc --quiet > ${out}`]);
  await Deno.remove(root, { recursive: true });
  return out;
}

/** A running volantd in its namespace. */
export interface SnapDaemon {
  ns: string;
  dir: string;
  child: Deno.ChildProcess;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  json<T = Record<string, unknown>>(path: string, init?: RequestInit): Promise<T>;
  /** GET through the agent proxy; the body text, trimmed. */
  agent(vm: string, path: string): Promise<string>;
  stderr(): string;
  close(): Promise<void>;
}

export const post = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

/** Polls `fn` until it returns a value; throws naming `what` after `ms`. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  ms = 120_000,
): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
}

/**
 * Creates a namespace, a temp dir, the counter plugin and a volantd; `close()`
 * stops the daemon, kills the VMMs it left (by the pids the API reported),
 * deletes the namespace and the dir.
 */
export async function startSnapDaemon(
  extraArgs: string[] = [],
  /** memoryMb: the counter plugin's guest RAM (the benchmark's 256 MiB; the tests' 128). */
  opts: { agentImage?: string; memoryMb?: number } = {},
): Promise<SnapDaemon> {
  if (Deno.uid() !== 0) throw new Error("needs root (creates a network namespace and TAPs)");
  const kernel = await findTestKernel(); // fails saying: deno task kernel
  const ns = `volsnap${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir({ prefix: "volant-snap-" });
  await sh(["ip", "netns", "add", ns]);
  const initramfs = await Deno.readFile(await buildCounterInitramfs(dir));
  await Deno.mkdir(`${dir}/plugin`);
  await Deno.writeFile(`${dir}/plugin/initramfs.cpio`, initramfs);
  await Deno.writeTextFile(
    `${dir}/plugin/manifest.json`,
    JSON.stringify({
      name: "counter",
      version: "1",
      initramfs: {
        url: "initramfs.cpio",
        checksum: createHash("sha256").update(initramfs).digest("hex"),
      },
      resources: { cpu_cores: 1, memory_mb: opts.memoryMb ?? 128 },
      workload: { type: "http", base_url: "http://127.0.0.1:8080", entrypoint: ["/bin/true"] },
    }),
  );
  const agentImage = opts.agentImage ?? `${dir}/agent.img`;
  if (!opts.agentImage) await Deno.writeFile(agentImage, new Uint8Array(1024 * 1024));
  await Deno.writeTextFile(`${dir}/volantd.toml`, "");
  // The jailed VMM user must reach the kernel and the plugin's files.
  await Deno.chmod(dir, 0o755);
  const socket = `${dir}/volantd.sock`;
  const args = [
    ...["--state-dir", `${dir}/state`, "--socket", socket, "--runtime-dir", `${dir}/run`],
    ...["--cache-dir", `${dir}/cache`, "--hypervisor", "qemu", "--kernel", kernel],
    ...["--agent-image", agentImage, "--bridge", "vbrsnap0", "--subnet", "10.91.0.0/24"],
    ...["--stop-grace-seconds", "2", ...extraArgs],
  ];
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", ns, Deno.execPath(), "run", "-A", MAIN, "volantd", ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1", VOLANT_CONFIG: `${dir}/volantd.toml` },
  }).spawn();
  let err = "";
  (async () => {
    const dec = new TextDecoder();
    for await (const c of child.stderr) err += dec.decode(c, { stream: true });
  })();
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  const f = (path: string, init: RequestInit = {}) =>
    fetch(`http://volantd${path}`, { ...init, client });
  const pids = new Set<number>();
  const json = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const res = await f(path, init);
    const text = await res.text();
    if (!res.ok) throw new Error(`${init?.method ?? "GET"} ${path}: ${res.status} ${text}`);
    const v = text ? JSON.parse(text) : {};
    if (typeof v?.pid === "number") pids.add(v.pid);
    return v as T;
  };
  const d: SnapDaemon = {
    ns,
    dir,
    child,
    fetch: f,
    json,
    async agent(vm, path) {
      const res = await f(`/api/v1/vms/${vm}/agent${path}`);
      const text = await res.text();
      if (!res.ok) throw new Error(`agent ${path}: ${res.status} ${text}`);
      return text.trim();
    },
    stderr: () => err,
    async close() {
      child.kill("SIGTERM");
      await child.status;
      client.close();
      for (const pid of pids) {
        // Only VMMs this daemon reported (their cmdline names our temp dir).
        const cmd = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
        if (cmd.includes(dir)) Deno.kill(pid, "SIGKILL");
      }
      await sh(["ip", "netns", "del", ns], true);
      await Deno.remove(dir, { recursive: true });
    },
  };
  try {
    await until("volantd ready", async () => {
      const res = await f("/healthz");
      await res.body?.cancel();
      return res.ok ? true : undefined;
    }, 60_000);
    await d.json("/api/v1/plugins", post({ path: `${dir}/plugin/manifest.json` }));
  } catch (e) {
    await d.close();
    throw new Error(`${e}\n${err}`);
  }
  return d;
}

/** CGI scripts of the kestrel plugin's workload (busybox httpd; reached through kestrel's /v1). */
const KESTREL_CGI: Record<string, string> = {
  random: CGI.random,
  net: CGI.net,
  hostname: "cat /proc/sys/kernel/hostname",
};

/**
 * Installs plugin `kw`: a real kestrel guest (the shim + busybox initramfs of
 * scripts/agent_image.ts plus a www tree; kestrel from `agentImage`'s build)
 * whose workload is busybox httpd on :80 with `/cgi-bin/{random,net,hostname}`.
 */
export async function installKestrelPlugin(d: SnapDaemon, shim: string): Promise<void> {
  const { bootEntries } = await import("../../scripts/agent_image.ts");
  const { writeCpio } = await import("../../scripts/cpio_newc.ts");
  const { gzipSync } = await import("node:zlib");
  const enc = new TextEncoder();
  const www = [
    { path: "www", type: "dir" as const, mode: 0o755 },
    { path: "www/cgi-bin", type: "dir" as const, mode: 0o755 },
    { path: "www/healthz", type: "file" as const, data: enc.encode("ok\n"), mode: 0o644 },
    ...Object.entries(KESTREL_CGI).map(([name, body]) => ({
      path: `www/cgi-bin/${name}`,
      type: "file" as const,
      data: enc.encode(`#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n${body}\n`),
      mode: 0o755,
    })),
  ];
  const cpio = gzipSync(writeCpio([...await bootEntries(await Deno.readFile(shim)), ...www]));
  await Deno.mkdir(`${d.dir}/kw`);
  await Deno.writeFile(`${d.dir}/kw/initramfs.cpio.gz`, cpio);
  await Deno.writeTextFile(
    `${d.dir}/kw/manifest.json`,
    JSON.stringify({
      name: "kw",
      version: "1",
      initramfs: {
        url: "initramfs.cpio.gz",
        checksum: createHash("sha256").update(cpio).digest("hex"),
      },
      resources: { cpu_cores: 1, memory_mb: 256 },
      workload: {
        type: "http",
        base_url: "http://127.0.0.1:80",
        entrypoint: ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"],
      },
      health_check: { endpoint: "/healthz", timeout_ms: 120_000 },
    }),
  );
  await d.json("/api/v1/plugins", post({ path: `${d.dir}/kw/manifest.json` }));
}
