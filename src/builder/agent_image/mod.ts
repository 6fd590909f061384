/**
 * The agent image build (`deno task agent`, docs/guest.md): what carries
 * kestrel into every guest.
 *
 * - `agent.img`: the shared read-only ext4 agent image (attached as `vda`):
 *   `/kestrel` (static launcher), `bin/deno`, `lib/` (its glibc libraries and
 *   loader), `kestrel.js` (the bundle), `bin/busybox`; or, given a compiled
 *   kestrel, `bin/kestrel` in place of deno + bundle.
 * - `boot.cpio.gz`: the initramfs for rootfs-only plugins.
 * - `shim`: the static shim, for fledge to put at `/init` of plugin initramfs.
 *
 * Everything is reproducible (fixed UUID, hash seed, times, owners, order) and
 * cached under `<cache>/agent/<key>/`, key = hash of the inputs; a cache hit
 * does no work. One concern a module: run.ts (tools), ldd.ts (libraries),
 * cache_key.ts, tree.ts, compile.ts, warm_up.ts (V8 code cache), ext4_image.ts
 * (mke2fs + debugfs + ../ext4_pin.ts), boot_initramfs.ts, cache_dir.ts, build.ts.
 *
 * @module
 */
export { bootEntries, bootInitramfs } from "./boot_initramfs.ts";
export { buildAgentArtifacts } from "./build.ts";
export { denoLibraries } from "./ldd.ts";
export type { AgentArtifacts, AgentBuildOptions, KestrelSource } from "./options.ts";
export { KESTREL_V8_FLAGS } from "./options.ts";
export { AgentBuildError } from "./run.ts";
