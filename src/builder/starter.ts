/**
 * `fledge init`: a commented starter fledge.toml (plus the page it serves) that
 * validates and builds as it is: busybox httpd serving www/index.html.
 *
 * @module
 */
import { basename, join, resolve } from "node:path";
import { VolantError } from "../errors.ts";
import { DNS_LABEL } from "../manifest/names.ts";
import { existsSync } from "../shared/fs.ts";

/** A DNS-label plugin name from a directory name ("My App" -> "my-app"). */
export function nameFromDir(dir: string): string {
  const n = basename(resolve(dir)).toLowerCase().replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "").slice(0, 63).replace(/-+$/, "");
  return DNS_LABEL.test(n) ? n : "my-plugin";
}

/** The starter fledge.toml for plugin `name`. */
export function starterToml(name: string): string {
  return `# fledge.toml: how to build the "${name}" Volant plugin (see docs/fledge.md).
# Build:    fledge build            -> dist/${name}-0.1.0.cpio.gz, dist/${name}.manifest.json, dist/SHA256SUMS
# Check:    fledge validate
# Install:  volar plugins install dist/${name}.manifest.json

version = "1"            # fledge.toml format version (always "1")
strategy = "initramfs"   # the whole appliance is one initramfs

[plugin]
name = "${name}"         # DNS label: lower-case letters, digits, '-'
version = "0.1.0"        # becomes part of the artifact's file name

[resources]
cpu_cores = 1
memory_mb = 128          # the initramfs is unpacked into guest RAM: leave room for it

[workload]               # what kestrel starts and supervises in the guest
entrypoint = ["/bin/httpd", "-f", "-p", "80", "-h", "/srv/www"]
base_url = "http://127.0.0.1:80"   # where kestrel proxies /v1/* and runs the health check
env = { PATH = "/usr/bin:/bin:/usr/sbin:/sbin" }
workdir = "/"
restart = "on-failure"   # never | on-failure | always

[health_check]
endpoint = "/"
timeout_ms = 5000

# Host files -> absolute guest paths (host paths are relative to this file).
# Modes: bin/sbin dirs and .so files in lib dirs get 0755, executables keep 0755,
# everything else 0644; override with a table: { to = "/usr/bin/app", mode = "0750" }.
[mappings]
"www" = "/srv/www"

# Optional: where busybox comes from (default: Debian busybox-static at /bin/busybox).
# [source]
# busybox_path = "/bin/busybox"
# busybox_url = "https://example.org/busybox"   # with busybox_sha256 = "sha256:<hex>"

# Optional: put a compiled kestrel at /bin/kestrel (default: kestrel comes from the
# shared agent image on vda).
# [agent]
# source_strategy = "local"   # or "http" with url + checksum
# path = "kestrel"

# Optional: run your own init (an in-image path) after the shim instead of kestrel,
# or none = true to provide /init yourself through [mappings].
# [init]
# path = "/sbin/my-init"
`;
}

/** The page the starter serves. */
export function starterIndex(name: string): string {
  return `<!doctype html>\n<title>${name}</title>\n<h1>${name} is running on Volant</h1>\n`;
}

/** Writes the starter into `dir`; refuses to overwrite unless `force`. Returns the files written. */
export function writeStarter(
  dir: string,
  options: { name?: string; force?: boolean } = {},
): string[] {
  const name = options.name ?? nameFromDir(dir);
  if (!DNS_LABEL.test(name)) {
    throw new VolantError("invalid_input", `--name: "${name}" must be a DNS label`, {
      problems: [{ field: "--name", message: "must be a DNS label" }],
    });
  }
  Deno.mkdirSync(join(dir, "www"), { recursive: true });
  const files: [string, string][] = [
    [join(dir, "fledge.toml"), starterToml(name)],
    [join(dir, "www", "index.html"), starterIndex(name)],
  ];
  for (const [path] of files) {
    if (!options.force && existsSync(path, { followLinks: false })) {
      throw new VolantError("conflict", `${path} already exists (use --force to overwrite)`);
    }
  }
  for (const [path, text] of files) Deno.writeTextFileSync(path, text);
  return files.map(([p]) => p);
}
