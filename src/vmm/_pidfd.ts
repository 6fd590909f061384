/**
 * pidfd_open(2) + poll(2) through the host's one libc binding
 * (src/ffi/libc.ts), to learn when a process we did not spawn (an adopted
 * VMM) exits, without polling /proc. Needs --allow-ffi; callers fall back to
 * /proc polling when it is missing.
 *
 * @module
 */
import { type Libc, libc } from "../ffi/libc.ts";

const SYS_PIDFD_OPEN = 434; // x86_64 and aarch64 share this number.
const POLLIN = 0x1;

/** libc, or null when FFI is not allowed (then callers poll /proc instead). */
function open(): Libc | null {
  try {
    return libc();
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      return null;
    }
    throw e;
  }
}

/** An open pidfd; `waitReadable` resolves true once the process has exited. */
export interface PidFd {
  /** Waits up to `timeoutMs` (bounded so no FFI thread blocks forever). */
  waitExit(timeoutMs: number): Promise<boolean>;
  close(): void;
}

/** Opens a pidfd for `pid`, or null when pidfd is unavailable or the pid is gone. */
export function openPidFd(pid: number): PidFd | null {
  const lib = open();
  if (!lib) return null;
  const fd = Number(lib.syscall(BigInt(SYS_PIDFD_OPEN), BigInt(pid), 0n));
  if (fd < 0) return null;
  let closed = false;
  return {
    async waitExit(timeoutMs: number): Promise<boolean> {
      if (closed) throw new Error("pidfd closed");
      const pfd = new Uint8Array(8);
      const view = new DataView(pfd.buffer);
      view.setInt32(0, fd, true);
      view.setInt16(4, POLLIN, true);
      const n = await lib.poll(pfd, 1n, Math.max(0, Math.floor(timeoutMs)));
      return n > 0 && (view.getInt16(6, true) & POLLIN) !== 0;
    },
    close() {
      if (!closed) {
        closed = true;
        lib.close(fd);
      }
    },
  };
}
