/**
 * The one `Deno.dlopen` of libc on the host side (docs/development.md rule 5),
 * shared by the adapters that need system calls Deno has no API for:
 * src/net (netlink sockets, TUN ioctls) and src/vmm (pidfd_open + poll,
 * posix_spawn in a new session, waitid) and src/builder/oci (mknod, lsetxattr).
 * Each adapter wraps these raw symbols with its own typed errors.
 *
 * Needs `--allow-ffi` (not `--allow-ffi=libc.so.6`: that resolves the name
 * against the working directory). libc is opened lazily, on first use.
 *
 * @module
 */

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
  // syscall(2) for pidfd_open, which glibc 2.36 does not wrap.
  syscall: { parameters: ["i64", "i64", "i64"], result: "i64" },
  // poll(2) blocks: run it on a worker thread so the event loop keeps going.
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  // posix_spawn(3) and friends return the error number instead of setting errno.
  posix_spawn: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_addopen: {
    parameters: ["buffer", "i32", "buffer", "i32", "u32"],
    result: "i32",
  },
  posix_spawn_file_actions_adddup2: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  // glibc >= 2.34; optional so an older libc still loads the rest.
  posix_spawn_file_actions_addclosefrom_np: {
    parameters: ["buffer", "i32"],
    result: "i32",
    optional: true,
  },
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  posix_spawnattr_setsigmask: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_setsigdefault: { parameters: ["buffer", "buffer"], result: "i32" },
  waitid: { parameters: ["i32", "u32", "buffer", "i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  // src/builder/oci (image unpacking): device nodes and extended attributes.
  mknod: { parameters: ["buffer", "u32", "u64"], result: "i32" },
  lsetxattr: { parameters: ["buffer", "buffer", "buffer", "usize", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The raw libc symbols. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Libc | null = null;

/** Opens libc on first use; throws (e.g. NotCapable without --allow-ffi) when it cannot. */
export function libc(): Libc {
  if (lib === null) lib = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  return lib;
}

/** errno of the calling thread; call only right after a failing synchronous libc call. */
export function errno(): number {
  const p = libc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

const encoder = new TextEncoder();

/** NUL-terminated C string. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(encoder.encode(s).length + 1);
  encoder.encodeInto(s, b);
  return b;
}
