/**
 * /etc/resolv.conf and /etc/hosts for the guest. Written in place when /etc is
 * writable (initramfs, a per-VM rootfs). When /etc is read-only, each file is
 * written under /run/kestrel/etc and bind-mounted over the existing target; a
 * target that does not exist on a read-only /etc cannot be created and is
 * reported (kestrel never hides the whole /etc behind a tmpfs: the workload's
 * passwd and friends live there).
 *
 * @module
 */
import type { NetworkConfig } from "./boot_config.ts";

export function renderResolvConf(dns: string[]): string {
  return "# written by kestrel from volant.dns\n" + dns.map((s) => `nameserver ${s}\n`).join("");
}

export function renderHosts(hostname: string | undefined, net: NetworkConfig | null): string {
  const lines = ["# written by kestrel", "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost"];
  if (hostname) lines.push(`${net ? net.address : "127.0.1.1"}\t${hostname}`);
  return lines.join("\n") + "\n";
}

/** How a file got written: in place, bind-mounted from `from`, or not at all. */
export type WriteResult =
  | { path: string; how: "written" }
  | { path: string; how: "bind"; from: string }
  | { path: string; how: "skipped"; reason: string };

/** The bind-mount hook (FFI in the guest; absent in host tests). */
export type BindMount = (source: string, target: string) => void;

function isReadOnly(e: unknown): boolean {
  return e instanceof Deno.errors.PermissionDenied ||
    (e instanceof Error && /read-only|EROFS|os error 30/i.test(e.message));
}

/** Writes `content` to `path`, falling back to a bind mount from `runDir` on EROFS. */
export function writeEtcFile(
  path: string,
  content: string,
  runDir: string,
  bind?: BindMount,
): WriteResult {
  try {
    // A symlink (e.g. to systemd-resolved's stub) would send the write elsewhere: replace it.
    if (Deno.lstatSync(path).isSymlink) Deno.removeSync(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound) && !isReadOnly(e)) throw e;
  }
  try {
    Deno.writeTextFileSync(path, content);
    return { path, how: "written" };
  } catch (e) {
    if (!isReadOnly(e)) throw e;
  }
  if (!bind) return { path, how: "skipped", reason: "read-only and no bind mount available" };
  try {
    Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return { path, how: "skipped", reason: "read-only /etc and no file to bind over" };
    }
    throw e;
  }
  Deno.mkdirSync(runDir, { recursive: true });
  const from = `${runDir}/${path.split("/").pop()}`;
  Deno.writeTextFileSync(from, content);
  bind(from, path);
  return { path, how: "bind", from };
}
