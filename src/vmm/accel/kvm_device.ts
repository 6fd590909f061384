/**
 * The cheap first step of the KVM probe: the device node opens read-write,
 * answers KVM_GET_API_VERSION with 12 and lets us create a VM. A stand-in
 * such as /dev/null or a regular file opens fine but fails the ioctl (ENOTTY),
 * so "opens read-write" alone never counts as KVM. Passing this step is not
 * enough either (a kvm-pvm host passes it and still cannot run our guest):
 * the boot step (boot_try.ts) decides.
 *
 * @module
 */
import { cString, errno, libc } from "../../ffi/libc.ts";

/** ioctl numbers from <linux/kvm.h>: _IO(KVMIO=0xAE, nr). */
const KVM_GET_API_VERSION = 0xae00n;
const KVM_CREATE_VM = 0xae01n;
/** The only KVM API version Linux has ever shipped. */
export const KVM_API_VERSION = 12;

const O_RDWR = 0o2;
const O_CLOEXEC = 0o2000000;

/** The errno values opening or asking a device node can give. */
const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: "EPERM: operation not permitted",
  2: "ENOENT: no such file or directory",
  6: "ENXIO: no such device or address",
  12: "ENOMEM: cannot allocate memory",
  13: "EACCES: permission denied",
  16: "EBUSY: device or resource busy",
  19: "ENODEV: no such device",
  21: "EISDIR: is a directory",
  22: "EINVAL: invalid argument",
  25: "ENOTTY: not a KVM device",
  30: "EROFS: read-only file system",
};

function describe(n: number): string {
  return ERRNO_NAMES[n] ?? `errno ${n}`;
}

/** What the device step found. */
export type KvmDeviceResult =
  | { ok: true; apiVersion: number }
  | { ok: false; reason: string };

/** Opens `path` read-write and asks it the two questions only a real KVM device answers. */
export function checkKvmDevice(path: string): KvmDeviceResult {
  const c = libc();
  const fd = c.open(cString(path), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) return { ok: false, reason: `cannot open ${path} read-write (${describe(errno())})` };
  try {
    const version = c.ioctl_int(fd, KVM_GET_API_VERSION, 0n);
    if (version < 0) {
      return { ok: false, reason: `${path}: KVM_GET_API_VERSION failed (${describe(errno())})` };
    }
    if (version !== KVM_API_VERSION) {
      return {
        ok: false,
        reason: `${path}: KVM API version ${version}, expected ${KVM_API_VERSION}`,
      };
    }
    const vm = c.ioctl_int(fd, KVM_CREATE_VM, 0n);
    if (vm < 0) {
      return { ok: false, reason: `${path}: KVM_CREATE_VM failed (${describe(errno())})` };
    }
    c.close(vm);
    return { ok: true, apiVersion: version };
  } finally {
    c.close(fd);
  }
}
