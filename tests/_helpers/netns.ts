/**
 * Network namespaces for tests: create a uniquely named one with
 * `ip netns add`, run commands (or Deno code) inside it, delete it in a
 * finally. The test process stays in the root namespace; everything that
 * changes links, addresses or firewall runs in a child inside the netns.
 *
 * @module
 */

const decoder = new TextDecoder();
let counter = 0;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Drop to this uid/gid (setpriv, groups cleared) inside the namespace. */
  asUser?: number;
  stdin?: string;
  env?: Record<string, string>;
}

/** Runs a command, collecting output; never throws on a non-zero exit. */
export async function run(cmd: string[], opts: RunOptions = {}): Promise<RunResult> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: opts.env,
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Fails (never skips) when a tool is missing, saying how to install it. */
export async function requireCommands(...tools: string[]): Promise<void> {
  const pkg: Record<string, string> = {
    ip: "iproute2",
    nft: "nftables",
    setpriv: "util-linux",
    strace: "strace",
    socat: "socat",
  };
  for (const t of tools) {
    const r = await run(["sh", "-c", `command -v ${t}`]);
    if (r.code !== 0) {
      throw new Error(`${t} is required: install it with \`apt-get install -y ${pkg[t] ?? t}\``);
    }
  }
}

export interface Netns {
  readonly name: string;
  /** Runs `cmd` inside the namespace. */
  run(cmd: string[], opts?: RunOptions): Promise<RunResult>;
  /** Like run, but throws with stderr on a non-zero exit and returns stdout. */
  check(cmd: string[], opts?: RunOptions): Promise<string>;
  /** Runs `cmd` (which must print JSON) inside the namespace and parses its output. */
  json<T = unknown>(cmd: string[]): Promise<T>;
  /**
   * Runs TypeScript with `deno eval` inside the namespace (as `asUser` if given); the
   * code's last stdout line, if JSON, is parsed into `result`.
   */
  deno(code: string, opts?: RunOptions): Promise<RunResult & { result: unknown }>;
  delete(): Promise<void>;
}

/** Creates `v<prefix><pid>x<n>`; delete it with `ns.delete()` in a finally (or use withNetns). */
export async function createNetns(prefix = "t"): Promise<Netns> {
  await requireCommands("ip");
  const name = `v${prefix}${Deno.pid}x${counter++}`;
  const add = await run(["ip", "netns", "add", name]);
  if (add.code !== 0) throw new Error(`ip netns add ${name}: ${add.stderr.trim()}`);
  const inNs = (cmd: string[], opts: RunOptions = {}) => {
    const priv = opts.asUser === undefined ? [] : [
      "setpriv",
      `--reuid=${opts.asUser}`,
      `--regid=${opts.asUser}`,
      "--clear-groups",
    ];
    return run(["ip", "netns", "exec", name, ...priv, ...cmd], opts);
  };
  const ns: Netns = {
    name,
    run: inNs,
    async check(cmd, opts) {
      const r = await inNs(cmd, opts);
      if (r.code !== 0) throw new Error(`${cmd.join(" ")} in ${name}: exit ${r.code}: ${r.stderr}`);
      return r.stdout;
    },
    async json<T>(cmd: string[]) {
      return JSON.parse(await ns.check(cmd)) as T;
    },
    async deno(code, opts = {}) {
      let env = opts.env;
      let denoDir: string | undefined;
      if (opts.asUser !== undefined) {
        // An unprivileged user cannot write root's Deno cache: give it a private one.
        denoDir = await Deno.makeTempDir({ prefix: "netns-deno-" });
        await Deno.chmod(denoDir, 0o777);
        env = { ...env, DENO_DIR: denoDir, HOME: denoDir };
      }
      try {
        const r = await inNs([Deno.execPath(), "eval", "--ext=ts", code], { ...opts, env });
        const last = r.stdout.trim().split("\n").at(-1) ?? "";
        let result: unknown = undefined;
        try {
          result = JSON.parse(last);
        } catch (e) {
          if (!(e instanceof SyntaxError)) throw e; // not JSON: leave result undefined
        }
        return { ...r, result };
      } finally {
        if (denoDir) await Deno.remove(denoDir, { recursive: true });
      }
    },
    async delete() {
      const r = await run(["ip", "netns", "del", name]);
      if (r.code !== 0) throw new Error(`ip netns del ${name}: ${r.stderr.trim()}`);
    },
  };
  return ns;
}

/** Runs `fn` with a fresh namespace and always deletes it. */
export async function withNetns<T>(fn: (ns: Netns) => Promise<T>, prefix = "t"): Promise<T> {
  const ns = await createNetns(prefix);
  try {
    return await fn(ns);
  } finally {
    await ns.delete();
  }
}

/** The root namespace's links as "index:name" (read-only), to assert tests left it alone. */
export async function rootLinks(): Promise<string[]> {
  const r = await run(["ip", "-j", "link", "show"]);
  if (r.code !== 0) throw new Error(`ip -j link show: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { ifindex: number; ifname: string }[])
    .map((l) => `${l.ifindex}:${l.ifname}`).sort();
}

/**
 * Wraps `body` into a script for `ns.deno()`: `mod` is imported as `m`; `step(key, fn)` records
 * `{ ok: value }` or `{ error, code, errno, field }` under `key`; all steps print as one JSON line.
 */
export function stepScript(mod: string | URL, body: string): string {
  return `import * as m from "${mod}";
const steps: Record<string, unknown> = {};
// deno-lint-ignore no-explicit-any
const step = async (key: string, fn: () => any) => {
  try {
    steps[key] = { ok: (await fn()) ?? null };
  } catch (e) {
    // deno-lint-ignore no-explicit-any
    const x = e as any;
    steps[key] = { error: String(x?.message ?? x), code: x?.code, errno: x?.errnoName, field: x?.problems?.[0]?.field };
  }
};
${body}
console.log(JSON.stringify(steps));`;
}

/** One recorded step of a stepScript: its value, or the error's message, code, errno and field. */
export interface Step {
  // deno-lint-ignore no-explicit-any
  ok?: any;
  error?: string;
  code?: string;
  errno?: string;
  field?: string;
}

export type Steps = Record<string, Step>;

/** src/net's entry point, for scripts run inside a namespace with `stepScript`. */
export const NET_MOD = new URL("../../src/net/mod.ts", import.meta.url);

/** One link as `ip -j [-d] link show` prints it (the fields the tests read). */
export interface IpLink {
  ifname: string;
  ifindex: number;
  flags: string[];
  mtu: number;
  address: string;
  master?: string;
  linkinfo?: { info_kind?: string; info_data?: { user?: string | number; type?: string } };
}
