/**
 * Test helpers for the client and volar: the real API app (real services,
 * real SQLite file, from src/api/testing) served by Deno.serve on a real
 * unix socket in a temp dir, optionally also on TCP 127.0.0.1 with the test
 * token. Routes that need a *running* VM (console, logs) can get a stub VM
 * service (src/api/testing/stub_vms.ts), because a running VM needs QEMU and
 * a network namespace; the e2e tests cover those for real.
 *
 * Also a unix-socket relay whose connections can be cut, to test SSE resume
 * after a disconnect without restarting the server, and a serial line
 * (greeting + echo on a unix socket) for console tests.
 *
 * @module
 */
import { createApp } from "../api/app.ts";
import { fileLogReader } from "../api/log_reader.ts";
import { type ApiFixture, apiFixture, TEST_TOKEN } from "../api/testing/fixtures.ts";
import type { VmServiceApi } from "../service/contracts.ts";
import { stubVms, vmRecord } from "../api/testing/stub_vms.ts";

export { TEST_TOKEN, writePlugin } from "../api/testing/fixtures.ts";
export { stubVms, vmRecord } from "../api/testing/stub_vms.ts";

/** A served app. */
export interface ServedApi {
  fixture: ApiFixture;
  /** The unix socket path. */
  socket: string;
  /** `http://127.0.0.1:<port>` when `tcp` was asked for. */
  url?: string;
  close(): Promise<void>;
}

/**
 * Serves the real app on `<tmp>/api.sock` (and TCP when asked). `vms`
 * replaces the VM service (e.g. stubVms for a running VM's console/logs).
 */
export async function serveApi(
  opts: { tcp?: boolean; vms?: VmServiceApi } = {},
): Promise<ServedApi> {
  const fixture = await apiFixture();
  const app = opts.vms
    ? createApp({
      services: { ...fixture.services, vms: opts.vms },
      auth: { token: TEST_TOKEN },
      heartbeatMs: 100,
      logs: fileLogReader(),
    })
    : fixture.app;
  const socket = `${fixture.dir}/api.sock`;
  const unix = Deno.serve(
    { transport: "unix", path: socket, onListen() {} },
    (req) => app.fetch(req, { transport: "unix" }),
  );
  const tcp = opts.tcp
    ? Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req) => app.fetch(req, { transport: "tcp" }),
    )
    : undefined;
  return {
    fixture,
    socket,
    url: tcp ? `http://127.0.0.1:${tcp.addr.port}` : undefined,
    async close() {
      // Waits for open responses: tests end their streams (SSE, follow) first.
      await Promise.all([unix.shutdown(), tcp?.shutdown()]);
      await fixture.close();
    },
  };
}

/** A unix socket relay in front of `target`; `cut()` drops every open connection. */
export interface Relay {
  path: string;
  cut(): void;
  close(): Promise<void>;
}

async function pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(16384);
  while (true) {
    let n: number | null;
    try {
      n = await from.read(buf);
    } catch (error) {
      if (
        error instanceof Deno.errors.BadResource || error instanceof Deno.errors.ConnectionReset ||
        error instanceof Deno.errors.Interrupted
      ) return;
      throw error;
    }
    if (n === null) return;
    let off = 0;
    try {
      while (off < n) off += await to.write(buf.subarray(off, n));
    } catch (error) {
      if (
        error instanceof Deno.errors.BadResource || error instanceof Deno.errors.BrokenPipe ||
        error instanceof Deno.errors.ConnectionReset
      ) return;
      throw error;
    }
  }
}

function closeQuietly(c: Deno.Conn): void {
  try {
    c.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}

/** Starts a relay at `path` forwarding to the unix socket `target`. */
export function startRelay(path: string, target: string): Relay {
  const listener = Deno.listen({ transport: "unix", path });
  const open = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  const loop = (async () => {
    for await (const client of listener) {
      const upstream = await Deno.connect({ transport: "unix", path: target });
      open.add(client);
      open.add(upstream);
      const task = Promise.all([pipe(client, upstream), pipe(upstream, client)]).then(() => {
        closeQuietly(client);
        closeQuietly(upstream);
        open.delete(client);
        open.delete(upstream);
      });
      tasks.add(task);
      task.finally(() => tasks.delete(task));
    }
  })();
  return {
    path,
    cut() {
      for (const c of open) closeQuietly(c);
    },
    async close() {
      listener.close();
      for (const c of open) closeQuietly(c);
      await loop.catch((error) => {
        if (!(error instanceof Deno.errors.BadResource)) throw error;
      });
      await Promise.all(tasks);
    },
  };
}

/** A serial line: greets, then echoes each chunk back as `echo:<chunk>`. */
export function serveSerial(path: string): { close(): Promise<void> } {
  const listener = Deno.listen({ transport: "unix", path });
  const conns = new Set<Deno.Conn>();
  const enc = new TextEncoder();
  const loop = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      (async () => {
        await conn.write(enc.encode("welcome\r\n"));
        const buf = new Uint8Array(1024);
        while (true) {
          const n = await conn.read(buf).catch((error) => {
            if (
              error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted
            ) return null;
            throw error;
          });
          if (n === null) break;
          await conn.write(new Uint8Array([...enc.encode("echo:"), ...buf.subarray(0, n)]));
        }
        conns.delete(conn);
      })();
    }
  })();
  let closed = false;
  return {
    async close() {
      if (closed) return;
      closed = true;
      listener.close();
      for (const c of conns) c.close();
      await loop.catch((error) => {
        if (!(error instanceof Deno.errors.BadResource)) throw error;
      });
    },
  };
}

/**
 * The console fixture: a served API whose stub VM `web` runs with a live
 * serial line and a 4-line serial log, and `off` is stopped. Always `close()`.
 */
export async function serveConsoleFixture(
  prefix: string,
): Promise<{ dir: string; api: ServedApi; close(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix });
  const serial = serveSerial(`${dir}/serial.sock`);
  await Deno.writeTextFile(`${dir}/serial.log`, "line1\nline2\nline3\nline4\n");
  const vms = stubVms([vmRecord({ name: "web" }), vmRecord({ name: "off", state: "stopped" })], {
    web: {
      name: "web",
      state: "running",
      serialSocket: `${dir}/serial.sock`,
      serialLog: `${dir}/serial.log`,
    },
    off: { name: "off", state: "stopped", serialLog: `${dir}/off.log` },
  });
  const api = await serveApi({ vms });
  return {
    dir,
    api,
    async close() {
      await api.close();
      await serial.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
