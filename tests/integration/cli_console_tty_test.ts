/**
 * `volar vms console` on a real terminal: a pty from util-linux `script`.
 * Raw mode sends Ctrl-C to the guest instead of killing volar, Ctrl-]
 * detaches, and the terminal settings (`stty -g`) are the same afterwards.
 * The VM is a stub record with a real serial unix socket (see
 * cli_console_test.ts).
 */
import assert from "node:assert/strict";
import { serveApi, serveSerial, stubVms, vmRecord } from "../../src/client/testing.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

async function requireScript(): Promise<void> {
  try {
    await new Deno.Command("script", { args: ["--version"], stdout: "null" }).output();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new Error("util-linux `script` is missing: apt-get install -y bsdutils");
  }
}

type Ending = "ctrl-]" | "SIGTERM" | "remote close";

/** Attaches on a pty, sends keys, ends the session the given way; returns output and stty files. */
async function session(ending: Ending): Promise<{ out: string; code: number }> {
  const dir = await Deno.makeTempDir({ prefix: "volar-tty-" });
  const serial = serveSerial(`${dir}/serial.sock`);
  const api = await serveApi({
    vms: stubVms([vmRecord({ name: "web" })], {
      web: {
        name: "web",
        state: "running",
        serialSocket: `${dir}/serial.sock`,
        serialLog: `${dir}/serial.log`,
      },
    }),
  });
  try {
    const inner = `stty -g > ${dir}/before; ` +
      `bash -c 'echo $$ > ${dir}/pid; exec -a volar "${Deno.execPath()}" run -A "${MAIN}" vms console web'; ` +
      `rc=$?; stty -g > ${dir}/after; exit $rc`;
    const child = new Deno.Command("script", {
      args: ["-qec", inner, "/dev/null"],
      env: { NO_COLOR: "1", VOLANT_SOCKET: api.socket, TERM: "dumb" },
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    const until = async (text: string) => {
      while (!out.includes(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`output ended before '${text}':\n${out}`);
        out += value;
      }
    };
    const w = child.stdin.getWriter();
    await until("welcome");
    // Ctrl-C in raw mode is a byte for the guest, not a signal for volar.
    await w.write(new TextEncoder().encode("ping\x03"));
    await until("echo:ping\x03");
    if (ending === "ctrl-]") await w.write(new Uint8Array([0x1d]));
    else if (ending === "SIGTERM") {
      Deno.kill(Number(await Deno.readTextFile(`${dir}/pid`)), "SIGTERM");
    } else await serial.close();
    await until("console");
    const status = await child.status;
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    await w.close().catch((error) => {
      if (!(error instanceof TypeError)) throw error;
    });
    const before = await Deno.readTextFile(`${dir}/before`);
    const after = await Deno.readTextFile(`${dir}/after`);
    assert.equal(after, before, `terminal settings restored after ${ending}`);
    return { out, code: status.code };
  } finally {
    await api.close();
    await serial.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("vms console on a pty: Ctrl-] detaches and the terminal is restored", async () => {
  await requireScript();
  const r = await session("ctrl-]");
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /detach: Ctrl-\]/);
  assert.match(r.out, /detached: left vm web console/);
});

Deno.test("vms console on a pty: SIGTERM ends it and the terminal is restored", async () => {
  await requireScript();
  const r = await session("SIGTERM");
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /interrupted: left vm web console/);
});

Deno.test("vms console on a pty: the console closing ends it and the terminal is restored", async () => {
  await requireScript();
  const r = await session("remote close");
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /vm web console closed by volantd/);
});
