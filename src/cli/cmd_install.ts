/**
 * `volar plugins install <file|url> [--allow-unverified]`. A local file is
 * validated here first (instant field errors), then sent as its absolute
 * `path` so volantd resolves relative artifacts against the manifest's
 * directory; with `--api` (a possibly remote daemon) the manifest itself is
 * sent. A URL is sent as `url`. Download progress comes from the daemon's
 * `plugin.download` events, subscribed to before the install starts.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { InstallPluginBody, PluginInstallResult } from "../manifest/api.ts";
import type { VolantClient } from "../client/mod.ts";
import type { Command } from "./command.ts";
import { bytes, json } from "./format.ts";
import { signatureFields } from "./install_signature.ts";
import { classifySource, parseJsonText, readSource } from "./manifest_source.ts";
import { DownloadProgress, progressFromData } from "./progress.ts";

/** How long to wait for the event subscription, and for the closing event, before going on. */
const EVENT_WAIT_MS = 2000;

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => resolve = r);
  return { promise, resolve };
}

function delay(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<void>((r) => timer = setTimeout(r, ms));
  return { promise, cancel: () => clearTimeout(timer) };
}

async function raceTimeout(p: Promise<void>, ms: number): Promise<void> {
  const d = delay(ms);
  await Promise.race([p, d.promise]);
  d.cancel();
}

/** Runs `install` while rendering plugin.download events of `name` (any plugin when unknown). */
export async function installWithProgress(
  client: VolantClient,
  body: InstallPluginBody,
  name: string | undefined,
  progress: DownloadProgress,
  signal: AbortSignal,
): Promise<PluginInstallResult> {
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  signal.addEventListener("abort", onAbort, { once: true });
  const connected = deferred();
  const finished = deferred();
  const watcher = (async () => {
    try {
      const events = client.streamEvents({
        types: ["plugin.download", "plugin.installed", "plugin.updated"],
        resource: name,
        signal: abort.signal,
        reconnect: false,
        onConnect: connected.resolve,
      });
      for await (const ev of events) {
        if (ev.type === "plugin.download") {
          const u = progressFromData(ev.data);
          if (u) progress.update(u);
        } else {
          finished.resolve();
          break;
        }
      }
    } catch (error) {
      // No progress is not a reason to fail the install: the install call reports real errors.
      if (!abort.signal.aborted && !(error instanceof VolantError)) throw error;
    } finally {
      connected.resolve();
      finished.resolve();
    }
  })();
  try {
    await raceTimeout(connected.promise, EVENT_WAIT_MS);
    const result = await client.installPlugin(body);
    if (result.outcome !== "unchanged") await raceTimeout(finished.promise, EVENT_WAIT_MS);
    return result;
  } finally {
    abort.abort();
    signal.removeEventListener("abort", onAbort);
    await watcher;
    progress.finish();
  }
}

/** The install body for a manifest FILE or URL. */
async function manifestBody(
  arg: string,
  ctx: Parameters<Command["run"]>[0],
  allow: boolean,
): Promise<{ body: InstallPluginBody; name: string | undefined }> {
  const src = classifySource(arg, ctx.io.cwd());
  const remote = typeof ctx.values.api === "string" || !!ctx.io.env("VOLANT_API");
  const sig = await signatureFields(
    ctx.values.signature as string | undefined,
    src,
    remote,
    ctx.io.cwd(),
  );
  if (src.kind === "url") {
    return { body: { url: src.url, allow_unverified: allow, ...sig }, name: undefined };
  }
  const text = await readSource(src);
  const data = parseJsonText(text, src.path);
  // The manifest schemas (zod) load only when a manifest is checked (fast CLI start).
  const { validateManifest } = await import("../manifest/mod.ts");
  const v = validateManifest(data);
  if (!v.ok) {
    throw new VolantError("invalid_input", `${src.path}: invalid manifest`, {
      problems: v.problems,
    });
  }
  // A signature covers exact bytes: send the text, not the re-serialised object.
  const manifest = sig.signature !== undefined ? text : data as Record<string, unknown>;
  const body = remote
    ? { manifest, allow_unverified: allow, ...sig }
    : { path: src.path, allow_unverified: allow, ...sig };
  return { body, name: v.manifest.name };
}

