/**
 * `POST /agent/v1/exec`: runs one process for the host and streams its
 * stdout and stderr as NDJSON frames, then its exit (src/manifest/exec.ts).
 * The process gets its own session (the setsid helper, as the workload); when
 * it exits, times out or the session ends (the host disconnects), every
 * process of that session is SIGKILLed (session_kill.ts: also jobs a shell put
 * in process groups of their own), so nothing it started lingers. Deno waits
 * on the child itself (tracked, so the reaper leaves it alone); orphans of the
 * session are reaped by kestrel's reaper.
 *
 * @module
 */
import { type ExecRequest, ExecRequestSchema, NDJSON } from "../src/manifest/exec.ts";
import type { ChildTracker } from "./child_tracker.ts";
import { problem } from "./problem.ts";
import { killSession } from "./session_kill.ts";
import { resolveUser } from "./user.ts";
import { DEFAULT_PATH, findSetsid, lookPath, type SetsidHelper } from "./workload_spec.ts";

export interface ExecOptions {
  tracker: ChildTracker;
  /** Where user names are resolved (default /etc). */
  etcDir?: string;
  /** The setsid helper (default: the first found); null = Deno's `detached`. */
  setsid?: SetsidHelper | null;
  /** The PTY helper for `/agent/v1/exec/pty` (default: volant-pty beside deno, pty.ts). */
  ptyHelper?: string;
}

const encoder = new TextEncoder();

function frame(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value) + "\n");
}

/** Parses and validates the body; a problem response when it is bad. */
async function readRequest(req: Request): Promise<ExecRequest | Response> {
  let body: unknown;
  try {
    body = await req.json();
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    return problem(400, "bad request", "the body must be JSON", "body");
  }
  const parsed = ExecRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.length > 0 ? issue.path.join(".") : "body";
    return problem(400, "bad request", `${field}: ${issue.message}`, field);
  }
  return parsed.data;
}

/** What to spawn for `r`, or a 400 naming the field that cannot be resolved (also pty.ts). */
export function prepare(r: Pick<ExecRequest, "argv" | "env" | "cwd" | "user">, etcDir: string) {
  let user;
  try {
    user = r.user === undefined ? undefined : resolveUser(r.user, etcDir);
  } catch (e) {
    return problem(
      400,
      "bad request",
      (e as Error).message.replace("workload.user", "user"),
      "user",
    );
  }
  const home = user?.home ?? "/root";
  const env: Record<string, string> = {
    PATH: DEFAULT_PATH,
    HOME: home,
    ...(user ? { USER: user.name, LOGNAME: user.name } : { USER: "root", LOGNAME: "root" }),
    ...(r.env ?? {}),
  };
  let command: string;
  try {
    command = lookPath(r.argv[0], env.PATH);
  } catch (_notFound) {
    return problem(
      400,
      "bad request",
      `argv.0: "${r.argv[0]}" is not an executable on PATH`,
      "argv.0",
    );
  }
  const cwd = r.cwd ?? home;
  try {
    if (!Deno.statSync(cwd).isDirectory) throw new Deno.errors.NotADirectory(cwd);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory)) throw e;
    return problem(400, "bad request", `cwd: ${cwd} is not a directory`, "cwd");
  }
  return { command, args: r.argv.slice(1), env, cwd, uid: user?.uid, gid: user?.gid };
}

/** Handles one exec request. */
export async function handleExec(req: Request, opts: ExecOptions): Promise<Response> {
  const r = await readRequest(req);
  if (r instanceof Response) return r;
  const p = prepare(r, opts.etcDir ?? "/etc");
  if (p instanceof Response) return p;
  const helper = opts.setsid === undefined ? findSetsid() : opts.setsid;
  const started = performance.now();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(helper ? helper.command : p.command, {
      args: helper ? [...helper.args, p.command, ...p.args] : p.args,
      env: p.env,
      clearEnv: true,
      cwd: p.cwd,
      uid: p.uid,
      gid: p.gid,
      detached: helper === null,
      stdin: r.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    return problem(500, "spawn failed", `${p.command}: ${(e as Error).message}`);
  }
  opts.tracker.add(child.pid);
  const pid = child.pid;
  const status = child.status.finally(() => opts.tracker.delete(pid));
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>(
    undefined,
    { highWaterMark: 8 },
    { highWaterMark: 8 },
  );
  const writer = writable.getWriter();
  let ended = false;
  let timedOut = false;
  // The session id is the child's pid (setsid execs in place; Deno's `detached` is setsid too).
  const kill = () => killSession(pid);
  const killSoon = () => void kill().catch((_noProc) => false);
  const onAbort = () => {
    ended = true;
    killSoon();
  };
  req.signal.addEventListener("abort", onAbort, { once: true });
  const timer = r.timeout_ms === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    killSoon();
  }, r.timeout_ms);
  const send = async (value: unknown) => {
    if (ended) return;
    try {
      await writer.write(frame(value));
    } catch (_cancelled) {
      // The write fails only when the host cancelled the body (went away): end the session.
      onAbort();
    }
  };
  const pump = async (stream: ReadableStream<Uint8Array>, name: "stdout" | "stderr") => {
    for await (const chunk of stream) {
      if (ended) continue; // keep draining so the child never blocks on a full pipe
      await send({ stream: name, data: chunk.toBase64() });
    }
  };
  if (r.stdin !== undefined && child.stdin) {
    const w = child.stdin.getWriter();
    const bytes = Uint8Array.fromBase64(r.stdin);
    // A process that exits without reading all of its stdin closes the pipe: EPIPE here is
    // the process's choice, not a session error, so the rest of the input is dropped.
    w.write(bytes).then(() => w.close()).catch((_epipe) => w.abort().catch((_closed) => false));
  }
  (async () => {
    const pumps = Promise.all([pump(child.stdout, "stdout"), pump(child.stderr, "stderr")]);
    const st = await status;
    // Leftovers of the session (background jobs) would hold the pipes open forever.
    await kill();
    await pumps;
    clearTimeout(timer);
    req.signal.removeEventListener("abort", onAbort);
    await send({
      exit_code: st.code,
      signal: st.signal,
      timed_out: timedOut,
      duration_ms: Math.round(performance.now() - started),
    });
    // close() fails only when the host cancelled the body meanwhile: nothing left to tell it.
    if (!ended) await writer.close().catch((_cancelled) => false);
  })().catch(async (e) => {
    killSoon();
    await writer.abort(e).catch((_cancelled) => false);
  });
  return new Response(readable, { headers: { "content-type": NDJSON } });
}
