/**
 * The real daemon on a real unix socket (and TCP): socket and token file
 * modes, bearer auth on TCP, refusal of a second daemon, stale socket
 * removal, config precedence, flags, and clean shutdown on SIGTERM.
 */
import assert from "node:assert/strict";
import { freePort, startDaemonProcess } from "../../src/daemon/testing/harness.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

async function runVolantd(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "volantd", ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const d = new TextDecoder();
  return { code: out.code, out: d.decode(out.stdout), err: d.decode(out.stderr) };
}

Deno.test("volantd --help, --version and a bad flag", async () => {
  const help = await runVolantd(["--help"]);
  assert.equal(help.code, 0);
  for (
    const flag of [
      "--state-dir",
      "--socket",
      "--listen",
      "--bridge",
      "--subnet",
      "--hypervisor",
      "--kernel",
      "--config",
    ]
  ) {
    assert.ok(help.out.includes(flag), `--help mentions ${flag}`);
  }
  const version = await runVolantd(["--version"]);
  assert.equal(version.code, 0);
  assert.match(version.out, /^volantd \d+\.\d+\.\d+/);
  const bad = await runVolantd(["--no-such-flag"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.err.trim().split("\n").length, 1, bad.err);
  assert.match(bad.err, /^volantd: .*no-such-flag/);
  const badValue = await runVolantd(["--subnet", "10.0.0.0/33", "--state-dir", "/tmp/x"]);
  assert.equal(badValue.code, 2);
  assert.match(badValue.err, /subnet/);
});

Deno.test("a TCP address in use is one clear line and leaves no socket behind", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dir = await Deno.makeTempDir({ prefix: "volantd-it-" });
  try {
    const res = await runVolantd([
      "--state-dir",
      `${dir}/state`,
      "--socket",
      `${dir}/s.sock`,
      "--runtime-dir",
      `${dir}/run`,
      "--no-host-network",
      "--listen",
      `127.0.0.1:${(taken.addr as Deno.NetAddr).port}`,
    ]);
    assert.equal(res.code, 4, res.err);
    const last = res.err.trim().split("\n").at(-1)!;
    assert.match(last, /^volantd: listen: cannot bind .*address in use$/);
    await assert.rejects(Deno.lstat(`${dir}/s.sock`), Deno.errors.NotFound);
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unix socket 0660, TCP needs the bearer token from <state>/api-token (0600)", async () => {
  const d = await startDaemonProcess({ tcp: true });
  try {
    assert.equal((await Deno.stat(d.socket)).mode! & 0o777, 0o660);
    assert.equal((await Deno.stat(d.stateDir)).mode! & 0o777, 0o700);
    const tokenFile = `${d.stateDir}/api-token`;
    assert.equal((await Deno.stat(tokenFile)).mode! & 0o777, 0o600);
    const token = (await Deno.readTextFile(tokenFile)).trim();
    assert.ok(token.length >= 32);

    const base = `http://${d.listen}`;
    const none = await fetch(`${base}/api/v1/plugins`);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get("content-type"), "application/problem+json");
    await none.body?.cancel();
    const wrong = await fetch(`${base}/api/v1/plugins`, {
      headers: { authorization: `Bearer ${token}x` },
    });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const ok = await fetch(`${base}/api/v1/plugins`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { items: [] });
    // The unix socket needs no token.
    const unix = await d.fetch("/api/v1/system/info");
    assert.equal(unix.status, 200);
    assert.equal((await unix.json()).state_dir, d.stateDir);
  } finally {
    assert.equal(await d.stop(), 0);
    await d.cleanup();
  }
  // Stopped cleanly: socket removed, shutdown logged as structured lines.
  await assert.rejects(Deno.stat(d.socket), Deno.errors.NotFound);
  const lines = d.stderr().trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(lines.some((l) => l.msg === "shutting down (VMs keep running)"));
  assert.ok(lines.some((l) => /host networking skipped/.test(l.msg)));
});

Deno.test("a second daemon on a live socket is refused; a stale socket is replaced", async () => {
  const d = await startDaemonProcess();
  try {
    const second = await runVolantd([
      "--state-dir",
      `${d.dir}/state2`,
      "--socket",
      d.socket,
      "--runtime-dir",
      `${d.dir}/run2`,
      "--no-host-network",
    ]);
    assert.equal(second.code, 4, second.err);
    assert.match(second.err, /another volantd is listening/);
    // The first one still answers.
    const res = await d.fetch("/healthz");
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    // SIGKILL leaves the socket file behind: a stale socket.
    await d.stop("SIGKILL");
  }
  assert.ok((await Deno.lstat(d.socket)).isSocket);
  const again = await startDaemonProcess({ dir: d.dir });
  try {
    const res = await again.fetch("/healthz");
    assert.deepEqual(await res.json(), { status: "ok" });
  } finally {
    await again.stop();
    await again.cleanup();
  }
});

Deno.test("config precedence: flag > VOLANT_* env > config file", async () => {
  const port = freePort();
  const d = await startDaemonProcess({
    configText: `bridge = "vbrfile"\nsubnet = "10.9.0.0/24"\nlisten = "127.0.0.1:${port}"\n`,
    env: { VOLANT_SUBNET: "10.8.0.0/24" },
    extraArgs: ["--bridge", "vbrflag"],
  });
  try {
    const info = await (await d.fetch("/api/v1/system/info")).json();
    assert.equal(info.network.bridge, "vbrflag");
    assert.equal(info.network.subnet, "10.8.0.0/24");
    assert.equal(info.network.gateway, "10.8.0.1");
    // listen came from the file: TCP is up and wants a token.
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(res.status, 401);
    await res.body?.cancel();
  } finally {
    await d.stop();
    await d.cleanup();
  }
});
