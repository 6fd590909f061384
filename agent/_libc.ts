/**
 * The one FFI module of the guest side: libc, opened lazily on first use.
 * Every wrapper reads errno through `__errno_location()` right after a failing
 * call (the calls are synchronous, nothing runs in between) and throws a
 * {@linkcode SyscallError} naming the call and its object.
 *
 * Needs `--allow-ffi` (the guest runs `deno run -A`).
 *
 * @module
 */
import { VolantError } from "../src/errors.ts";
import { errnoName } from "../src/shared/errno.ts";

const SYMBOLS = {
  mount: { parameters: ["buffer", "buffer", "buffer", "u64", "buffer"], result: "i32" },
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
  reboot: { parameters: ["i32"], result: "i32" },
  sync: { parameters: [], result: "void" },
  chroot: { parameters: ["buffer"], result: "i32" },
  chdir: { parameters: ["buffer"], result: "i32" },
  sethostname: { parameters: ["buffer", "usize"], result: "i32" },
  getpid: { parameters: [], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  // waitid(idtype, id, siginfo_t *, options)
  waitid: { parameters: ["i32", "u32", "buffer", "i32"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  // prctl is variadic; five longs is the C ABI on x86_64/aarch64.
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  sendto: {
    parameters: ["i32", "buffer", "usize", "i32", "pointer", "u32"],
    result: "isize",
  },
  recvfrom: {
    parameters: ["i32", "buffer", "usize", "i32", "pointer", "pointer"],
    result: "isize",
  },
  close: { parameters: ["i32"], result: "i32" },
  // The agent channel (channel.ts) and the identity hand-off (identity.ts): a port or the
  // console is read and written at once, each blocking call on its own thread (nonblocking:
  // the promise resolves when the call returns).
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
  // The same read on this thread, after poll() said it will not block (channel.ts drains a
  // port that hands out one 4 KiB buffer per read without a thread hop per buffer).
  readNow: { name: "read", parameters: ["i32", "buffer", "usize"], result: "isize" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "pointer", "pointer", "i32"], result: "i32", nonblocking: true },
  // glibc >= 2.33 exports mknod; optional so an older libc still loads the rest.
  mknod: { parameters: ["buffer", "u32", "u64"], result: "i32", optional: true },
  // ioctl is variadic; one pointer argument is the C ABI on x86_64/aarch64.
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  malloc_trim: { parameters: ["usize"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Libc | null = null;

function libc(): Libc {
  if (lib === null) lib = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  return lib;
}

/** errno numbers kestrel reacts to. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  ENOTDIR: 20,
  EINVAL: 22,
  EROFS: 30,
  ECHILD: 10,
  EACCES: 13,
  EAGAIN: 11,
} as const;

/** A failed syscall: `op` on `object` with `errno`. */
export class SyscallError extends VolantError {
  readonly errno: number;
  constructor(op: string, object: string, errno: number) {
    super("internal", `${op} ${object}: ${errnoName(errno)}`, {
      details: { op, object, errno },
    });
    this.errno = errno;
  }
}

export { errnoName };

function errno(l: Libc): number {
  const p = l.__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

function check(l: Libc, rc: number | bigint, op: string, object: string): number {
  const n = Number(rc);
  if (n < 0) throw new SyscallError(op, object, errno(l));
  return n;
}

const encoder = new TextEncoder();

/** NUL-terminated C string. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** mount(2) flags used by kestrel. */
export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  REMOUNT: 32,
  BIND: 4096,
  MOVE: 8192,
  RELATIME: 1 << 21,
} as const;

export const MNT_DETACH = 2;
export const RB_POWER_OFF = 0x4321fedc;
export const PR_SET_CHILD_SUBREAPER = 36;

export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null = null,
): void {
  const l = libc();
  const rc = l.mount(
    source === null ? null : cString(source),
    cString(target),
    fstype === null ? null : cString(fstype),
    BigInt(flags),
    data === null ? null : cString(data),
  );
  check(l, rc, "mount", `${source ?? "(none)"} on ${target}`);
}

export function umount2(target: string, flags: number): void {
  const l = libc();
  check(l, l.umount2(cString(target), flags), "umount", target);
}

export function reboot(cmd: number): void {
  const l = libc();
  check(l, l.reboot(cmd), "reboot", `0x${cmd.toString(16)}`);
}

/**
 * Gives the C heap's free memory back to the kernel (glibc `malloc_trim(0)`):
 * the boot's transient allocations otherwise stay resident in a guest that
 * counts every MiB.
 */
export function mallocTrim(): void {
  libc().malloc_trim(0n);
}

export function sync(): void {
  libc().sync();
}

export function chroot(path: string): void {
  const l = libc();
  check(l, l.chroot(cString(path)), "chroot", path);
}

export function chdir(path: string): void {
  const l = libc();
  check(l, l.chdir(cString(path)), "chdir", path);
}

export function sethostname(name: string): void {
  const l = libc();
  const bytes = encoder.encode(name);
  check(l, l.sethostname(bytes, BigInt(bytes.length)), "sethostname", name);
}

export function getpid(): number {
  return libc().getpid();
}

export function prctl(option: number, arg: number): void {
  const l = libc();
  check(l, l.prctl(option, BigInt(arg), 0n, 0n, 0n), "prctl", String(option));
}

export const P_ALL = 0;
export const WNOHANG = 1;
export const WEXITED = 4;
export const WNOWAIT = 0x01000000;

/**
 * waitid(P_ALL, ...) into a fresh siginfo_t; returns the pid it reports (0 when
 * no child is waitable) or -ECHILD when there are no children at all.
 */
export function waitidAny(options: number): number {
  const l = libc();
  const info = new Uint8Array(128);
  if (l.waitid(P_ALL, 0, info, options) < 0) {
    const e = errno(l);
    if (e === Errno.ECHILD) return -Errno.ECHILD;
    throw new SyscallError("waitid", "P_ALL", e);
  }
  // siginfo_t on 64-bit Linux: si_signo, si_errno, si_code (3 ints), padding, then si_pid at 16.
  return new DataView(info.buffer).getInt32(16, true);
}

/** waitpid(pid, &status, WNOHANG); returns the reaped pid, 0, or -errno. */
export function waitpidNoHang(pid: number): number {
  const l = libc();
  const status = new Uint8Array(4);
  const rc = l.waitpid(pid, status, WNOHANG);
  return rc < 0 ? -errno(l) : rc;
}

/** How an adopted child ended, as Deno reports a Deno.Command's status. */
export interface WaitStatus {
  code: number;
  signal: Deno.Signal | null;
}

const SIGNAL_NAMES: Record<number, Deno.Signal> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  4: "SIGILL",
  6: "SIGABRT",
  7: "SIGBUS",
  8: "SIGFPE",
  9: "SIGKILL",
  10: "SIGUSR1",
  11: "SIGSEGV",
  12: "SIGUSR2",
  13: "SIGPIPE",
  14: "SIGALRM",
  15: "SIGTERM",
};

/** A raw wait status decoded like Deno does: code 128+n for signal n. */
export function decodeWaitStatus(raw: number): WaitStatus {
  const sig = raw & 0x7f;
  if (sig === 0) return { code: (raw >> 8) & 0xff, signal: null };
  return { code: 128 + sig, signal: SIGNAL_NAMES[sig] ?? null };
}

/** waitpid(pid, &status, WNOHANG): null when nothing to reap yet (or no such child). */
export function waitpidStatus(pid: number): WaitStatus | null {
  const l = libc();
  const status = new Uint8Array(4);
  const rc = l.waitpid(pid, status, WNOHANG);
  if (rc !== pid) return null;
  return decodeWaitStatus(new DataView(status.buffer).getInt32(0, true));
}

export function socket(domain: number, type: number, protocol: number, object: string): number {
  const l = libc();
  return check(l, l.socket(domain, type, protocol), "socket", object);
}

export function bind(fd: number, addr: Uint8Array<ArrayBuffer>, object: string): void {
  const l = libc();
  check(l, l.bind(fd, addr, addr.byteLength), "bind", object);
}

export function send(fd: number, data: Uint8Array<ArrayBuffer>, object: string): number {
  const l = libc();
  return check(l, l.sendto(fd, data, BigInt(data.byteLength), 0, null, 0), "sendto", object);
}

export function recv(fd: number, buf: Uint8Array<ArrayBuffer>, flags: number, object: string) {
  const l = libc();
  return check(l, l.recvfrom(fd, buf, BigInt(buf.byteLength), flags, null, null), "recv", object);
}

export function close(fd: number): void {
  const l = libc();
  check(l, l.close(fd), "close", `fd ${fd}`);
}

/** The interface index of `name`, or 0 when there is no such interface. */
export function ifNameToIndex(name: string): number {
  return libc().if_nametoindex(cString(name));
}

/** kill(2) with a raw pid (PID 1 uses -1: every process but itself). ESRCH is not an error. */
export function kill(pid: number, signal: number): void {
  const l = libc();
  if (l.kill(pid, signal) < 0) {
    const e = errno(l);
    if (e !== Errno.ESRCH) throw new SyscallError("kill", String(pid), e);
  }
}

export const SIGKILL = 9;
export const SIGTERM = 15;

export const O_RDWR = 0o2;
export const O_NOCTTY = 0o400;
export const O_CLOEXEC = 0o2000000;
export const S_IFCHR = 0o020000;

/** open(2); returns the fd. */
export function open(path: string, flags: number): number {
  const l = libc();
  return check(l, l.open(cString(path), flags, 0), "open", path);
}

/** ioctl(2) with a pointer argument (or none: null). */
export function ioctl(
  fd: number,
  request: number,
  arg: Uint8Array<ArrayBuffer> | null,
  object: string,
) {
  const l = libc();
  return check(l, l.ioctl(fd, BigInt(request), arg), `ioctl 0x${request.toString(16)}`, object);
}

/** A character device node (when devtmpfs has not made it). */
export function mknod(path: string, mode: number, major: number, minor: number): void {
  const l = libc();
  if (!l.mknod) throw new VolantError("unavailable", `mknod ${path}: libc has no mknod`);
  // Linux's dev_t encoding (makedev in sys/sysmacros.h).
  const dev = (BigInt(major & 0xfff) << 8n) | (BigInt(major >>> 12) << 44n) |
    BigInt(minor & 0xff) | (BigInt(minor >>> 8) << 20n);
  check(l, l.mknod(cString(path), mode, dev), "mknod", path);
}

/**
 * A blocking read on its own thread: bytes read, 0 at end of file. errno is
 * that thread's, so a failure names the call only.
 */
export async function readAsync(fd: number, buf: Uint8Array<ArrayBuffer>): Promise<number> {
  const n = Number(await libc().read(fd, buf, BigInt(buf.byteLength)));
  if (n < 0) throw new SyscallError("read", `fd ${fd}`, 0);
  return n;
}

const POLLIN = 0x1;

/**
 * Reads into `buf` from `at` on this thread while `fd` has data ready now
 * (poll with no wait) and room is left; returns the new end. Stops at end of
 * file or an error, which the next {@linkcode readAsync} then reports.
 */
export function readReady(fd: number, buf: Uint8Array<ArrayBuffer>, at: number): number {
  const l = libc();
  const pfd = new Uint8Array(8);
  const v = new DataView(pfd.buffer);
  v.setInt32(0, fd, true);
  v.setInt16(4, POLLIN, true);
  while (at < buf.byteLength) {
    v.setInt16(6, 0, true);
    if (l.poll(pfd, 1n, 0) !== 1 || (v.getInt16(6, true) & POLLIN) === 0) break;
    const n = Number(l.readNow(fd, buf.subarray(at), BigInt(buf.byteLength - at)));
    if (n <= 0) break;
    at += n;
  }
  return at;
}

/** Writes all of `data` (blocking calls on another thread). */
export async function writeAllAsync(fd: number, data: Uint8Array<ArrayBuffer>): Promise<void> {
  for (let at = 0; at < data.byteLength;) {
    const part = data.subarray(at);
    const n = Number(await libc().write(fd, part, BigInt(part.byteLength)));
    if (n <= 0) throw new SyscallError("write", `fd ${fd}`, 0);
    at += n;
  }
}

export function listen(fd: number, backlog: number, object: string): void {
  const l = libc();
  check(l, l.listen(fd, backlog), "listen", object);
}

/** Waits for a connection on its own thread; the new fd. */
export async function acceptAsync(fd: number, object: string): Promise<number> {
  const n = await libc().accept4(fd, null, null, O_CLOEXEC);
  if (n < 0) throw new SyscallError("accept", object, 0);
  return n;
}
