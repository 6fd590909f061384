/**
 * Test fixtures for the API: real services over a real SQLite file in a temp
 * state dir, the real app, and a plugin on disk (a random "initramfs" with
 * its sha256 and a manifest beside it) to install by path.
 *
 * @module
 */
import { createServices, type Services } from "../../service/mod.ts";
import { openStore } from "../../store/mod.ts";
import { createApp } from "../app.ts";
import { fileLogReader } from "../log_reader.ts";
import type { ApiDeps } from "../deps.ts";
import type { ApiEnv } from "../types.ts";
import type { OpenAPIHono } from "@hono/zod-openapi";

export const TEST_TOKEN = "test-token-0123456789abcdef";

export interface ApiFixture {
  dir: string;
  stateDir: string;
  services: Services;
  app: OpenAPIHono<ApiEnv>;
  /** A request as if it came through the unix socket (trusted). */
  unix(path: string, init?: RequestInit): Promise<Response>;
  /** A request as if it came through TCP (token required). */
  tcp(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/** Builds the fixture; `overrides` replaces parts of the app's deps. */
export async function apiFixture(overrides: Partial<ApiDeps> = {}): Promise<ApiFixture> {
  const dir = await Deno.makeTempDir({ prefix: "volant-api-" });
  const stateDir = `${dir}/state`;
  const store = openStore({ stateDir });
  const services = createServices({
    store,
    // Tests serve artifacts on loopback: allowed as an operator would (--allow-private-sources).
    options: {
      stateDir,
      runtimeDir: `${dir}/run`,
      version: "test",
      downloads: { allowPrivateSources: true },
    },
  });
  await services.start();
  const app = createApp({
    services,
    auth: { token: TEST_TOKEN },
    heartbeatMs: 100,
    logs: fileLogReader(),
    ...overrides,
  });
  return {
    dir,
    stateDir,
    services,
    app,
    unix: async (path, init) => await app.request(path, init, { transport: "unix" }),
    tcp: async (path, init) => await app.request(path, init, { transport: "tcp" }),
    async close() {
      await services.close();
      store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** JSON request init. */
export function jsonBody(method: string, body: unknown): RequestInit {
  return { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Writes `<dir>/<name>-<version>/{boot.cpio.gz,manifest.json}`; returns the manifest path. */
export async function writePlugin(dir: string, name: string, version = "1.0.0"): Promise<string> {
  const pdir = `${dir}/${name}-${version}`;
  await Deno.mkdir(pdir, { recursive: true });
  const blob = crypto.getRandomValues(new Uint8Array(4096));
  await Deno.writeFile(`${pdir}/boot.cpio.gz`, blob);
  const manifest = {
    schema_version: "1.0",
    name,
    version,
    runtime: name,
    initramfs: { url: "boot.cpio.gz", checksum: `sha256:${await sha256Hex(blob)}` },
    resources: { cpu_cores: 1, memory_mb: 128 },
    workload: { type: "http", entrypoint: ["/bin/app"], base_url: "http://127.0.0.1:80" },
  };
  const path = `${pdir}/manifest.json`;
  await Deno.writeTextFile(path, JSON.stringify(manifest));
  return path;
}

/** Installs a plugin through the API (unix transport); returns its name. */
export async function installPlugin(
  f: ApiFixture,
  name: string,
  version = "1.0.0",
): Promise<string> {
  const path = await writePlugin(f.dir, name, version);
  const res = await f.unix("/api/v1/plugins", jsonBody("POST", { path }));
  if (res.status !== 201 && res.status !== 200) {
    throw new Error(`install ${name} failed: ${res.status} ${await res.text()}`);
  }
  await res.body?.cancel();
  return name;
}
