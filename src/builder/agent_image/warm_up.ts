/**
 * The V8 warm-up: kestrel.js run once at build time so the image carries
 * deno's code cache and module analysis, and the guest skips compiling the
 * bundle from scratch.
 *
 * @module
 */
import { join } from "node:path";
import { exists } from "../../shared/fs.ts";
import { AGENT_MOUNT, KESTREL_V8_FLAGS } from "./options.ts";

const DENO_CACHES = ["v8_code_cache_v2", "dep_analysis_cache_v2", "node_analysis_cache_v2"];

/**
 * Runs kestrel.js once at build time, at its guest path inside a chroot in new
 * user + network namespaces (rootless, no network, cannot reboot the host), so
 * deno_dir/ carries V8's code cache and deno's module analysis: the launcher
 * copies it to DENO_DIR and the guest skips compiling the bundle from scratch.
 * kestrel run with KESTREL_WARM_UP=1 outside PID 1 loads what a boot loads
 * and stops; the timeout guards any other entry. The SQLite files are checkpointed and vacuumed, which makes
 * them byte-identical between builds. Failure only costs the warm start.
 */
export async function warmDenoDir(root: string, log: (line: string) => void): Promise<void> {
  const dir = join(root, AGENT_MOUNT, "deno_dir");
  await Deno.mkdir(join(root, "tmp"), { recursive: true });
  const a = AGENT_MOUNT;
  const out = await new Deno.Command("/usr/bin/unshare", {
    args: ["-rn", "/usr/sbin/chroot", root, `${a}/lib/ld-linux-x86-64.so.2`, "--library-path"]
      .concat([`${a}/lib`, `${a}/bin/deno`, "run", "-A", "--no-config", "--no-lock"])
      .concat([KESTREL_V8_FLAGS])
      .concat([`${a}/kestrel.js`]),
    clearEnv: true,
    env: {
      DENO_DIR: `${a}/deno_dir`,
      HOME: "/tmp",
      NO_COLOR: "1",
      DENO_NO_UPDATE_CHECK: "1",
      // kestrel loads the runtime parts every boot uses lazily (agent/warm_up.ts), so they are
      // cached too: a guest then compiles nothing and writes nothing to its tmpfs DENO_DIR.
      KESTREL_WARM_UP: "1",
    },
    stdout: "null",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output().catch((e: Error) => ({
    success: false,
    stderr: new TextEncoder().encode(e.message),
  }));
  const { DatabaseSync } = await import("node:sqlite");
  const present = [];
  for (const name of DENO_CACHES) {
    if (!(await exists(join(dir, name), { followLinks: false }))) continue;
    const db = new DatabaseSync(join(dir, name));
    db.exec("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE; VACUUM;");
    db.close();
    present.push(name);
  }
  if (await exists(dir, { followLinks: false })) {
    for await (const e of Deno.readDir(dir)) {
      if (!DENO_CACHES.includes(e.name)) await Deno.remove(join(dir, e.name), { recursive: true });
    }
  }
  await Deno.remove(join(root, "tmp"), { recursive: true });
  if (!present.includes("v8_code_cache_v2")) {
    const why = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-2).join(" | ");
    log(`agent: no V8 code cache from the warm-up (${why}); the guest starts kestrel cold`);
    await Deno.remove(dir, { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
}
