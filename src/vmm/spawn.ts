/**
 * Starts a VMM detached: its own session (so a daemon restart or crash does not
 * take it down), stdin from /dev/null, stdout+stderr appended to a log file,
 * no other descriptor inherited, default signal dispositions and an empty mask.
 *
 * One posix_spawn(3) with POSIX_SPAWN_SETSID through the host's libc binding:
 * Deno's `detached` spawn forks the whole daemon (~5 ms here) and redirecting
 * through `sh -c exec` costs another ~5 ms, all of it on the path to the
 * guest's first instruction. The VMM is our child, so its pid cannot be reused
 * before we reap it; `status` reaps it with waitid(2) on SIGCHLD (Deno's
 * signal listeners and unref'd timers do not keep the daemon alive, so it may
 * still exit while VMs run).
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import { cString, errno, type Libc, libc } from "../ffi/libc.ts";
import { errnoName } from "../shared/errno.ts";
import { readStat } from "./proc.ts";

/** How a process ended: an exit code, or the signal that killed it. */
export interface ExitStatus {
  code: number | null;
  signal: string | null;
}

/** A freshly spawned, detached VMM. */
export interface SpawnedVmm {
  pid: number;
  startTime: string;
  /** The argv the VMM runs with (what /proc/<pid>/cmdline shows). */
  argv: string[];
  /** Resolves once the VMM exits (and is reaped); does not keep the daemon alive. */
  status: Promise<ExitStatus>;
}

/** Safety-net poll of own children's exits; SIGCHLD normally reports them at once. */
export const CHILD_POLL_MS = 1000;

const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
const O_RDONLY = 0;
const O_WRONLY = 1;
const O_CREAT = 0o100;
const O_APPEND = 0o2000;
const P_PID = 1;
const WEXITED = 4;
const WNOHANG = 1;
const CLD_EXITED = 1;
const EINTR = 4;
const SIGNALS = [
  "",
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGILL",
  "SIGTRAP",
  "SIGABRT",
  "SIGBUS",
  "SIGFPE",
  "SIGKILL",
  "SIGUSR1",
  "SIGSEGV",
  "SIGUSR2",
  "SIGPIPE",
  "SIGALRM",
  "SIGTERM",
];

function ffi(): Libc {
  try {
    return libc();
  } catch (e) {
    throw new VolantError(
      "unavailable",
      `starting a VMM needs FFI (run with --allow-ffi): ${(e as Error).message}`,
      { cause: e },
    );
  }
}

/** A NULL-terminated array of C strings; `keep` holds the strings alive across the call. */
function cArray(items: string[]): { array: BigUint64Array<ArrayBuffer>; keep: Uint8Array[] } {
  const keep = items.map(cString);
  const array = new BigUint64Array(items.length + 1);
  keep.forEach((s, i) => array[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(s))));
  return { array, keep };
}

function check(rc: number, what: string, binary: string): void {
  if (rc !== 0) {
    throw new VolantError("upstream", `cannot start ${binary}: ${what}: ${errnoName(rc)}`);
  }
}

/** Extras of a spawn: a wrapper that execs the VMM, descriptors handed over. */
export interface SpawnExtras {
  /** Runs first and execs `argv` in place (same pid): e.g. the jail's cgroup join + setpriv. */
  wrapper?: string[];
  /** Our fds that the VMM gets as 3, 4, ... (in this order). */
  fds?: number[];
}

/**
 * Spawns `argv` detached with output appended to `logPath`. `argv[0]` must be
 * absolute. With a wrapper, the process runs `[...wrapper, ...argv]`, and the
 * returned `argv` is what it shows once the wrapper has exec'd.
 */
