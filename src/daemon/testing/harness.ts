/**
 * Starts the real daemon (`deno run -A src/main.ts volantd ...`) as a child
 * process on a real unix socket in a temp dir, and talks to it with fetch
 * over that socket. Used by tests/integration/daemon_*_test.ts and the bench.
 *
 * @module
 */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

export interface DaemonProcess {
  dir: string;
  stateDir: string;
  socket: string;
  /** TCP address when started with `listen`. */
  listen?: string;
  pid: number;
  /** fetch through the unix socket (`path` like `/api/v1/vms`). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Everything the daemon wrote to stderr so far. */
  stderr(): string;
  /** Sends `signal`, waits for exit, returns the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
  /** Removes the temp dir (after stop). */
  cleanup(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

export interface StartOptions {
  /** Reuse a dir (restart tests); default a new temp dir. */
  dir?: string;
  /** Add `--listen 127.0.0.1:<free port>`. */
  tcp?: boolean;
  extraArgs?: string[];
  env?: Record<string, string>;
  /**
   * Let the daemon set up host networking (bridge + NAT). Only together with
   * `wrap: ["unshare", "-n"]`: the daemon must run in a network namespace of
   * its own, never the host's.
   */
  hostNetwork?: boolean;
  /** Command prefix, e.g. `["unshare", "-n"]` (unshare execs, so the pid is the daemon's). */
  wrap?: string[];
  /** TOML written to `<dir>/volantd.toml` and named by VOLANT_CONFIG (default empty, so /etc stays out). */
  configText?: string;
  readyTimeoutMs?: number;
}

/** Starts the daemon and waits until /healthz answers on the socket. */
export async function startDaemonProcess(opts: StartOptions = {}): Promise<DaemonProcess> {
  const dir = opts.dir ?? await Deno.makeTempDir({ prefix: "volantd-it-" });
  const stateDir = `${dir}/state`;
  const socket = `${dir}/volantd.sock`;
  const listen = opts.tcp ? `127.0.0.1:${freePort()}` : undefined;
  const args = [
    "run",
    "-A",
    MAIN,
    "volantd",
    "--state-dir",
    stateDir,
    "--socket",
    socket,
    "--runtime-dir",
    `${dir}/run`,
    "--cache-dir",
    `${dir}/cache`,
    ...(opts.hostNetwork ? [] : ["--no-host-network"]),
    ...(listen ? ["--listen", listen] : []),
    ...(opts.extraArgs ?? []),
  ];
  if (opts.hostNetwork && !(opts.wrap?.[0] === "unshare" && opts.wrap.includes("-n"))) {
    throw new Error("hostNetwork needs wrap: ['unshare', '-n'] (never touch the host's network)");
  }
  await Deno.writeTextFile(`${dir}/volantd.toml`, opts.configText ?? "");
  const [cmd, ...prefix] = opts.wrap ? [...opts.wrap, Deno.execPath()] : [Deno.execPath()];
  const child = new Deno.Command(cmd, {
    args: [...prefix, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1", VOLANT_CONFIG: `${dir}/volantd.toml`, ...opts.env },
  }).spawn();
  let err = "";
  const decoder = new TextDecoder();
  const pump = (async () => {
    for await (const chunk of child.stderr) err += decoder.decode(chunk, { stream: true });
  })();
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  const doFetch = (path: string, init: RequestInit = {}) =>
    fetch(`http://volantd${path}`, { ...init, client });
  let exited: Deno.CommandStatus | null = null;
  const statusPromise = child.status.then((s) => (exited = s));
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  while (true) {
    if (exited) {
      await pump;
      client.close();
      throw new Error(`volantd exited early (${(exited as Deno.CommandStatus).code}):\n${err}`);
    }
    try {
      const res = await doFetch("/healthz");
      await res.body?.cancel();
      if (res.ok) break;
    } catch (error) {
      if (!(error instanceof TypeError)) throw error; // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await statusPromise;
      client.close();
      throw new Error(`volantd not ready after timeout:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    dir,
    stateDir,
    socket,
    listen,
    pid: child.pid,
    fetch: doFetch,
    stderr: () => err,
    async stop(signal: Deno.Signal = "SIGTERM") {
      if (!exited) child.kill(signal);
      const status = await statusPromise;
      await pump;
      client.close();
      return status.code;
    },
    async cleanup() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}
