/**
 * A sandbox for the whole journey: a network namespace of its own holding
 * the Volant bridge, a volantd started inside it on a temp state dir and
 * socket, and `volar` / `fledge` run as a user would (through the multi-call
 * launchers of `deno task link`). The host's own network is never touched:
 * the bridge, TAPs and nftables table all live inside the namespace.
 *
 * @module
 */
import { processesNaming } from "../../src/vmm/proc.ts";
import { REPO } from "../_repo.ts";
import { link } from "../link.ts";
import type { GuestArtifacts } from "./prepare.ts";

const dec = new TextDecoder();

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function exec(cmd: string[], env?: Record<string, string>): Promise<CommandResult> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function must(cmd: string[]): Promise<string> {
  const r = await exec(cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

export interface SandboxOptions {
  artifacts: GuestArtifacts;
  /** Namespace and dir name prefix. */
  prefix?: string;
  /** Extra volantd flags. */
  daemonArgs?: string[];
  /**
   * Enter the namespace with `nsenter --net` (network only) instead of
   * `ip netns exec`, which also remounts /sys and so hides the host's cgroup
   * mounts from the daemon (the VMM jail needs them).
   */
  keepSys?: boolean;
}

/** One netns + volantd + launchers. Always `close()` it (in a finally). */
export class Sandbox {
  readonly netns: string;
  readonly dir: string;
  readonly socket: string;
  readonly stateDir: string;
  readonly runtimeDir: string;
  readonly binDir: string;
  readonly daemonLog: string;
  #daemon: Deno.ChildProcess | null = null;
  #artifacts: GuestArtifacts;
  #daemonArgs: string[];
  #keepSys: boolean;

  private constructor(dir: string, netns: string, opts: SandboxOptions) {
    this.dir = dir;
    this.netns = netns;
    this.socket = `${dir}/volantd.sock`;
    this.stateDir = `${dir}/state`;
    this.runtimeDir = `${dir}/run`;
    this.binDir = `${dir}/bin`;
    this.daemonLog = `${dir}/volantd.log`;
    this.#artifacts = opts.artifacts;
    this.#daemonArgs = opts.daemonArgs ?? [];
    this.#keepSys = opts.keepSys ?? false;
  }

  /** Creates the namespace (lo up), the dirs and the launchers; starts nothing yet. */
  static async create(opts: SandboxOptions): Promise<Sandbox> {
    const prefix = opts.prefix ?? "volant-journey";
    const dir = await Deno.makeTempDir({ prefix: `${prefix}-` });
    const netns = `${prefix.slice(0, 6)}${Deno.pid}${Math.floor(Math.random() * 1e4)}`;
    const sandbox = new Sandbox(dir, netns, opts);
    try {
      await must(["ip", "netns", "add", netns]);
      await must(["ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up"]);
      await link(sandbox.binDir);
    } catch (error) {
      await sandbox.close();
      throw error;
    }
    return sandbox;
  }

  /**
   * Starts volantd inside the namespace and waits until its API answers. Its
   * output goes straight to the log file (no pipes through this process), so
   * with `detached` it keeps running after this process exits (`--keep`).
   */
  async startDaemon(opts: { timeoutMs?: number; detached?: boolean } = {}): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const a = this.#artifacts;
    this.#daemon = new Deno.Command("sh", {
      args: [
        "-c",
        'exec "$@" >>"$VOLANT_DAEMON_LOG" 2>&1',
        "sh",
        ...(this.#keepSys
          ? ["nsenter", `--net=/run/netns/${this.netns}`]
          : ["ip", "netns", "exec", this.netns]),
        `${this.binDir}/volantd`,
        "--state-dir",
        this.stateDir,
        "--socket",
        this.socket,
        "--runtime-dir",
        this.runtimeDir,
        "--kernel",
        a.kernel,
        "--agent-image",
        a.agentImage,
        "--boot-initramfs",
        a.bootInitramfs,
        ...this.#daemonArgs,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
      env: { NO_COLOR: "1", VOLANT_DAEMON_LOG: this.daemonLog },
      detached: opts.detached ?? false,
    }).spawn();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const r = await this.volar(["plugins", "list", "-o", "json"]);
      if (r.code === 0) return;
      await new Promise((res) => setTimeout(res, 200));
    }
    throw new Error(`volantd did not answer within ${timeoutMs} ms; see ${this.daemonLog}`);
  }

  /** The daemon's pid (sh, ip netns exec and the launcher all exec into it). */
  get daemonPid(): number | null {
    return this.#daemon?.pid ?? null;
  }

  /** Forgets the daemon so `close()` leaves it running (for --keep). */
  detachDaemon(): void {
    this.#daemon?.unref();
    this.#daemon = null;
  }

  /** Stops the daemon (SIGTERM by PID, SIGKILL after 10 s). VMs outlive it by design. */
  async stopDaemon(): Promise<void> {
    const d = this.#daemon;
    if (!d) return;
    this.#daemon = null;
    d.kill("SIGTERM");
    const timer = setTimeout(() => d.kill("SIGKILL"), 10_000);
    await d.status;
    clearTimeout(timer);
  }

  /** Kills the daemon with SIGKILL (crash simulation). */
  async killDaemon(): Promise<void> {
    const d = this.#daemon;
    if (!d) return;
    this.#daemon = null;
    d.kill("SIGKILL");
    await d.status;
  }

  /** Runs `volar` against this sandbox's daemon. */
  volar(args: string[]): Promise<CommandResult> {
    return exec([`${this.binDir}/volar`, "--socket", this.socket, ...args]);
  }

  /** Runs `volar ... -o json` and parses stdout; throws with stderr on failure. */
  async volarJson<T = unknown>(args: string[]): Promise<T> {
    const r = await this.volar([...args, "-o", "json"]);
    if (r.code !== 0) {
      throw new Error(`volar ${args.join(" ")}: exit ${r.code}: ${r.stderr.trim()}`);
    }
    return JSON.parse(r.stdout) as T;
  }

  /** Runs `fledge`. */
  fledge(args: string[]): Promise<CommandResult> {
    return exec([`${this.binDir}/fledge`, ...args]);
  }

  /**
   * Builds the static-http example (examples/static-http) with fledge into
   * `<dir>/dist`, with `shim` when given (else fledge finds one); returns the
   * manifest's path or throws with fledge's stderr.
   */
  async buildExample(opts: { shim?: string } = {}): Promise<string> {
    const r = await this.fledge([
      "build",
      "-c",
      Sandbox.repoPath("examples/static-http/fledge.toml"),
      "-o",
      `${this.dir}/dist`,
      ...(opts.shim ? ["--shim", opts.shim] : []),
      "--json",
    ]);
    if (r.code !== 0) throw new Error(`fledge build: exit ${r.code}: ${r.stderr.trim()}`);
    return (JSON.parse(r.stdout) as { manifest: { path: string } }).manifest.path;
  }

  /**
   * Waits until VM `name` is running and healthy (`volar vms show`); returns
   * its record. Throws with the record when it crashed or `ms` ran out.
   */
  async waitHealthy<T = Record<string, unknown>>(name: string, ms = 300_000): Promise<T> {
    const deadline = Date.now() + ms;
    let vm: { state?: string; health?: string } | null = null;
    while (Date.now() < deadline) {
      vm = await this.volarJson<{ state?: string; health?: string }>(["vms", "show", name]);
      if (vm.state === "running" && vm.health === "healthy") return vm as T;
      if (vm.state === "crashed") break;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`VM ${name} not healthy: ${JSON.stringify(vm)}`);
  }

  /** {@linkcode buildExample}, then `volar plugins install` of it; returns the manifest's path. */
  async installExample(opts: { shim?: string } = {}): Promise<string> {
    const manifest = await this.buildExample(opts);
    const r = await this.volar(["plugins", "install", manifest]);
    if (r.code !== 0) throw new Error(`volar plugins install: exit ${r.code}: ${r.stderr.trim()}`);
    return manifest;
  }

  /**
   * Fetches a URL from inside the namespace with Deno's fetch (Debian's static
   * busybox wget crashes resolving through NSS); returns the body, or throws
   * naming the status.
   */
  async fetchInNetns(url: string, timeoutS = 10): Promise<string> {
    const code = `const r = await fetch(${JSON.stringify(url)}, ` +
      `{ signal: AbortSignal.timeout(${timeoutS * 1000}) });` +
      `const t = await r.text();` +
      `if (!r.ok) { console.error("HTTP " + r.status + ": " + t.slice(0, 200)); Deno.exit(1); }` +
      `await Deno.stdout.write(new TextEncoder().encode(t));`;
    return await must(["ip", "netns", "exec", this.netns, Deno.execPath(), "eval", code]);
  }

  /** Runs a command inside the namespace. */
  inNetns(cmd: string[]): Promise<CommandResult> {
    return exec(["ip", "netns", "exec", this.netns, ...cmd]);
  }

  /** Copies each VM's serial log to `dest` (for CI artifacts); returns the copied paths. */
  async keepSerialLogs(dest: string): Promise<string[]> {
    const kept: string[] = [];
    await Deno.mkdir(dest, { recursive: true });
    try {
      for await (const e of Deno.readDir(this.runtimeDir)) {
        const src = `${this.runtimeDir}/${e.name}/serial.log`;
        try {
          await Deno.copyFile(src, `${dest}/${e.name}.serial.log`);
          kept.push(`${dest}/${e.name}.serial.log`);
        } catch (err) {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
        }
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    try {
      await Deno.copyFile(this.daemonLog, `${dest}/volantd.log`);
      kept.push(`${dest}/volantd.log`);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return kept;
  }

  /**
   * Deletes every VM through the API, stops the daemon, kills any VMM left in
   * the runtime dir (by its recorded pid), deletes the namespace and the dir.
   */
  async close(): Promise<void> {
    if (this.#daemon) {
      const list = await this.volar(["vms", "list", "-o", "json"]);
      if (list.code === 0) {
        for (const vm of JSON.parse(list.stdout) as { name: string }[]) {
          await this.volar(["vms", "delete", vm.name]);
        }
      }
      await this.stopDaemon();
    }
    await this.#killLeftoverVmms();
    await exec(["ip", "netns", "del", this.netns]);
    await Deno.remove(this.dir, { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }

  /**
   * VMMs still running from this sandbox, killed by PID: every QEMU whose argv
   * names this sandbox's runtime dir, with or without a pid file (a daemon
   * killed mid-start may not have written one).
   */
  async #killLeftoverVmms(): Promise<void> {
    for (const vmm of await processesNaming(this.runtimeDir, "qemu-system-x86_64")) {
      try {
        Deno.kill(vmm.pid, "SIGKILL");
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
  }

  /** Absolute path of a repository file (examples, fixtures). */
  static repoPath(rel: string): string {
    return `${REPO}/${rel}`;
  }
}
