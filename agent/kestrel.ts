/**
 * The boot sequence and lifecycle of kestrel. As PID 1 in the guest:
 * cmdline -> manifest -> HTTP API -> (switch root) -> network -> workload ->
 * health -> ready; when the shim already started the workload ("workload
 * first", adopt.ts) kestrel adopts it as run 1 instead of spawning it, and
 * skips the switch root the shim did; SIGTERM/SIGINT/power button -> graceful stop -> sync ->
 * unmount -> poweroff. Any fatal error prints one `kestrel: fatal: ...` line
 * and powers off. Not PID 1 ("host mode": tests, benchmarks) it never mounts,
 * touches the network or reboots: "poweroff" becomes process exit.
 *
 * @module
 */
import * as libc from "./_libc.ts";
import { type BootConfig, parseBootConfig, wantsRootfs } from "./boot_config.ts";
import { ChildTracker } from "./child_tracker.ts";
import type { ConsoleSink } from "./console.ts";
import { DebugShell } from "./debug_shell.ts";
import { HealthMonitor, joinUrl } from "./health.ts";
import { loadManifest } from "./manifest_load.ts";
import { MountTable } from "./mounts.ts";
import { configureNetwork } from "./network.ts";
import { handOffSeed } from "./cloud_init_seed.ts";
import { watchPowerButton } from "./power_button.ts";
import { Reaper } from "./reaper.ts";
import { type AgentState, mark, newState } from "./state.ts";
import { Supervisor } from "./supervisor.ts";
import { after, sleep, within } from "./timeout.ts";
import { KESTREL_VERSION } from "./version.ts";
import { buildWorkloadSpec } from "./workload_spec.ts";
import { createApiHandler } from "./api.ts";
import { agentGate } from "./auth.ts";
import { type AgentPort, findAgentPort, hasVirtioVsock } from "./channel_port.ts";
import { openInheritedPipe, type ShimHandoff, uptimeMs } from "./adopt.ts";
import type { AdoptedRun } from "./supervisor.ts";
import { VolantError } from "../src/errors.ts";

export interface KestrelOptions {
  /** The kernel command line to act on. */
  cmdline: string;
  /** True only as PID 1 in a guest: enables mounts, network, power button, reboot. */
  pid1: boolean;
  console: ConsoleSink;
  /** API listen address (guest: 0.0.0.0:8080). Port 0 = any free port. */
  apiHost?: string;
  apiPort?: number;
  /** Become a child subreaper (host mode), so orphans are reaped as in the guest. */
  subreaper?: boolean;
  /** Grace period between SIGTERM and SIGKILL for the workload. */
  stopTimeoutMs?: number;
  /** Where `workload.user` names are resolved (default /etc). */
  etcDir?: string;
  /** Host mode: what "poweroff" does (default Deno.exit). */
  exit?: (code: number) => void;
  /** What the shim already did (workload started, root switched); see adopt.ts. */
  handoff?: ShimHandoff | null;
}

/** Hard bound on the whole shutdown sequence: after it, power off regardless. */
const SHUTDOWN_WATCHDOG_MS = 30_000;

export class Kestrel {
  readonly state: AgentState;
  readonly tracker = new ChildTracker();
  readonly #o: KestrelOptions;
  readonly #mounts = new MountTable();
  #reaper: Reaper | null = null;
  #shell: DebugShell | null = null;
  #server: Deno.HttpServer | null = null;
  #shutdown: Promise<void> | null = null;
  #signals: [Deno.Signal, () => void][] = [];
  /** undefined = open API; null = waiting for the agent channel's hello to bring it. */
  #agentKey: string | null | undefined;

  constructor(opts: KestrelOptions) {
    this.#o = opts;
    this.state = newState(KESTREL_VERSION, opts.pid1 ? "initramfs" : "host", 0);
  }

  /** The API's bound address once started. */
  get apiAddr(): Deno.NetAddr | null {
    return this.#server ? this.#server.addr as Deno.NetAddr : null;
  }

