/**
 * TAP devices through /dev/net/tun ioctls: TUNSETIFF (IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR | IFF_TUN_EXCL), TUNSETOWNER, TUNSETPERSIST. The fd is closed
 * right away: the device persists and the VMM opens it by name later.
 *
 * @module
 */
import * as libc from "./_libc.ts";
import { errnoNumber, isErrno, NetError } from "./errno.ts";
import { validateIfName } from "./names.ts";

const TUNSETIFF = 0x400454ca;
const TUNSETPERSIST = 0x400454cb;
const TUNSETOWNER = 0x400454cc;
export const IFF_TAP = 0x0002;
export const IFF_NO_PI = 0x1000;
export const IFF_VNET_HDR = 0x4000;
/** Fail with EBUSY instead of attaching when the name exists. */
const IFF_TUN_EXCL = 0x8000;
const O_RDWR = 2;
const O_CLOEXEC = 0x80000;
const TUN_PATH = "/dev/net/tun";

/** struct ifreq: name[16] then the flags short (40 bytes in all). */
function ifreq(name: string, flags: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(40);
  new TextEncoder().encodeInto(name, b.subarray(0, 15));
  new DataView(b.buffer).setUint16(16, flags, true);
  return b;
}

export interface TapOptions {
  /** uid allowed to open the TAP without CAP_NET_ADMIN; default: root only. */
  owner?: number;
  /** virtio-net header on the fd (default true: what QEMU and Cloud Hypervisor use). */
  vnetHdr?: boolean;
}

/** Creates a persistent TAP; EEXIST if a link of that name exists. Left down, no master. */
export function createTap(name: string, o: TapOptions = {}): void {
  validateIfName(name);
  const fd = libc.open(TUN_PATH, O_RDWR | O_CLOEXEC, `${TUN_PATH} (for tap ${name})`);
  try {
    const flags = IFF_TAP | IFF_NO_PI | IFF_TUN_EXCL | (o.vnetHdr === false ? 0 : IFF_VNET_HDR);
    try {
      libc.ioctl(fd, TUNSETIFF, ifreq(name, flags), "create tap", name);
    } catch (e) {
      // With IFF_TUN_EXCL, EBUSY from TUNSETIFF means only "the name is taken".
      if (isErrno(e, "EBUSY")) {
        throw new NetError(
          "create tap",
          name,
          errnoNumber("EEXIST")!,
          "a link with this name exists",
        );
      }
      throw e;
    }
    if (o.owner !== undefined) libc.ioctlInt(fd, TUNSETOWNER, o.owner, "set owner of tap", name);
    libc.ioctlInt(fd, TUNSETPERSIST, 1, "make persistent tap", name);
  } finally {
    libc.close(fd);
  }
}
