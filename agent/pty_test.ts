/**
 * kestrel's PTY endpoint over a real socket on 127.0.0.1 (host mode), with
 * the real helper built from shim/pty.c, driven by the shared RFC 6455
 * client the daemon uses (src/shared/websocket.ts).
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { createApiHandler } from "./api.ts";
import { agentGate } from "./auth.ts";
import { ChildTracker } from "./child_tracker.ts";
import { newState } from "./state.ts";
import { AGENT_KEY_HEADER } from "../src/manifest/cmdline.ts";
import { ptyQuery } from "../src/manifest/pty.ts";
import { connectWebSocket, WsClient, type WsRefusal } from "../src/shared/websocket.ts";

const KEY = "k".repeat(20) + "_-0123456789abcdef";
const SHIM = new URL("../shim/", import.meta.url).pathname;

async function withKestrel(fn: (port: number) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kestrel-pty-" });
  const o = await new Deno.Command("make", {
    args: ["-s", "-C", SHIM, `OUT=${dir}`, `${dir}/volant-pty`],
  }).output();
  assert(o.success, "make volant-pty");
  const handler = createApiHandler(newState("t", "host"), {
    gate: agentGate(KEY, () => {}),
    exec: { tracker: new ChildTracker(), ptyHelper: `${dir}/volant-pty` },
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  try {
    await fn(server.addr.port);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

async function open(port: number, q: URLSearchParams, key = KEY): Promise<WsClient | WsRefusal> {
  return await connectWebSocket(await Deno.connect({ hostname: "127.0.0.1", port }), {
    host: `127.0.0.1:${port}`,
    path: `/agent/v1/exec/pty?${q}`,
    headers: key ? { [AGENT_KEY_HEADER]: key } : {},
  });
}

Deno.test("kestrel pty: terminal output, resize, the exit message and a clean close", async () => {
  await withKestrel(async (port) => {
    const q = ptyQuery({
      argv: ["sh", "-c", "stty size; read x; stty size; echo got=$x; exit 3"],
      rows: 10,
      cols: 20,
      env: { A: "1" },
    });
    const ws = await open(port, q);
    assert(ws instanceof WsClient);
    let text = "";
    let exit: unknown;
    let typed = false;
    for await (const m of ws.messages()) {
      if (typeof m === "string") {
        exit = JSON.parse(m);
        continue;
      }
      text += new TextDecoder().decode(m);
      if (text.includes("10 20") && !typed) {
        typed = true;
        await ws.send(JSON.stringify({ type: "resize", rows: 40, cols: 90 }));
        await ws.send(new TextEncoder().encode("hi\r"));
      }
    }
    assert(/10 20[\s\S]*40 90[\s\S]*got=hi/.test(text), text);
    assertEquals(exit, { type: "exit", exit_code: 3, signal: null });
    assertEquals((await ws.closed).code, 1000);
  });
});

Deno.test("kestrel pty: no key is 401, a bad query names the field, closing kills the session", async () => {
  await withKestrel(async (port) => {
    const noKey = await open(port, ptyQuery({ argv: ["sh"] }), "");
    assert(!(noKey instanceof WsClient) && noKey.status === 401);
    const bad = await open(port, ptyQuery({ argv: ["sh"], rows: 0 }));
    assert(!(bad instanceof WsClient) && bad.status === 400);
    assertEquals(JSON.parse(bad.body).problems[0].field, "rows");
    const missing = await open(port, ptyQuery({ argv: ["no-such-program-here"] }));
    assert(!(missing instanceof WsClient) && missing.status === 400, "argv.0");

    const ws = await open(port, ptyQuery({ argv: ["sh", "-c", "sleep 100 & echo pid=$!; wait"] }));
    assert(ws instanceof WsClient);
    let text = "";
    const it = ws.messages();
    while (!/pid=\d+\r\n/.test(text)) {
      const m = await it.next();
      assert(!m.done);
      if (typeof m.value !== "string") text += new TextDecoder().decode(m.value);
    }
    const pid = Number(/pid=(\d+)/.exec(text)![1]);
    ws.close(1000, "bye");
    for await (const _ of it) { /* drain to the server's close */ }
    // The helper kills and reaps the group once its stdin ends; wait for that (bounded).
    const deadline = Date.now() + 10_000;
    while (alive(pid)) {
      assert(Date.now() < deadline, `sleep ${pid} outlived the session`);
      await new Promise((r) => setTimeout(r, 20));
    }
  });
});

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
