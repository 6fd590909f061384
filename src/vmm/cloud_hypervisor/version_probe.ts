/**
 * The Cloud Hypervisor version a snapshot is tied to, as the VMM itself
 * reports it over `vmm.ping` (`build_version`, else `version`): a VMM is
 * started with only `--api-socket` (no VM, no guest), pinged, and killed.
 * Cached per binary path, size and mtime: an upgraded binary is probed again.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import { ChApiClient } from "./api_client.ts";

const cache = new Map<string, Promise<string>>();

/** The `build_version` (else `version`) `binary` reports, probed once per build. */
export async function chVersion(binary: string, timeoutMs = 10_000): Promise<string> {
  const st = await Deno.stat(binary);
  const key = `${binary}|${st.size}|${st.mtime?.getTime()}`;
  let hit = cache.get(key);
  if (!hit) {
    hit = probe(binary, timeoutMs);
    cache.set(key, hit);
    hit.catch(() => cache.delete(key)); // a failed probe is tried again next time
  }
  return await hit;
}

async function probe(binary: string, timeoutMs: number): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "volant-ch-version-" });
  const socket = `${dir}/api.sock`;
  const child = new Deno.Command(binary, {
    args: ["--api-socket", `path=${socket}`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const api = new ChApiClient(socket, 1_000);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const ping = await api.ping();
        return ping.build_version || ping.version;
      } catch (e) {
        if (!(e instanceof VolantError) || Date.now() > deadline) {
          throw new VolantError(
            "unavailable",
            `${binary}: no vmm.ping answer within ${timeoutMs} ms (${(e as Error).message})`,
          );
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    killQuietly(child);
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

function killQuietly(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch (e) {
    if (!(e instanceof TypeError)) throw e; // TypeError: already exited
  }
}
