/**
 * src/net's view of libc (opened once for the whole host side in
 * src/ffi/libc.ts): typed wrappers for sockets, open and ioctl. Every wrapper
 * reads errno right after a failing call (the calls are synchronous, so
 * nothing runs in between) and throws a {@linkcode NetError} naming the
 * operation and the object.
 *
 * @module
 */
import * as ffi from "../ffi/libc.ts";
import { NetError } from "./errno.ts";

type Libc = ffi.Libc;

const libc = ffi.libc;

/** Throws a NetError if `rc` signals failure (-1), else returns it as a number. */
function check(_l: Libc, rc: number | bigint, op: string, object: string): number {
  const n = Number(rc);
  if (n < 0) throw new NetError(op, object, ffi.errno());
  return n;
}

/** NUL-terminated C string. */
export const cString = ffi.cString;

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
