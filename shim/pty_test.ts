/**
 * The PTY helper (pty.c), built as the image builds it (make), driven from
 * Deno through its framing (agent/pty_frames.ts) on the host: real
 * pseudo-terminals, real processes. About 2 s.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  dataFrames,
  decodeExit,
  readFrames,
  resizeFrame,
  signalFrame,
} from "../agent/pty_frames.ts";

const SHIM = new URL(".", import.meta.url).pathname;

async function helper(): Promise<{ bin: string; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "volant-pty-" });
  const o = await new Deno.Command("make", {
    args: ["-s", "-C", SHIM, `OUT=${dir}`, `${dir}/volant-pty`],
    stderr: "piped",
  }).output();
  if (!o.success) throw new Error(`make: ${new TextDecoder().decode(o.stderr)}`);
  return { bin: `${dir}/volant-pty`, dir };
}

/** One helper run: its terminal output as text, waitable, and its exit. */
class Session {
  readonly child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  text = "";
  #waiters: (() => void)[] = [];
  readonly exit: Promise<{ code: number; signo: number } | null>;

  constructor(bin: string, argv: string[], rows = 24, cols = 80) {
    const child = new Deno.Command(bin, {
      args: [String(rows), String(cols), "-1", "-1", ...argv],
      env: { PATH: "/usr/bin:/bin", PS1: "$ ", TERM: "xterm" },
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    this.child = child;
    this.#writer = child.stdin.getWriter();
    this.exit = (async () => {
      const decoder = new TextDecoder();
      for await (const f of readFrames(child.stdout)) {
        if (f.type === "d") {
          this.text += decoder.decode(f.payload, { stream: true });
          for (const w of this.#waiters.splice(0)) w();
        }
        if (f.type === "x") return decodeExit(f.payload);
      }
      return null;
    })();
  }

  async send(frame: Uint8Array): Promise<void> {
    await this.#writer.write(frame);
  }

  async type(s: string): Promise<void> {
    for (const f of dataFrames(new TextEncoder().encode(s))) await this.send(f);
  }

  /** Resolves once the output (from `from` on) matches `re`. */
  async waitFor(re: RegExp, from = 0): Promise<string> {
    while (!re.test(this.text.slice(from))) {
      await new Promise<void>((r) => this.#waiters.push(r));
    }
    return this.text;
  }

  async close(): Promise<void> {
    await this.#writer.close().catch((_gone) => false);
    await this.child.status;
  }
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

Deno.test("pty helper: a terminal of the given size, the exit code, output written before exit", async () => {
  const { bin, dir } = await helper();
  try {
    const s = new Session(bin, ["sh", "-c", "stty size; tty; printf 'bye\\n'; exit 3"], 33, 101);
    assertEquals(await s.exit, { code: 3, signo: 0 });
    assert(s.text.includes("33 101"), s.text);
    assert(/\/dev\/pts\/\d+/.test(s.text), s.text);
    assert(s.text.includes("bye"), s.text);
    await s.close();

    const bad = new Session(bin, ["/nonexistent/program"]);
    assertEquals(await bad.exit, { code: 127, signo: 0 });
    assert(bad.text.includes("cannot run /nonexistent/program"), bad.text);
    await bad.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pty helper: typed input, resize, Ctrl-C to the foreground job, the shell survives", async () => {
  const { bin, dir } = await helper();
  try {
    const s = new Session(bin, ["sh", "-i"]);
    await s.type("echo $((6*7))\n");
    await s.waitFor(/42\r\n/);
    await s.send(resizeFrame(50, 132));
    let at = s.text.length;
    await s.type("stty size\n");
    await s.waitFor(/50 132/, at);
    // The typed line echoes "RE%sDY"; only the running command prints READY.
    at = s.text.length;
    await s.type("sh -c 'printf \"RE%sDY\\n\" A; exec sleep 100'\n");
    await s.waitFor(/READY/, at);
    await s.type("\x03");
    await s.waitFor(/\^C/, at);
    // The interactive shell survives the interrupt and tells the job's status.
    at = s.text.length;
    await s.type("echo rc=$?\n");
    await s.waitFor(/rc=130/, at);
    await s.type("exit 4\n");
    assertEquals(await s.exit, { code: 4, signo: 0 });
    await s.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pty helper: a signal frame, and the end of stdin kills the whole group and reaps it", async () => {
  const { bin, dir } = await helper();
  try {
    const s = new Session(bin, ["sh", "-c", "echo ready; exec sleep 100"]);
    await s.waitFor(/ready/);
    await s.send(signalFrame(15));
    assertEquals(await s.exit, { code: 143, signo: 15 });
    await s.close();

    const bg = new Session(bin, ["sh", "-c", "sleep 100 & echo pid=$!; wait"]);
    const pid = Number(/pid=(\d+)/.exec(await bg.waitFor(/pid=\d+\r?\n/))![1]);
    assert(alive(pid));
    await bg.close(); // the session is over: stdin ends
    assertEquals(await bg.exit, null);
    assertEquals((await bg.child.status).code, 0);
    assert(!alive(pid), `sleep ${pid} outlived the session`);

    // A job-control shell runs each job in a process group of its own: still killed.
    const sh = new Session(bin, ["sh", "-i"]);
    await sh.type("sleep 100 & echo pid=$!\n");
    const job = Number(/pid=(\d+)\r\n/.exec(await sh.waitFor(/pid=\d+\r\n/))![1]);
    assert(alive(job));
    await sh.close();
    assert(!alive(job), `background job ${job} outlived the session`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
