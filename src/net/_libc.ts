/**
 * The one FFI module on the host side: opens libc with `Deno.dlopen` and
 * exposes typed wrappers. Every wrapper reads errno through
 * `__errno_location()` immediately after a failing call (the calls are
 * synchronous, so nothing runs in between) and throws a {@linkcode NetError}
 * naming the operation and the object.
 *
 * Needs `--allow-ffi` (not `--allow-ffi=libc.so.6`: that resolves the name
 * against the working directory). libc is opened lazily, on first use.
 *
 * @module
 */
import { NetError } from "./errno.ts";

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  sendto: {
    parameters: ["i32", "buffer", "usize", "i32", "pointer", "u32"],
    result: "isize",
  },
  recvfrom: {
    parameters: ["i32", "buffer", "usize", "i32", "pointer", "pointer"],
    result: "isize",
  },
  close: { parameters: ["i32"], result: "i32" },
  // open(2) is variadic; on x86_64/aarch64 passing the mode as a third int is the C ABI.
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  // ioctl(2) is variadic: one binding for a pointer argument, one for an integer argument.
  ioctl: { name: "ioctl", parameters: ["i32", "u64", "buffer"], result: "i32" },
  ioctl_int: { name: "ioctl", parameters: ["i32", "u64", "u64"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Libc | null = null;

function libc(): Libc {
  if (lib === null) lib = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  return lib;
}

/** errno of the calling thread; call only right after a failing libc call. */
function errno(l: Libc): number {
  const p = l.__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

/** Throws a NetError if `rc` signals failure (-1), else returns it as a number. */
function check(l: Libc, rc: number | bigint, op: string, object: string): number {
  const n = Number(rc);
  if (n < 0) throw new NetError(op, object, errno(l));
  return n;
}

const encoder = new TextEncoder();

/** NUL-terminated C string. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(encoder.encode(s).length + 1);
  encoder.encodeInto(s, b);
  return b;
}

export function socket(domain: number, type: number, protocol: number, object: string): number {
  const l = libc();
  return check(l, l.socket(domain, type, protocol), "socket", object);
}

export function bind(fd: number, addr: Uint8Array<ArrayBuffer>, object: string): void {
  const l = libc();
  check(l, l.bind(fd, addr, addr.byteLength), "bind", object);
}

export function setsockopt(
  fd: number,
  level: number,
  name: number,
  value: Uint8Array<ArrayBuffer>,
  object: string,
): void {
  const l = libc();
  check(l, l.setsockopt(fd, level, name, value, value.byteLength), "setsockopt", object);
}

/** sendto(2) to no explicit address (netlink sockets default to the kernel). */
export function send(
  fd: number,
  data: Uint8Array<ArrayBuffer>,
  op: string,
  object: string,
): number {
  const l = libc();
  return check(l, l.sendto(fd, data, BigInt(data.byteLength), 0, null, 0), op, object);
}

/** recvfrom(2) into `buf`; returns the byte count. */
export function recv(
  fd: number,
  buf: Uint8Array<ArrayBuffer>,
  flags: number,
  op: string,
  object: string,
): number {
  const l = libc();
  return check(l, l.recvfrom(fd, buf, BigInt(buf.byteLength), flags, null, null), op, object);
}

export function close(fd: number): void {
  const l = libc();
  check(l, l.close(fd), "close", `fd ${fd}`);
}

export function open(path: string, flags: number, object = path): number {
  const l = libc();
  return check(l, l.open(cString(path), flags, 0), "open", object);
}

/** ioctl with a pointer argument (a struct the kernel reads or fills). */
export function ioctl(
  fd: number,
  request: number,
  arg: Uint8Array<ArrayBuffer>,
  op: string,
  object: string,
): number {
  const l = libc();
  return check(l, l.ioctl(fd, BigInt(request), arg), op, object);
}

/** ioctl with an integer argument (TUNSETPERSIST, TUNSETOWNER). */
export function ioctlInt(
  fd: number,
  request: number,
  arg: number,
  op: string,
  object: string,
): number {
  const l = libc();
  return check(l, l.ioctl_int(fd, BigInt(request), BigInt(arg)), op, object);
}
