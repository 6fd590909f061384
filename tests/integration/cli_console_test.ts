/**
 * `volar vms console` and `volar vms logs [-f]` as real subprocesses
 * against the real API app on a real unix socket. The running VM is a stub
 * record (running VMs need QEMU: the e2e tests boot them), but its serial
 * line is a real unix socket and its log a real file.
 */
import assert from "node:assert/strict";
import { serveConsoleFixture } from "../../src/client/testing.ts";
import { runVolar } from "../../src/cli/testing.ts";

async function setup() {
  const f = await serveConsoleFixture("volar-console-");
  return { ...f, env: { VOLANT_SOCKET: f.api.socket } };
}

Deno.test("vms console: stdin goes to the serial line, output to stdout; its end detaches", async () => {
  const s = await setup();
  try {
    const r = await runVolar(["vms", "console", "web"], { env: s.env, stdin: "hello\n" });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^welcome\r\n/);
    assert.match(r.stdout, /echo:hello\n/);
    assert.equal(r.stderr, "connected to vm web console\ninput ended: left vm web console\n");
    const off = await runVolar(["vms", "console", "off"], { env: s.env, stdin: "" });
    assert.equal(off.code, 4);
    assert.equal(off.stderr, "volar: console of vm off is not available (state stopped)\n");
    const none = await runVolar(["vms", "console", "nope"], { env: s.env, stdin: "" });
    assert.equal(none.code, 3);
  } finally {
    await s.close();
  }
});

Deno.test("vms logs: --tail N; -f follows until SIGINT and exits 0", async () => {
  const s = await setup();
  try {
    const tail = await runVolar(["vms", "logs", "web", "--tail", "2"], { env: s.env });
    assert.equal(tail.code, 0, tail.stderr);
    assert.equal(tail.stdout, "line3\nline4\n");

    const main = new URL("../../src/main.ts", import.meta.url).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", main, "volar", "vms", "logs", "web", "-f", "-n", "1"],
      env: { NO_COLOR: "1", ...s.env },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("line4\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    assert.equal(out, "line4\n");
    await Deno.writeTextFile(`${s.dir}/serial.log`, "line5\n", { append: true });
    while (!out.includes("line5\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    assert.equal(out, "line4\nline5\n");
    child.kill("SIGINT");
    const status = await child.status;
    reader.releaseLock();
    await child.stdout.cancel().catch((error) => {
      if (!(error instanceof TypeError)) throw error;
    });
    const err = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
    assert.equal(status.code, 0, err);
    assert.equal(err, "");
  } finally {
    await s.close();
  }
});
