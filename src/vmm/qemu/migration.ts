/**
 * QEMU device state + RAM to and from a file, through QMP migration over a
 * unix socket the daemon serves: `migrate unix:<sock>` (we accept and copy
 * the stream into the file) and, on restore, `-incoming defer` +
 * `migrate-incoming unix:<sock>` (QEMU listens, we connect and send the
 * file). QEMU 7.2 has no `file:` URI, and `exec:` needs a shell, which the
 * jail's seccomp filter (`spawn=deny`) forbids; a socket works jailed or not.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import { sleep } from "../exit_watch.ts";
import { qmpExecute } from "./qmp.ts";

/** Bytes/s QEMU may send: the default (32 MiB/s) would make a 256 MiB save take 8 s. */
const MAX_BANDWIDTH = 64 * 1024 * 1024 * 1024;

/** What `query-migrate` says (the fields we read). */
interface MigrateInfo {
  status?: string;
  "error-desc"?: string;
  ram?: { transferred?: number; total?: number };
}

/**
 * Saves the VM behind `qmp` into `file` (created, mode 0600). The VM is
 * stopped first and stays stopped ("postmigrate") with its block devices
 * flushed and inactive, so the caller can copy disk overlays consistently and
 * then `cont` or quit. Returns the stream's size.
 */
export async function saveState(
  qmp: string,
  socketPath: string,
  file: string,
  opts: { timeoutMs?: number; ignoreShared?: boolean } = {},
): Promise<number> {
  const timeoutMs = opts.timeoutMs ?? 600_000;
  await removeStale(socketPath);
  const listener = Deno.listen({ transport: "unix", path: socketPath });
  // A jailed QEMU runs as its own user and must be able to connect.
  await Deno.chmod(socketPath, 0o666);
  let bytes = 0;
  try {
    await qmpExecute(qmp, "stop");
    await setIgnoreShared(qmp, opts.ignoreShared === true);
    await qmpExecute(qmp, "migrate-set-parameters", { "max-bandwidth": MAX_BANDWIDTH });
    const accepted = listener.accept();
    await qmpExecute(qmp, "migrate", { uri: `unix:${socketPath}` });
    const conn = await withTimeout(accepted, 10_000, "QEMU did not connect to the save socket");
    const out = await Deno.open(file, { write: true, createNew: true, mode: 0o600 });
    try {
      for await (const chunk of conn.readable) {
        bytes += chunk.length;
        await writeAll(out, chunk);
      }
      await out.sync();
    } finally {
      out.close();
    }
    await waitMigration(qmp, ["completed"], timeoutMs);
    return bytes;
  } catch (e) {
    await Deno.remove(file).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
    if (e instanceof VolantError) throw e;
    throw new VolantError("upstream", `saving the VM state failed: ${String(e)}`, { cause: e });
  } finally {
    listener.close();
    await removeStale(socketPath);
  }
}

/**
 * Feeds `file` to a QEMU started with `-incoming defer` (and `-S`): it
 * listens on `socketPath`, we send the stream, and QEMU loads it and stays
 * paused. A stream QEMU cannot load makes it exit (QEMU 7.2 exits on a failed
 * incoming migration), which the caller sees as the VMM dying.
 */
export async function loadState(
  qmp: string,
  socketPath: string,
  file: string,
  signal: AbortSignal,
  opts: { ignoreShared?: boolean } = {},
): Promise<void> {
  await removeStale(socketPath);
  // Both ends must agree: the stream of a format-2 snapshot lists the RAM block but holds
  // none of its pages (the mapped image has them).
  await setIgnoreShared(qmp, opts.ignoreShared === true);
  await qmpExecute(qmp, "migrate-incoming", { uri: `unix:${socketPath}` });
  let conn: Deno.UnixConn | undefined;
  while (!conn) {
    signal.throwIfAborted();
    try {
      conn = await Deno.connect({ transport: "unix", path: socketPath });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.ConnectionRefused)) {
        throw e;
      }
      await sleep(10, signal);
    }
  }
  const input = await Deno.open(file, { read: true });
  try {
    await input.readable.pipeTo(conn.writable, { signal });
  } catch (e) {
    // QEMU closes its end when it rejects the stream: the status below says why.
    if (!(e instanceof Deno.errors.BrokenPipe || e instanceof Deno.errors.ConnectionReset)) {
      throw e;
    }
  }
  // Loaded = QEMU left "inmigrate" for "paused" (-S keeps it there).
  while (true) {
    signal.throwIfAborted();
    const st = (await qmpExecute(qmp, "query-status")) as { status: string };
    if (st.status === "paused" || st.status === "running") return;
    if (st.status !== "inmigrate") {
      throw new VolantError("upstream", `QEMU is ${st.status} after loading the VM state`);
    }
    await sleep(20, signal);
  }
}

/**
 * `x-ignore-shared`: RAM in a shared backend (the memfd) is left out of the
 * stream, which then holds device state only (KiB instead of the guest's RAM).
 * Always set, to false too: a VMM keeps capabilities between migrations.
 */
export async function setIgnoreShared(qmp: string, on: boolean): Promise<void> {
  await qmpExecute(qmp, "migrate-set-capabilities", {
    capabilities: [{ capability: "x-ignore-shared", state: on }],
  });
}

/** Polls query-migrate until one of `done`; throws on failed/cancelled or timeout. */
async function waitMigration(qmp: string, done: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const info = (await qmpExecute(qmp, "query-migrate")) as MigrateInfo;
    if (info.status && done.includes(info.status)) return;
    if (info.status === "failed" || info.status === "cancelled") {
      throw new VolantError(
        "upstream",
        `QEMU migration ${info.status}: ${info["error-desc"] ?? "no reason given"}`,
      );
    }
    if (Date.now() > deadline) {
      throw new VolantError(
        "upstream",
        `QEMU migration still ${info.status} after ${timeoutMs} ms`,
      );
    }
    await sleep(20);
  }
}

async function writeAll(f: Deno.FsFile, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await f.write(data.subarray(off));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new VolantError("upstream", `${what} within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

async function removeStale(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