export async function spawnDetached(
  argv: string[],
  logPath: string,
  extras: SpawnExtras = {},
): Promise<SpawnedVmm> {
  const fds = extras.fds ?? [];
  const run = [...(extras.wrapper ?? []), ...argv];
  const binary = run[0];
  if (!binary?.startsWith("/")) {
    throw new VolantError("internal", `VMM binary must be an absolute path, got ${binary}`);
  }
  const lib = ffi();
  // glibc's posix_spawn_file_actions_t is 80 bytes and posix_spawnattr_t 336: room to spare.
  const actions = new Uint8Array(256);
  const attr = new Uint8Array(512);
  const noSignals = new Uint8Array(128); // sigset_t, empty
  const allSignals = new Uint8Array(128).fill(0xff);
  const args = cArray(run);
  const env = cArray(Object.entries(Deno.env.toObject()).map(([k, v]) => `${k}=${v}`));
  const devNull = cString("/dev/null");
  const log = cString(logPath);
  const pid = new Int32Array(1);
  check(lib.posix_spawn_file_actions_init(actions), "file actions", binary);
  check(lib.posix_spawnattr_init(attr), "spawn attributes", binary);
  let rc: number;
  try {
    check(lib.posix_spawn_file_actions_addopen(actions, 0, devNull, O_RDONLY, 0), "stdin", binary);
    check(
      lib.posix_spawn_file_actions_addopen(actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600),
      `open ${logPath}`,
      binary,
    );
    check(lib.posix_spawn_file_actions_adddup2(actions, 1, 2), "stderr", binary);
    for (const [i, fd] of fds.entries()) {
      // Our fds are close-on-exec and well above 3+i (Deno holds many), so dup2 clears it.
      check(lib.posix_spawn_file_actions_adddup2(actions, fd, 3 + i), `pass fd ${fd}`, binary);
    }
    if (lib.posix_spawn_file_actions_addclosefrom_np) {
      check(
        lib.posix_spawn_file_actions_addclosefrom_np(actions, 3 + fds.length),
        "close fds",
        binary,
      );
    }
    const flags = POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    check(lib.posix_spawnattr_setflags(attr, flags), "flags", binary);
    check(lib.posix_spawnattr_setsigmask(attr, noSignals), "signal mask", binary);
    // Deno ignores SIGPIPE; the VMM gets every disposition back at its default.
    check(lib.posix_spawnattr_setsigdefault(attr, allSignals), "signal defaults", binary);
    rc = lib.posix_spawn(pid, args.keep[0], actions, attr, args.array, env.array);
  } finally {
    lib.posix_spawn_file_actions_destroy(actions);
    lib.posix_spawnattr_destroy(attr);
  }
  // An exec failure comes back here (glibc's posix_spawn waits for the exec), child reaped.
  check(rc, "exec", binary);
  const status = watchChild(lib, pid[0]);
  const stat = await readStat(pid[0]);
  if (!stat) {
    const s = await keepingAlive(status);
    throw new VolantError(
      "upstream",
      `VMM exited immediately (code ${s.code}, signal ${s.signal})`,
    );
  }
  return { pid: pid[0], startTime: stat.startTime, argv, status };
}

/** Own children not yet reaped, and who waits for each. */
const watched = new Map<number, (s: ExitStatus) => void>();
let fallback: ReturnType<typeof setInterval> | undefined;

/** The exit status of `pid` if it has exited (and reaps it), else null. */
function reap(lib: Libc, pid: number): ExitStatus | null {
  const info = new Uint8Array(128); // siginfo_t
  const view = new DataView(info.buffer);
  while (lib.waitid(P_PID, pid, info, WEXITED | WNOHANG) !== 0) {
    // ECHILD: reaped elsewhere, so it has exited, its status unknown to us.
    if (errno() !== EINTR) return { code: null, signal: null };
  }
  if (view.getInt32(16, true) !== pid) return null; // si_pid stays 0 while it runs
  const code = view.getInt32(8, true); // si_code
  const value = view.getInt32(24, true); // si_status
  return code === CLD_EXITED
    ? { code: value, signal: null }
    : { code: null, signal: SIGNALS[value] ?? `signal ${value}` };
}

function reapAll(lib: Libc): void {
  for (const [pid, resolve] of watched) {
    const status = reap(lib, pid);
    if (!status) continue;
    watched.delete(pid);
    resolve(status);
  }
  if (watched.size === 0 && fallback !== undefined) {
    Deno.removeSignalListener("SIGCHLD", onChild);
    clearInterval(fallback);
    fallback = undefined;
  }
}

function onChild(): void {
  reapAll(libc());
}

/**
 * Resolves once `pid` (our child) exits, reaping it. Driven by SIGCHLD, with a
 * slow poll as a safety net; neither keeps the daemon alive.
 */
function watchChild(lib: Libc, pid: number): Promise<ExitStatus> {
  const status = new Promise<ExitStatus>((resolve) => watched.set(pid, resolve));
  if (fallback === undefined) {
    Deno.addSignalListener("SIGCHLD", onChild);
    fallback = setInterval(onChild, CHILD_POLL_MS);
    Deno.unrefTimer(fallback);
  }
  reapAll(lib); // it may have exited before the listener was there
  return status;
}

/**
 * Awaits `p` with a ref'd timer running: exit watching is unref'd, so an
 * explicit wait (kill, shutdown, a failed boot) must keep the process alive.
 */
export async function keepingAlive<T>(p: Promise<T>): Promise<T> {
  const timer = setInterval(() => {}, 60_000);
  try {
    return await p;
  } finally {
    clearInterval(timer);
  }
}

/** Resolves `name` on PATH to an absolute path (or returns it if already absolute). */
export async function resolveBinary(name: string): Promise<string | null> {
  const candidates = name.includes("/")
    ? [name]
    : (Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":").map((d) =>
      `${d}/${name}`
    );
  for (const c of candidates) {
    if (!c.startsWith("/")) continue;
    try {
      const st = await Deno.stat(c);
      if (st.isFile && st.mode !== null && (st.mode & 0o111) !== 0) return await Deno.realPath(c);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied)) {
        throw e;
      }
    }
  }
  return null;
}
