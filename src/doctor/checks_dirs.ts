/**
 * Where volantd keeps things: the state and runtime dirs (writable, mode
 * 0700), free disk space under the state dir, and the API socket's mode and
 * owner (0660, root).
 *
 * @module
 */
import { dirname } from "node:path";
import { type Check, type CheckResult, runCommand } from "./check.ts";

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`;
}

/** The nearest path at or above `path` that exists. */
async function nearestExisting(path: string): Promise<string> {
  let p = path;
  while (true) {
    try {
      await Deno.stat(p);
      return p;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      if (p === "/") return p;
      p = dirname(p);
    }
  }
}

/** Exists with `mode` and takes a file, or can be created by this user. */
async function checkDir(path: string, key: string, mode: number): Promise<CheckResult> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    const parent = await nearestExisting(path);
    try {
      const probe = await Deno.makeTempDir({ dir: parent, prefix: ".volant-doctor-" });
      await Deno.remove(probe);
      return {
        status: "ok",
        detail: `${path} does not exist yet; volantd creates it (${octal(mode)})`,
      };
    } catch (e) {
      if (!(e instanceof Deno.errors.PermissionDenied)) throw e;
      return {
        status: "fail",
        detail: `${path} does not exist and ${parent} is not writable by uid ${Deno.uid()}`,
        fix: `run volantd as root, or set ${key} to a directory you own`,
      };
    }
  }
  if (!st.isDirectory) {
    return {
      status: "fail",
      detail: `${path} is not a directory`,
      fix: `set ${key} to a directory`,
    };
  }
  try {
    const probe = await Deno.makeTempFile({ dir: path, prefix: ".volant-doctor-" });
    await Deno.remove(probe);
  } catch (error) {
    if (!(error instanceof Deno.errors.PermissionDenied)) throw error;
    return {
      status: "fail",
      detail: `${path} is not writable by uid ${Deno.uid()} (owner uid ${st.uid}, ${
        octal(st.mode!)
      })`,
      fix: `run as root (volantd owns ${path}), or set ${key} to a directory you own`,
    };
  }
  const actual = st.mode! & 0o777;
  if ((actual & ~mode) !== 0) {
    return {
      status: "warn",
      detail: `${path} is ${octal(actual)} (owner uid ${st.uid}); expected ${octal(mode)}`,
      fix: `chmod ${octal(mode).slice(1)} ${path} (it holds VM state others should not read)`,
    };
  }
  return { status: "ok", detail: `${path} writable, ${octal(actual)}, owner uid ${st.uid}` };
}

export const stateDirCheck: Check = {
  id: "state_dir",
  title: "state dir",
  critical: true,
  run: (ctx) => checkDir(ctx.config.stateDir, "state_dir", 0o700),
};

export const runtimeDirCheck: Check = {
  id: "runtime_dir",
  title: "runtime dir",
  critical: true,
  run: (ctx) => checkDir(ctx.config.runtimeDir, "runtime_dir", 0o700),
};

/** Below this a VM's overlay and logs may not fit: fail. Below WARN_BYTES: warn. */
const FAIL_BYTES = 512 * 1024 * 1024;
const WARN_BYTES = 4 * 1024 * 1024 * 1024;

export const diskCheck: Check = {
  id: "disk",
  title: "free disk space",
  critical: true,
  async run(ctx) {
    const at = await nearestExisting(ctx.config.stateDir);
    const r = await runCommand("df", ["-Pk", at]);
    const fields = r.stdout.trim().split("\n").at(-1)?.split(/\s+/) ?? [];
    const availKiB = Number(fields[3]);
    if (r.code !== 0 || !Number.isFinite(availKiB)) {
      return {
        status: "warn",
        detail: `df ${at} failed: ${r.stderr.trim()}`,
        fix: "apt-get install coreutils",
      };
    }
    const bytes = availKiB * 1024;
    const gib = (bytes / 1024 ** 3).toFixed(1);
    const where = `${gib} GiB free on ${fields[5]} (state dir ${ctx.config.stateDir})`;
    if (bytes < FAIL_BYTES) {
      return {
        status: "fail",
        detail: where,
        fix: "free space: artifacts, overlays and logs need room",
      };
    }
    if (bytes < WARN_BYTES) {
      return { status: "warn", detail: where, fix: "plugins and per-VM overlays need a few GiB" };
    }
    return { status: "ok", detail: where };
  },
};

export const socketCheck: Check = {
  id: "socket",
  title: "API socket",
  critical: false,
  async run(ctx) {
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(ctx.socket);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        return {
          status: "warn",
          detail: `no socket at ${ctx.socket} (volantd not running, or another --socket)`,
          fix: "start volantd; give volar the daemon's socket with --socket or VOLANT_SOCKET",
        };
      }
      if (error instanceof Deno.errors.PermissionDenied) {
        return {
          status: "warn",
          detail: `${ctx.socket}: permission denied for uid ${Deno.uid()}`,
          fix: "run as root or as a member of the socket's group",
        };
      }
      throw error;
    }
    if (!st.isSocket) {
      return {
        status: "fail",
        detail: `${ctx.socket} is not a socket`,
        fix: "remove it and restart volantd",
      };
    }
    const mode = st.mode! & 0o777;
    const detail = `${ctx.socket} ${octal(mode)}, owner uid ${st.uid} gid ${st.gid}`;
    if ((mode & 0o007) !== 0) {
      return {
        status: "fail",
        detail: `${detail}: anyone on the host can drive volantd`,
        fix: `chmod 660 ${ctx.socket} (volantd creates it 0660)`,
      };
    }
    if (mode !== 0o660 || st.uid !== 0) {
      return {
        status: "warn",
        detail: `${detail}; expected 0660 owned by root`,
        fix: "restart volantd as root",
      };
    }
    return { status: "ok", detail };
  },
};