  #say(text: string): void {
    this.#o.console.line(text);
  }

  /** Runs the boot sequence; a fatal error ends in {@linkcode fatal}. */
  async boot(): Promise<void> {
    mark(this.state, "boot");
    try {
      await this.#boot();
    } catch (e) {
      await this.fatal(e);
    }
  }

  async #boot(): Promise<void> {
    const o = this.#o;
    const s = this.state;
    let boot: BootConfig;
    try {
      boot = parseBootConfig(o.cmdline);
    } catch (e) {
      throw new Error(`bad kernel command line: ${(e as Error).message}`);
    }
    mark(s, "cmdline");
    this.#agentKey = boot.agentKey;
    // The agent channel's port, if the VMM offers one: its hello brings the key (and replaces
    // the command line's), so until then a guest booted without one answers no one.
    const agentPort = o.pid1 ? findAgentPort() : null;
    // vsock only when the daemon says the channel carries the key: a host that is itself a VM
    // (kestrel run in namespaces there) has a vsock device of its own.
    const vsockChannel = o.pid1 && !agentPort && boot.agentChannel === true && hasVirtioVsock();
    if ((agentPort || vsockChannel) && this.#agentKey === undefined) this.#agentKey = null;
    this.#reaper = new Reaper(this.tracker, o.console);
    const reaping = o.pid1 || o.subreaper === true;
    // Registered before the reaper starts, so a workload that already died is reaped for us.
    const adopted = reaping ? this.#adopt(o.handoff) : undefined;
    if (reaping) {
      if (!o.pid1) libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1);
      this.#reaper.start();
    }
    this.#installShutdownTriggers();
    mark(s, "signals");
    const manifest = await loadManifest(boot.manifestValue);
    s.manifest = manifest;
    checkBaseUrl(manifest.workload.base_url, o.apiPort ?? 8080);
    mark(s, "manifest");
    if (o.pid1) {
      if (o.handoff?.rootSwitched) {
        this.#mounts.rootSwitchedByShim(boot.rootfsDevice);
        s.bootMode = "rootfs";
        mark(s, "rootfs");
      } else if (wantsRootfs(boot, manifest)) {
        await this.#mounts.switchRoot(boot.rootfsDevice, boot.rootfsFstype, o.console);
        s.bootMode = "rootfs";
        mark(s, "rootfs");
      }
      s.network = await configureNetwork(boot, {
        bind: (from, to) => this.#mounts.bind(from, to),
        tracker: this.tracker,
        console: o.console,
      });
      mark(s, "network");
      const n = s.network;
      this.#say(
        `network: eth0 ${n.address ? `${n.address}/${n.prefix}` : "unconfigured"}` +
          (n.gateway ? ` via ${n.gateway}` : "") + (n.mtu ? ` mtu ${n.mtu}` : "") +
          (n.hostname ? `, hostname ${n.hostname}` : ""),
      );
      // A cidata disk for a guest whose kernel cannot mount FAT: cloud-init gets it as a seed dir.
      const seed = handOffSeed();
      if (seed) {
        this.#say(`cloud-init: NoCloud seed from /dev/${seed} in /var/lib/cloud/seed/nocloud`);
      }
      if (boot.debugShell) {
        this.#shell = new DebugShell(this.tracker, o.console);
        this.#shell.start();
      }
    }
    const spec = buildWorkloadSpec(manifest, o.etcDir);
    const hc = manifest.health_check;
    const health = new HealthMonitor({
      url: hc ? joinUrl(manifest.workload.base_url, hc.endpoint || "/") : null,
      timeoutMs: hc?.timeout_ms ?? 60_000,
      console: o.console,
      onHealthy: (first) => {
        if (first) {
          const ms = Math.round(mark(s, "ready"));
          this.#say(`ready in ${ms} ms${uptimeSuffix()}`);
          // The boot's transient C-heap allocations (module loading, spawn, first serve) are
          // done: hand their pages back (about -1 MiB resident measured).
          if (o.pid1) libc.mallocTrim();
          // After ready, off the boot path: only a ready guest is ever snapshotted for clones.
          if (o.pid1 && !boot.debugShell) this.#listenForIdentity();
        } else this.#say("workload healthy again");
      },
    });
    s.health = health;
    const supervisor = new Supervisor(spec, {
      console: o.console,
      tracker: this.tracker,
      t0: s.t0,
      onStart: () => {
        if (s.timings.workload_spawned === undefined) mark(s, "workload_spawned");
        health.begin();
      },
      onExit: () => health.workloadExited(),
      adopt: adopted,
    });
    s.supervisor = supervisor;
    supervisor.start();
    // After the spawn: the first Deno.serve costs tens of ms of runtime warm-up, and nobody can
    // reach port 8080 before the network is up anyway. Health probes run meanwhile.
    this.#startApi();
    if (agentPort || vsockChannel) await this.#startChannel(agentPort);
  }

  /**
   * Loaded only when the VMM offers a channel (a port, else vsock): the mux stays out of
   * kestrel's boot otherwise.
   */
  async #startChannel(port: AgentPort | null): Promise<void> {
    const { startAgentChannel, startVsockChannel } = await import("./channel.ts");
    const o = {
      apiPort: this.#o.apiPort ?? 8080,
      setKey: (key: string) => this.#agentKey = key,
      say: (line: string) => this.#say(line),
    };
    if (port) startAgentChannel(port, o);
    else startVsockChannel(o);
    this.#say(`channel: serving the agent API on ${port?.path ?? "vsock port 1024"}`);
  }

  /**
   * A restored clone's identity hand-off on the console (identity.ts), loaded
   * once the workload is first healthy: off the boot path, and a guest that is
   * never cloned only pays for one idle read.
   */
  #listenForIdentity(): void {
    void import("./identity.ts").then(({ IdentityHandler, listenOnConsole }) => {
      const handler = new IdentityHandler({
        console: this.#o.console,
        network: () => this.state.network,
        setAgentKey: (key) => this.#agentKey = key,
      });
      return listenOnConsole(handler, this.#o.console);
    }).catch((e) => this.#say(`identity: ${(e as Error).message}`));
  }

  #startApi(): void {
    if (this.#agentKey === undefined) {
      this.#say("api: no volant.agent_key on the command line: the API is open to the network");
    }
    const handler = createApiHandler(this.state, {
      gate: agentGate(() => this.#agentKey, (line) => this.#say(line)),
      exec: { tracker: this.tracker, etcDir: this.#o.etcDir },
    });
    const hostname = this.#o.apiHost ?? "0.0.0.0";
    const port = this.#o.apiPort ?? 8080;
    try {
      this.#server = Deno.serve({
        hostname,
        port,
        onListen: () => {},
        onError: (e) => {
          this.#say(`api: ${(e as Error).message}`);
          return new Response("internal error", { status: 500 });
        },
      }, handler);
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
      throw new Error(
        `the agent API port ${hostname}:${port} is taken (port ${port} is reserved for kestrel; ` +
          "does the workload listen on it?)",
      );
    }
    mark(this.state, "api");
    if (this.state.workloadFirst) this.state.workloadFirst.agent_joined_uptime_ms = uptimeMs();
  }

  /** Takes over the workload the shim started, if it did (workload first). */
  #adopt(handoff: ShimHandoff | null | undefined): AdoptedRun | undefined {
    if (handoff?.pid === undefined) return undefined;
    let output: ReadableStream<Uint8Array> | null = null;
    try {
      if (handoff.fd !== undefined) output = openInheritedPipe(handoff.fd);
    } catch (e) {
      this.#say(`workload output pipe: ${(e as Error).message}`);
    }
    this.state.workloadFirst = {
      pid: handoff.pid,
      workload_started_uptime_ms: handoff.startedUptimeMs,
      agent_started_uptime_ms: uptimeMs(),
    };
    return { pid: handoff.pid, status: this.tracker.adopt(handoff.pid), output };
  }

  #installShutdownTriggers(): void {
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      const fn = () => void this.shutdown(`${sig} received`);
      Deno.addSignalListener(sig, fn);
      this.#signals.push([sig, fn]);
    }
    if (this.#o.pid1) {
      const devices = watchPowerButton(
        () => void this.shutdown("power button pressed"),
        (m) => this.#say(`power button: ${m}`),
      );
      if (devices.length === 0) this.#say("power button: no /dev/input/event* device");
    }
  }

  /** One console line, then poweroff (exit code 1 in host mode). Never returns normally. */
  async fatal(error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    this.#say(`fatal: ${message.replace(/\s*\n\s*/g, "; ")}`);
    await this.shutdown("fatal error", 1, false);
  }

  /**
   * Graceful stop, at most once: workload SIGTERM -> timeout -> SIGKILL, then
   * (PID 1) every other process, sync, unmount, poweroff.
   */
  shutdown(reason: string, code = 0, announce = true): Promise<void> {
    if (this.#shutdown) return this.#shutdown;
    this.state.shuttingDown = true;
    if (announce) this.#say(`shutting down: ${reason}`);
    const cancelWatchdog = after(SHUTDOWN_WATCHDOG_MS, () => this.#powerOff(code));
    this.#shutdown = (async () => {
      try {
        this.state.health?.stop();
        this.#shell?.stop();
        const how = await this.state.supervisor?.stop(this.#o.stopTimeoutMs ?? 10_000);
        if (how && how !== "none") this.#say(`workload stopped (${how})`);
        if (this.#o.pid1) {
          libc.kill(-1, libc.SIGTERM);
          await sleep(200);
          libc.kill(-1, libc.SIGKILL);
        }
        if (this.#server) await within(this.#server.shutdown(), 2_000);
      } catch (e) {
        this.#say(`shutdown: ${(e as Error).message}`);
      }
      cancelWatchdog();
      this.#powerOff(code);
    })();
    return this.#shutdown;
  }

  #powerOff(code: number): void {
    for (const [sig, fn] of this.#signals) Deno.removeSignalListener(sig, fn);
    this.#reaper?.stop();
    if (!this.#o.pid1) {
      (this.#o.exit ?? Deno.exit)(code);
      return;
    }
    libc.sync();
    this.#mounts.unmountAll(this.#o.console);
    libc.sync();
    this.#say("power off");
    try {
      libc.reboot(libc.RB_POWER_OFF);
    } catch (e) {
      this.#say(`reboot(POWER_OFF): ${(e as Error).message}`);
    }
    // Only reached if reboot failed: exiting PID 1 panics the kernel, which (panic=-1) resets.
    Deno.exit(1);
  }
}

/** The workload cannot use the agent's own port on a local address (a deterministic error). */
export function checkBaseUrl(baseUrl: string, apiPort: number): void {
  const url = new URL(baseUrl);
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const local = ["127.0.0.1", "localhost", "0.0.0.0", "[::1]", "[::]"].includes(url.hostname);
  if (local && port === apiPort) {
    throw new VolantError(
      "invalid_input",
      `workload.base_url: port ${apiPort} is reserved for kestrel's API; use another port`,
      { problems: [{ field: "workload.base_url", message: `port ${apiPort} is reserved` }] },
    );
  }
}

function uptimeSuffix(): string {
  try {
    const up = Deno.readTextFileSync("/proc/uptime").split(" ")[0];
    return ` (uptime ${up} s)`;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "";
    throw e;
  }
}
