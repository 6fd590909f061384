/**
 * BusyBox for the image: Debian's busybox-static by path (default /bin/busybox),
 * another local static build, or a URL pinned by sha256. Applet links come from
 * the chosen binary's own `busybox --list`, so they match what it can run.
 *
 * @module
 */
import { join } from "node:path";
import { VolantError } from "../errors.ts";
import type { FledgeConfig } from "../manifest/fledge.ts";
import { download } from "./download.ts";
import { staticProblem } from "./elf.ts";
import { hostPath } from "./mappings.ts";

/** Where busybox comes from when fledge.toml does not say. */
export const DEFAULT_BUSYBOX = "/bin/busybox";

/** The binary and its applet names. */
export interface Busybox {
  data: Uint8Array;
  applets: string[];
  /** Where it came from (path or URL), for progress lines and --json. */
  source: string;
}

function problem(field: string, message: string, code: "invalid_input" | "not_found") {
  return new VolantError(code, `${field}: ${message}`, { problems: [{ field, message }] });
}

/** Loads busybox per `[source]`; `workDir` is a scratch dir inside the output dir. */
export async function loadBusybox(
  config: FledgeConfig,
  configDir: string,
  workDir: () => string,
): Promise<Busybox> {
  const s = config.source;
  let data: Uint8Array;
  let field: string;
  let exe: string;
  let source: string;
  if (s?.busybox_url !== undefined && s.busybox_sha256 !== undefined) {
    field = "source.busybox_url";
    source = s.busybox_url;
    data = await download(s.busybox_url, { field, sha256: s.busybox_sha256 });
    exe = join(workDir(), "busybox");
    Deno.writeFileSync(exe, data, { mode: 0o700 });
  } else {
    field = s?.busybox_path !== undefined ? "source.busybox_path" : "source (default busybox)";
    exe = s?.busybox_path !== undefined ? hostPath(configDir, s.busybox_path) : DEFAULT_BUSYBOX;
    source = exe;
    try {
      data = Deno.readFileSync(exe);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      const hint = s?.busybox_path === undefined ? " (apt-get install busybox-static)" : "";
      throw problem(field, `${exe} does not exist${hint}`, "not_found");
    }
  }
  const bad = staticProblem(data);
  if (bad !== null) {
    throw problem(
      field,
      `${source} ${bad}; use a static busybox (Debian: busybox-static)`,
      "invalid_input",
    );
  }
  return { data, applets: await listApplets(exe, field), source };
}

async function listApplets(exe: string, field: string): Promise<string[]> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(exe, { args: ["--list"], stdout: "piped", stderr: "piped" })
      .output();
  } catch (error) {
    throw new VolantError("invalid_input", `${field}: cannot run ${exe} --list: ${error}`, {
      problems: [{ field, message: `cannot run ${exe} --list` }],
      cause: error,
    });
  }
  if (!out.success) {
    throw problem(field, `${exe} --list exited with ${out.code}`, "invalid_input");
  }
  const applets = new TextDecoder().decode(out.stdout).split("\n").map((l) => l.trim())
    .filter((l) => /^[A-Za-z0-9_.[-]+$/.test(l) && l !== "busybox" && l !== "." && l !== "..");
  if (applets.length === 0) {
    throw problem(field, `${exe} --list printed no applets`, "invalid_input");
  }
  return [...new Set(applets)].sort();
}
