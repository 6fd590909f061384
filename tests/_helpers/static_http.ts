/**
 * A static file server for tests, run as its own process (so it can live in
 * a network namespace): `deno run -A static_http.ts DIR` listens on
 * 127.0.0.1 (port from argv[1] or a free one), prints `port=N`, and serves
 * DIR's files with Content-Length (curl shows real progress). 404 otherwise.
 *
 * Also exports `startStaticServer()` to spawn it inside a namespace.
 *
 * @module
 */
import { join, normalize } from "node:path";

/** Spawns the server with `prefix` (e.g. `ip netns exec NS`); resolves once it listens. */
export async function startStaticServer(
  dir: string,
  prefix: string[] = [],
): Promise<{ port: number; stop(): Promise<void> }> {
  const child = new Deno.Command(prefix[0] ?? Deno.execPath(), {
    args: [
      ...(prefix.length ? [...prefix.slice(1), Deno.execPath()] : []),
      "run",
      "-A",
      "--no-prompt",
      new URL(import.meta.url).pathname,
      dir,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/port=\d+\n/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`static server exited before listening: ${text}`);
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {/* output after the port line is not needed */});
  const port = Number(/port=(\d+)/.exec(text)![1]);
  return {
    port,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch (e) {
        if (!(e instanceof TypeError)) throw e; // already exited
      }
      await child.status;
    },
  };
}

if (import.meta.main) {
  const root = Deno.args[0];
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: Number(Deno.args[1] ?? 0),
    onListen: ({ port }) => console.log(`port=${port}`),
  }, async (req) => {
    const rel = normalize(decodeURIComponent(new URL(req.url).pathname)).replace(/^\/+/, "");
    if (rel.startsWith("..")) return new Response("bad path", { status: 400 });
    try {
      const path = join(root, rel);
      const st = await Deno.stat(path);
      if (!st.isFile) return new Response("not a file", { status: 404 });
      const f = await Deno.open(path);
      return new Response(f.readable, { headers: { "content-length": String(st.size) } });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return new Response("not found", { status: 404 });
      throw e;
    }
  });
  Deno.addSignalListener("SIGTERM", () => server.shutdown());
  await server.finished;
}
