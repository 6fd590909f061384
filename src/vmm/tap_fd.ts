/**
 * Opens a queue of an existing persistent TAP for a jailed VMM: the daemon
 * (root) attaches to the TAP and hands the fd over at spawn, so the VMM needs
 * neither /dev/net/tun (mode 0600 on many hosts) nor CAP_NET_ADMIN.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import { cString, errno, libc } from "../ffi/libc.ts";
import { errnoName } from "../shared/errno.ts";

const TUNSETIFF = 0x400454ca;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
/** The daemon's TAPs carry the virtio-net header (src/net/tap.ts); QEMU probes it on the fd. */
const IFF_VNET_HDR = 0x4000;
const O_RDWR = 2;
const O_CLOEXEC = 0x80000;

/** An fd attached to TAP `name` (close-on-exec: spawn dup2s it into the VMM). */
export function openTapFd(name: string): number {
  const lib = libc();
  const fd = lib.open(cString("/dev/net/tun"), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) {
    throw new VolantError("upstream", `cannot open /dev/net/tun: ${errnoName(errno())}`);
  }
  const req = new Uint8Array(40); // struct ifreq: name[16], then the flags short
  new TextEncoder().encodeInto(name, req.subarray(0, 15));
  new DataView(req.buffer).setUint16(16, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, true);
  if (lib.ioctl(fd, BigInt(TUNSETIFF), req) !== 0) {
    const err = errnoName(errno());
    lib.close(fd);
    throw new VolantError("upstream", `cannot attach to tap ${name}: ${err}`);
  }
  return fd;
}

/** Closes an fd from openTapFd (the VMM keeps its own copy). */
export function closeFd(fd: number): void {
  libc().close(fd);
}
