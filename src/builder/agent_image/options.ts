/**
 * What an agent image build takes and gives, and the fixed paths it uses.
 *
 * @module
 */
import { join } from "node:path";
import { REPO } from "./run.ts";

export const SHIM_DIR = join(REPO, "shim");
export const BUSYBOX = "/bin/busybox";
/** Bumped when the layout changes, so old cache entries are not reused. */
export const LAYOUT_VERSION = "agent-image v2";
/** Where the shim mounts the image in the guest; the warm-up runs kestrel at this path. */
export const AGENT_MOUNT = "/volant/agent";

/** The V8 flags the launcher (shim/launcher.c V8_FLAGS) runs kestrel with; the warm-up must match. */
export const KESTREL_V8_FLAGS = "--v8-flags=--max-semi-space-size=1,--jitless";

/** What goes in as kestrel: a TS entry to bundle, a ready bundle, or a compiled binary. */
export type KestrelSource =
  | { kind: "entry"; path: string }
  | { kind: "bundle"; path: string }
  | { kind: "compiled"; path: string };

export interface AgentBuildOptions {
  kestrel: KestrelSource;
  /** Cache root; artifacts land in `<cacheDir>/agent/<key>/`. */
  cacheDir: string;
  /** Repoint `<cacheDir>/agent/current` (default true). */
  setCurrent?: boolean;
  force?: boolean;
  /** The deno runtime put in the image (default: the running one). */
  denoPath?: string;
  /**
   * Try `deno compile` of the bundle (needs denort: downloaded from dl.deno.land or
   * DENORT_BIN); when it cannot, ship deno + bundle and say so.
   */
  compile?: boolean;
  /** Seconds since the epoch for every timestamp (default SOURCE_DATE_EPOCH or 0). */
  epoch?: number;
  log?: (line: string) => void;
}

export interface AgentArtifacts {
  key: string;
  dir: string;
  agentImage: string;
  bootInitramfs: string;
  shim: string;
  cached: boolean;
}
