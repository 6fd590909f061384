/**
 * `volar vms cp SRC DST`: copies files and directory trees between the host
 * and a VM as tar streams; one side is `VM:/path`. The copy lands inside the
 * destination directory under its own name (created when missing), modes
 * kept. The host side is GNU tar (`tar`, always on Debian); the guest side is
 * kestrel. Progress on stderr when it is a terminal (or with --progress).
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import { stringFlag } from "./args.ts";
import type { Command, CommandContext } from "./command.ts";

/** `VM:/path` split, or null for a host path. */
export function parseRemote(arg: string): { vm: string; path: string } | null {
  const m = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?):(\/.*)$/.exec(arg);
  return m ? { vm: m[1], path: m[3] } : null;
}

function usage(message: string): VolantError {
  return new VolantError("usage", message, { problems: [{ field: "args", message }] });
}

/** Human size, e.g. `12.5 MiB`. */
export function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** Counts bytes through a stream and reports them every `everyMs` (and once at the end). */
function counted(
  ctx: CommandContext,
  show: boolean,
  label: string,
): { stream: TransformStream<Uint8Array, Uint8Array>; done(): void } {
  let bytes = 0;
  const t0 = performance.now();
  let last = 0;
  const report = (final: boolean) => {
    if (!show) return;
    const s = Math.max((performance.now() - t0) / 1000, 0.001);
    const line = `${label}: ${humanBytes(bytes)} (${humanBytes(bytes / s)}/s)`;
    if (final) ctx.io.errRaw(`\r${line}\n`);
    else ctx.io.errRaw(`\r${line}`);
  };
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      bytes += chunk.length;
      const now = performance.now();
      if (now - last >= 500) {
        last = now;
        report(false);
      }
      controller.enqueue(chunk);
    },
  });
  return { stream, done: () => report(true) };
}

/**
 * Regroups a stream into chunks of at least `size` bytes (the last may be
 * smaller): every chunk costs an HTTP frame and a guest-side wake-up, which
 * under TCG dominates the copy time.
 */
export function coalesce(size: number): TransformStream<Uint8Array, Uint8Array> {
  let parts: Uint8Array[] = [];
  let held = 0;
  const flush = (controller: TransformStreamDefaultController<Uint8Array>) => {
    if (held === 0) return;
    const out = new Uint8Array(held);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    parts = [];
    held = 0;
    controller.enqueue(out);
  };
  return new TransformStream({
    transform(chunk, controller) {
      parts.push(chunk);
      held += chunk.length;
      if (held >= size) flush(controller);
    },
    flush,
  });
}

async function tarFailed(child: Deno.ChildProcess, what: string): Promise<void> {
  const status = await child.status;
  if (!status.success) {
    const err = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer()).trim();
    throw new VolantError("internal", `${what}: tar exited ${status.code}: ${err.split("\n")[0]}`);
  }
}

function spawnTar(args: string[], stdin: "piped" | "null"): Deno.ChildProcess {
  try {
    return new Deno.Command("tar", { args, stdin, stdout: "piped", stderr: "piped" }).spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new VolantError("unavailable", "tar is not installed: apt-get install -y tar");
    }
    throw e;
  }
}

export const vmsCp: Command = {
  path: ["vms", "cp"],
  summary: "copy files or directories between the host and a VM (tar streams)",
  args: "SRC DST",
  description: "One side is VM:/path. The copy lands inside DST (a directory, created\n" +
    "when missing) under its own name; modes are kept, symlinks stay symlinks.\n" +
    "--root confines the guest side to a directory (symlinks on the way are refused).",
  example: "volar vms cp ./site web:/srv/www",
  options: {
    root: { type: "string", value: "DIR", help: "resolve the guest path inside DIR" },
    progress: { type: "boolean", help: "show progress even when stderr is not a terminal" },
  },
  arity: [2, 2],
  interruptible: true,
  async run(ctx) {
    const [src, dst] = ctx.positionals;
    const from = parseRemote(src);
    const to = parseRemote(dst);
    if ((from === null) === (to === null)) {
      throw usage("exactly one of SRC and DST must be VM:/path");
    }
    const root = stringFlag(ctx.values, "root");
    const show = ctx.values.progress === true || ctx.io.stderrIsTerminal;
    if (to) {
      const local = src.replace(/\/+$/, "") || "/";
      try {
        await Deno.lstat(local);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) throw usage(`${src}: no such file or directory`);
        throw e;
      }
      const slash = local.lastIndexOf("/");
      const dir = slash <= 0 ? (slash === 0 ? "/" : ".") : local.slice(0, slash);
      const base = local.slice(slash + 1);
      const tar = spawnTar(["-C", dir, "-cf", "-", "--", base], "null");
      const meter = counted(ctx, show, `${src} -> ${dst}`);
      const body = tar.stdout.pipeThrough(coalesce(1 << 20)).pipeThrough(
        meter.stream,
      ) as ReadableStream<Uint8Array<ArrayBuffer>>;
      const result = await ctx.client().writeFiles(
        to.vm,
        { path: to.path, root },
        body,
        ctx.signal,
      );
      await tarFailed(tar, `reading ${src}`);
      meter.done();
      if (ctx.output === "json") ctx.io.out(JSON.stringify(result));
      return 0;
    }
    await Deno.mkdir(dst, { recursive: true });
    const stream = await ctx.client().readFiles(from!.vm, { path: from!.path, root }, ctx.signal);
    const tar = spawnTar(["-C", dst, "-xpf", "-", "--no-same-owner"], "piped");
    const meter = counted(ctx, show, `${src} -> ${dst}`);
    await stream.pipeThrough(meter.stream).pipeTo(tar.stdin);
    await tarFailed(tar, `writing into ${dst}`);
    meter.done();
    return 0;
  },
};
