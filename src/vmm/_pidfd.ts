/**
 * pidfd_open(2) + poll(2) through a tiny dlopen of libc, to learn when a
 * process we did not spawn (an adopted VMM) exits, without polling /proc.
 *
 * Why here and not src/net/_libc.ts: adapters must not import each other
 * (docs/development.md rule 3), so src/vmm keeps its own two-symbol FFI.
 * Needs --allow-ffi; callers fall back to /proc polling when it is missing.
 *
 * @module
 */

const SYS_PIDFD_OPEN = 434; // x86_64 and aarch64 share this number.
const POLLIN = 0x1;

type Libc = Deno.DynamicLibrary<{
  syscall: { parameters: ["i64", "i64", "i64"]; result: "i64" };
  poll: { parameters: ["buffer", "u64", "i32"]; result: "i32"; nonblocking: true };
  close: { parameters: ["i32"]; result: "i32" };
}>;

let libc: Libc | null | undefined;

function open(): Libc | null {
  if (libc !== undefined) return libc;
  try {
    libc = Deno.dlopen("libc.so.6", {
      syscall: { parameters: ["i64", "i64", "i64"], result: "i64" },
      poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
      close: { parameters: ["i32"], result: "i32" },
    }) as Libc;
  } catch (e) {
    // No FFI permission or no glibc: the caller polls /proc instead.
    if (e instanceof Deno.errors.NotCapable || e instanceof Error) libc = null;
    else throw e;
  }
  return libc;
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
  const fd = Number(lib.symbols.syscall(BigInt(SYS_PIDFD_OPEN), BigInt(pid), 0n));
  if (fd < 0) return null;
  let closed = false;
  return {
    async waitExit(timeoutMs: number): Promise<boolean> {
      if (closed) throw new Error("pidfd closed");
      const pfd = new Uint8Array(8);
      const view = new DataView(pfd.buffer);
      view.setInt32(0, fd, true);
      view.setInt16(4, POLLIN, true);
      const n = await lib.symbols.poll(pfd, 1n, Math.max(0, Math.floor(timeoutMs)));
      return n > 0 && (view.getInt16(6, true) & POLLIN) !== 0;
    },
    close() {
      if (!closed) {
        closed = true;
        lib.symbols.close(fd);
      }
    },
  };
}
