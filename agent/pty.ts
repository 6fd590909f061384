/**
 * `GET /agent/v1/exec/pty`: an interactive process on a pseudo-terminal,
 * over a WebSocket (the contract is src/manifest/pty.ts). Deno cannot open a
 * PTY, so the static helper bin/volant-pty (shim/pty.c) does: kestrel spawns
 * it with the resolved program, user, cwd and environment, and translates
 * between WebSocket messages and the helper's frames (pty_frames.ts). When
 * the socket closes, the helper's stdin ends and it kills and reaps the
 * session's process group; the helper is tracked so the reaper leaves it to
 * Deno. Loaded on first use (zod).
 *
 * @module
 */
import {
  parsePtyQuery,
  PTY_SIGNALS,
  PtyClientMessageSchema,
  signalName,
} from "../src/manifest/pty.ts";
import type { PtyExitMessage } from "../src/manifest/pty.ts";
import { type ExecOptions, prepare } from "./exec.ts";
import { problem } from "./problem.ts";
import { dataFrames, decodeExit, readFrames, resizeFrame, signalFrame } from "./pty_frames.ts";

/** Where the agent image (docs/guest.md) is mounted in every guest. */
const AGENT_IMAGE_HELPER = "/volant/agent/bin/volant-pty";

/**
 * The agent image's helper; else volant-pty beside the program running kestrel
 * (deno is started through the image's dynamic loader, so execPath is lib/).
 */
export function defaultPtyHelper(): string {
  try {
    Deno.statSync(AGENT_IMAGE_HELPER);
    return AGENT_IMAGE_HELPER;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const exe = Deno.execPath();
  return `${exe.slice(0, exe.lastIndexOf("/"))}/volant-pty`;
}

/** Handles one PTY session request (a WebSocket upgrade). */
export function handlePty(req: Request, opts: ExecOptions): Response {
  if ((req.headers.get("upgrade") ?? "").toLowerCase() !== "websocket") {
    return problem(400, "bad request", "expected a WebSocket upgrade", "header.upgrade");
  }
  const r = parsePtyQuery(new URL(req.url).searchParams);
  if ("field" in r) return problem(400, "bad request", `${r.field}: ${r.message}`, r.field);
  const p = prepare(r, opts.etcDir ?? "/etc");
  if (p instanceof Response) return p;
  const helper = opts.ptyHelper ?? defaultPtyHelper();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(helper, {
      args: [r.rows, r.cols, p.uid ?? -1, p.gid ?? -1, p.command, ...p.args].map(String),
      env: { ...p.env, TERM: r.term },
      clearEnv: true,
      cwd: p.cwd,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
  } catch (e) {
    return problem(503, "no pty", `${helper}: ${(e as Error).message}`);
  }
  const pid = child.pid;
  opts.tracker.add(pid);
  child.status.finally(() => opts.tracker.delete(pid));
  const { socket, response } = Deno.upgradeWebSocket(req);
  bridge(socket, child);
  return response;
}

function bridge(socket: WebSocket, child: Deno.ChildProcess): void {
  const writer = child.stdin.getWriter();
  let writes = Promise.resolve();
  let over = false;
  const toHelper = (frames: Uint8Array[]) => {
    // The helper gone (EPIPE) means the session is ending: its exit frame or EOF says how.
    writes = writes.then(async () => {
      for (const f of frames) await writer.write(f);
    }).catch((_gone) => {});
  };
  const end = () => {
    if (over) return;
    over = true;
    // The end of its stdin tells the helper to kill the session's group and reap it.
    writes = writes.then(() => writer.close()).catch((_gone) => {});
  };
  socket.binaryType = "arraybuffer";
  socket.onmessage = (ev: MessageEvent) => {
    if (typeof ev.data !== "string") {
      toHelper(dataFrames(new Uint8Array(ev.data as ArrayBuffer)));
      return;
    }
    let msg;
    try {
      msg = PtyClientMessageSchema.safeParse(JSON.parse(ev.data));
    } catch (_notJson) {
      msg = { success: false as const };
    }
    if (!msg.success) {
      socket.close(1008, "a text message must be a resize or signal control");
      return;
    }
    const m = msg.data;
    toHelper([
      m.type === "resize" ? resizeFrame(m.rows, m.cols) : signalFrame(PTY_SIGNALS[m.signal]),
    ]);
  };
  socket.onclose = end;
  socket.onerror = end;
  socket.onopen = async () => {
    let exit: PtyExitMessage | undefined;
    try {
      for await (const f of readFrames(child.stdout)) {
        if (f.type === "d" && socket.readyState === WebSocket.OPEN) socket.send(f.payload);
        if (f.type === "x") {
          const { code, signo } = decodeExit(f.payload);
          exit = { type: "exit", exit_code: code, signal: signalName(signo) };
        }
      }
    } catch (_closed) {
      // stdout fails only when the helper died: no exit to tell.
    }
    if (socket.readyState === WebSocket.OPEN) {
      if (exit) {
        socket.send(JSON.stringify(exit));
        socket.close(1000, "exited");
      } else socket.close(1011, "the pty helper ended without an exit");
    }
    end();
  };
}
