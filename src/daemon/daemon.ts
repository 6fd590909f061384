/**
 * The composition root: from a ResolvedConfig to a running daemon. Creates
 * the directories, opens the store, builds the adapters, the services and the
 * API, reconciles, and serves the unix socket (and TCP with a token).
 * Nothing else in the code base constructs adapters.
 *
 * @module
 */
import { OciImageConverter } from "./image_converter.ts";
import { guestDns } from "./host_dns.ts";
import { createApp, fileLogReader } from "../api/mod.ts";
import { VolantError } from "../errors.ts";
import type { ResolvedConfig } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { AgentChannels } from "../guest/channel.ts";
import { GuestClient } from "../guest/client.ts";
import { unixSerialDialer } from "../guest/serial_dialer.ts";
import { createServices, type Services } from "../service/mod.ts";
import { openStore } from "../store/mod.ts";
import { VERSION } from "../version.ts";
import { buildHostNetwork, buildHypervisor } from "./adapters.ts";
import { type Listener, prepareSocketPath, serveTcp, serveUnix } from "./listeners.ts";
import { ensureToken } from "./token.ts";
import { SysfsPassthrough } from "../vmm/vfio/mod.ts";
import { VfatSeedWriter } from "../vmm/seed/vfat_seed.ts";

/** mkdir -p with a clear, field-naming error (e.g. not root for /var/lib/volant). */
export async function ensureDir(path: string, mode: number, field: string): Promise<void> {
  try {
    await Deno.mkdir(path, { recursive: true, mode });
  } catch (error) {
    const why = error instanceof Deno.errors.PermissionDenied
      ? "permission denied (run as root, or choose a directory you own)"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new VolantError("invalid_input", `${field}: cannot create ${path}: ${why}`, {
      cause: error,
      problems: [{ field, message: `cannot create ${path}: ${why}` }],
    });
  }
}

/** A boot file that is absent is not fatal (VM starts will say so), but the log says it now. */
async function warnIfMissing(path: string, what: string, hint: string, log: Logger) {
  try {
    await Deno.stat(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    log.warn(`${what} missing: VM starts will fail until it exists`, { path, fix: hint });
  }
}

export interface DaemonOptions {
  /** Skip bridge/NAT even as root. */
  noHostNetwork?: boolean;
  log: Logger;
  /** Effective uid (default Deno.uid()); only root sets up host networking. */
  uid?: number | null;
}

/** A running daemon. */
export interface Daemon {
  readonly services: Services;
  readonly listeners: readonly Listener[];
  /** Stops listening and closes the store; VMs keep running (they are detached). */
  close(): Promise<void>;
}

/** Starts everything; on failure closes what it opened and rethrows. */
export async function startDaemon(config: ResolvedConfig, opts: DaemonOptions): Promise<Daemon> {
  const log = opts.log;
  const cleanups: (() => Promise<void> | void)[] = [];
  const unwind = async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (error) {
        log.error("cleanup failed", {
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
  };
  try {
    await ensureDir(config.stateDir, 0o700, "state_dir");
    await Deno.chmod(config.stateDir, 0o700);
    await ensureDir(config.runtimeDir, 0o700, "runtime_dir");
    // Refuse early (before touching state) when another daemon owns the socket.
    await prepareSocketPath(config.socket);

    const store = openStore({ stateDir: config.stateDir });
    cleanups.push(() => store.close());

    const uid = opts.uid === undefined ? Deno.uid() : opts.uid;
    const net = await buildHostNetwork(config, { disabled: opts.noHostNetwork ?? false, uid }, log);
    const hv = await buildHypervisor(config, log);
    await warnIfMissing(config.kernel, "guest kernel", "deno task kernel, or --kernel PATH", log);
    await warnIfMissing(config.agentImage, "agent image", "deno task agent, or --agent-image", log);

    // One agent channel per VM, dialed on first use (src/guest/channel.ts).
    const channels = new AgentChannels();
    cleanups.push(() => channels.close());
    const services = createServices({
      store,
      hypervisor: hv.hypervisor,
      network: net.network,
      guest: new GuestClient({ channels }),
      serial: unixSerialDialer,
      images: new OciImageConverter(config.stateDir, log.child({ component: "oci" })),
      pci: new SysfsPassthrough({ stateDir: `${config.stateDir}/vfio` }),
      seeds: new VfatSeedWriter(),
      log: log.child({ component: "service" }),
      // The resolved config passes through whole (stateDir, machine, kernel, ...): options
      // named like config keys take their values, so none is dropped by a hand-made copy.
      // Only what has another shape is derived below.
      options: {
        ...config,
        pool: { start: config.poolStart || undefined, end: config.poolEnd || undefined },
        dns: guestDns(config.dns, (m) => log.warn(m)),
        stopGraceMs: config.stopGraceSeconds * 1000,
        version: VERSION,
        downloads: {
          allowPrivateSources: config.allowPrivateSources,
          maxBytes: config.downloadMaxBytes,
          connectTimeoutMs: config.downloadTimeoutSeconds * 1000,
          idleTimeoutMs: config.downloadTimeoutSeconds * 2000,
        },
      },
    });
    cleanups.push(() => services.close());
    await services.start();

    let token: string | undefined;
    if (config.listen) {
      const t = await ensureToken(config.stateDir, (msg, fields) => log.warn(msg, fields));
      token = t.token;
      log.info(t.created ? "api token created" : "api token loaded", { path: t.path });
    }
    const apiLog = log.child({ component: "api" });
    // Aborted first at shutdown: SSE and log-follow streams end, so the listeners close fast.
    const shutdown = new AbortController();
    const app = createApp({
      services,
      auth: { token },
      logger: apiLog,
      logs: fileLogReader(),
      shutdown: shutdown.signal,
    });
    const onError = (error: unknown) =>
      apiLog.error("http server error", {
        error: error instanceof Error ? error.message : String(error),
      });

    const listeners: Listener[] = [];
    const unix = await serveUnix(config.socket, app.fetch, onError);
    listeners.push(unix);
    cleanups.push(() => unix.close());
    if (config.listen) {
      const tcp = serveTcp(config.listen, app.fetch, onError);
      listeners.push(tcp);
      cleanups.push(() => tcp.close());
    }
    cleanups.push(() => shutdown.abort()); // runs first (cleanups unwind in reverse)
    log.info("volantd listening", {
      version: VERSION,
      socket: unix.address,
      tcp: listeners.find((l) => l.transport === "tcp")?.address ?? null,
      state_dir: config.stateDir,
    });

    let closed = false;
    return {
      services,
      listeners,
      async close() {
        if (closed) return;
        closed = true;
        await unwind();
      },
    };
  } catch (error) {
    await unwind();
    throw error;
  }
}