export const pluginsInstall: Command = {
  path: ["plugins", "install"],
  summary: "install a plugin from a manifest file or URL, or from an OCI image (--image)",
  args: "FILE|URL | --manifest FILE|URL | --image REF",
  description: "The manifest is the argument or --manifest (Volant's spelling).\n" +
    "A local FILE is validated first, then volantd reads it by absolute path and\n" +
    "resolves relative artifact URLs against its directory (with --api the manifest\n" +
    "body is sent instead, so its artifacts must be URLs). Artifacts without a\n" +
    "checksum are refused unless --allow-unverified. Installing the same version again\n" +
    "changes nothing; a new version replaces the old one atomically.\n" +
    "volantd first verifies the manifest's minisign signature (<manifest>.minisig beside\n" +
    "it, or --signature) against its trusted keys (volar keys) and refuses a bad one.\n" +
    "With --image REF (registry reference, oci:DIR[:tag] or docker-archive:FILE on the\n" +
    "daemon's host) volantd pulls the image, converts it to an ext4 rootfs (cached by\n" +
    "image digest: plugins of one image share it) and installs a rootfs plugin whose\n" +
    "workload is the image's Entrypoint + Cmd (docs/oci.md).",
  example: "volar plugins install ./dist/caddy.manifest.json\n" +
    "  volar plugins install --image 127.0.0.1:5000/web/nginx:1 --insecure-registry --port 80",
  options: {
    manifest: { type: "string", value: "FILE|URL", help: "the manifest (instead of the argument)" },
    image: { type: "string", help: "convert and install this OCI image (docs/oci.md)" },
    name: { type: "string", help: "with --image: the plugin name (default: from the repository)" },
    port: { type: "string", help: "with --image: the workload's port (default: lowest exposed)" },
    platform: { type: "string", help: "with --image: os/arch[/variant] (default linux/amd64)" },
    "insecure-registry": {
      type: "boolean",
      help: "with --image: plain HTTP to the image's registry",
    },
    "allow-unverified": {
      type: "boolean",
      help: "accept artifacts that declare no sha256 checksum (recorded and shown)",
    },
    signature: {
      type: "string",
      value: "URL|FILE",
      help: "the manifest's .minisig (default: <manifest>.minisig beside it)",
    },
  },
  arity: [0, 1],
  interruptible: true,
  async run(ctx) {
    const allow = ctx.values["allow-unverified"] === true;
    const image = ctx.values.image as string | undefined;
    const manifestFlag = ctx.values.manifest as string | undefined;
    const given = [image, manifestFlag, ctx.positionals[0]].filter((v) => v !== undefined);
    if (given.length === 0) {
      throw new VolantError(
        "usage",
        "volar plugins install needs a manifest: FILE|URL or --manifest FILE|URL (or --image REF)",
      );
    }
    if (given.length > 1) {
      throw new VolantError(
        "usage",
        "give the manifest as an argument, with --manifest, or an --image REF: not both",
      );
    }
    let body: InstallPluginBody;
    let name: string | undefined;
    if (image !== undefined) {
      const port = ctx.values.port as string | undefined;
      if (port !== undefined && !/^[0-9]{1,5}$/.test(port)) {
        throw new VolantError("usage", "--port must be a TCP port number");
      }
      name = ctx.values.name as string | undefined;
      body = {
        image,
        name,
        port: port === undefined ? undefined : Number(port),
        platform: ctx.values.platform as string | undefined,
        insecure_registry: ctx.values["insecure-registry"] === true ? true : undefined,
        allow_unverified: false,
      };
    } else {
      ({ body, name } = await manifestBody(manifestFlag ?? ctx.positionals[0], ctx, allow));
    }
    const progress = new DownloadProgress(ctx.io);
    const result = await installWithProgress(ctx.client(), body, name, progress, ctx.signal);
    const p = result.plugin;
    if (ctx.output === "json") {
      ctx.io.out(json(result));
      return 0;
    }
    const size = p.artifacts.reduce((n, a) => n + a.size, 0);
    const count = `${p.artifacts.length} artifact${p.artifacts.length === 1 ? "" : "s"}`;
    if (result.outcome === "unchanged") {
      ctx.io.out(`plugin ${p.name} ${p.version} is already installed (unchanged)`);
    } else {
      ctx.io.out(`plugin ${p.name} ${p.version} ${result.outcome} (${count}, ${bytes(size)})`);
    }
    if (p.signature) {
      ctx.io.out(`signed by ${p.signature.key_name} (key ${p.signature.key_id})`);
    }
    for (const w of result.warnings ?? []) ctx.io.err(`warning: ${w.field}: ${w.message}`);
    const unverified = p.artifacts.filter((a) => !a.verified).map((a) => a.name);
    if (unverified.length > 0) {
      ctx.io.err(`warning: unverified artifacts (no checksum): ${unverified.join(", ")}`);
    }
    return 0;
  },
};
