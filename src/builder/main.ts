/**
 * The `fledge` persona: `build`, `validate`, `init`. Errors are printed here
 * (one line per problem, prefixed by the config file) or, with `--json`, as a
 * JSON object on stdout; the exit code comes from src/errors.ts.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { exitCodeFor, VolantError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { basename, dirname } from "node:path";
import { buildAppliance } from "./build.ts";
import { buildOciFromConfig, loadOciConfig, strategyOf } from "./oci/fledge_config.ts";
import { parsePlatform } from "./oci/image_manifest.ts";
import { decodeToml, type LoadOptions } from "./config.ts";
import { formatOf } from "./volant_v1.ts";
import { validateConfig } from "./validate_cmd.ts";
import { writeStarter } from "./starter.ts";
import { fledgeJsonSchema } from "./schema_cmd.ts";
import { keygen, KEYGEN_HELP, sign, SIGN_HELP, signBuild } from "./sign_cmd.ts";
import { loadSecretKey } from "./signing.ts";

const USAGE = `fledge ${VERSION}: builds Volant plugin appliances from fledge.toml

Usage:
  fledge build    [-c FILE] [-o DIR|FILE] [-m manifest.toml] [--agent PATH|URL|none]
                  [--init PATH | --no-init] [--no-kernel] [--busybox PATH] [--shim PATH]
                  [--base-url URL] [--sign KEY] [--json] [-q]
                  [--registry-auth USER:PASS] [--insecure-registry HOST] [--platform OS/ARCH]
  fledge validate [-c FILE] [-m manifest.toml] [--schema-only] [--json]
  fledge init     [DIR] [--name NAME] [--force]
  fledge schema   (JSON Schema of fledge.toml, for editors)
  fledge keygen   [-p PUB] [-s KEY] [-W]   (minisign-compatible signing key pair)
  fledge sign     FILE... [-s KEY]         (FILE.minisig, as minisign -S writes it)
  fledge --version | --help   (every command takes --help)

Docs: docs/fledge.md`;

const HELP: Record<string, string> = {
  build: `Usage: fledge build [-c FILE] [-o DIR] [options]

Builds the plugin described by FILE and writes, into DIR:
  <name>-<version>.cpio.gz   strategy "initramfs": the image (same inputs, same bytes)
  <name>-<version>.img       strategy "oci_rootfs": the root filesystem (ext4 or erofs)
                             converted from [source] image (same image digest, same bytes)
  <name>.manifest.json       the Volant plugin manifest (volar plugins install <it>)
  SHA256SUMS                 sha256sum -c compatible

FILE may be ours (it has [plugin] and [workload]) or Volant fledge's version 1
(no [plugin]: the name, resources and workload come from -m manifest.toml, or
defaults). docs/fledge.md has the compatibility table.

Options:
  -c, --config FILE   fledge.toml to build (default: fledge.toml)
  -o, --output DIR|FILE
                      output directory (default: dist), or the artifact's path
                      when it ends in .cpio.gz/.cpio/.cpio.zst, or is not a
                      directory and FILE is Volant's format (default there:
                      ./plugin.cpio.gz, Volant's name)
  -m, --manifest FILE Volant's manifest.toml (default: manifest.toml beside FILE, if any)
      --agent PATH|URL|none
                      stands in for [agent] source_strategy = "release" (nothing
                      is downloaded): a kestrel binary for /bin/kestrel, a URL
                      (with --agent-sha256 HEX), or none (VMs use the agent image)
      --agent-sha256 HEX  checksum of the --agent URL
      --init PATH     Volant's custom init: PATH (host file) becomes /init
      --no-init       no shim: the image's own /init (from [mappings]) is PID 1
      --no-kernel     accepted for Volant's scripts: fledge never puts a kernel or
                      host kernel modules in the image
      --busybox PATH  a local static busybox instead of [source] (offline builds)
      --shim PATH     static shim for /init (default: $FLEDGE_SHIM, then
                      \${VOLANT_CACHE_DIR:-/var/cache/volant}/agent/current/shim from \`deno task agent\`)
      --base-url URL  manifest initramfs.url = URL/<file> (default: the relative file name)
      --sign KEY      also write <name>.manifest.json.minisig and SHA256SUMS.minisig
                      with the minisign secret key KEY (see fledge keygen); an
                      encrypted key's password: --password-file F, FLEDGE_KEY_PASSWORD
                      or a prompt
      --json          print a machine-readable summary on stdout
  -q, --quiet         no progress lines on stderr

oci_rootfs only (docs/oci.md):
      --registry-auth USER:PASS   registry credentials (else $FLEDGE_REGISTRY_AUTH,
                                  else ~/.docker/config.json, else anonymous)
      --insecure-registry HOST    speak plain HTTP to HOST[:PORT] (repeatable)
      --registry-ca FILE          also trust this PEM CA (repeatable; the system store always)
      --platform OS/ARCH[/VAR]    pick this platform from an index (default linux/amd64)
      --cache-dir DIR             blob + rootfs cache (default \${VOLANT_CACHE_DIR:-/var/cache/volant}/oci)

Environment: SOURCE_DATE_EPOCH (mtime of every entry, default 0),
FLEDGE_DOWNLOAD_TIMEOUT_MS (default 120000), FLEDGE_REGISTRY_TIMEOUT_MS (registry
header and stall timeout, default 30000).`,
  validate: `Usage: fledge validate [-c FILE] [-m manifest.toml] [--schema-only] [--json]

Checks FILE (default fledge.toml) against the schema (unknown keys are errors) and
that the host files it names exist, and says which format it read: ours or
Volant fledge's version 1 (converted as docs/fledge.md describes; -m as for build).
Exits 0 when the build can start. --schema-only skips the host-file checks.`,
  init: `Usage: fledge init [DIR] [--name NAME] [--force]

Writes a commented starter DIR/fledge.toml (default DIR: .) and DIR/www/index.html:
a busybox httpd appliance that validates and builds as it is.`,
  schema: `Usage: fledge schema

Prints a JSON Schema of fledge.toml generated from the validator, for editors
(Taplo: \`#:schema ./fledge.schema.json\`). fledge validate remains the authority.`,
  keygen: KEYGEN_HELP,
  sign: SIGN_HELP,
};

function usageError(message: string): VolantError {
  return new VolantError("usage", `${message} (see fledge --help)`);
}

function parse(args: string[], options: NonNullable<ParseArgsConfig["options"]>) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    if (error instanceof TypeError) throw usageError(error.message);
    throw error;
  }
}

/** Entry point of the `fledge` persona; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === "--version" || command === "-V" || command === "version") {
    console.log(`fledge ${VERSION}`);
    return 0;
  }
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    console.log(USAGE);
    return 0;
  }
  if (!(command in HELP)) throw usageError(`unknown command '${command}'`);
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(HELP[command]);
    return 0;
  }
  const json = rest.includes("--json");
  let configFile = "fledge.toml";
  try {
    switch (command) {
      case "build": {
        const { values, positionals } = parse(rest, {
          config: { type: "string", short: "c" },
          output: { type: "string", short: "o" },
          manifest: { type: "string", short: "m" },
          agent: { type: "string" },
          "agent-sha256": { type: "string" },
          init: { type: "string" },
          "no-init": { type: "boolean" },
          "no-kernel": { type: "boolean" },
          busybox: { type: "string" },
          shim: { type: "string" },
          "base-url": { type: "string" },
          sign: { type: "string" },
          "password-file": { type: "string" },
          json: { type: "boolean" },
          quiet: { type: "boolean", short: "q" },
          "registry-auth": { type: "string" },
          "insecure-registry": { type: "string", multiple: true },
          "registry-ca": { type: "string", multiple: true },
          platform: { type: "string" },
          "cache-dir": { type: "string" },
        });
        if (positionals.length > 0) throw usageError(`unexpected argument '${positionals[0]}'`);
        configFile = (values.config as string | undefined) ?? configFile;
        if (strategyOf(configFile) === "oci_rootfs") {
          const quietOci = values.quiet === true;
          const platform = values.platform as string | undefined;
          const baseUrlOci = values["base-url"] as string | undefined;
          if (baseUrlOci !== undefined && !/^https?:\/\/\S+$/.test(baseUrlOci)) {
            throw usageError("--base-url must be an http(s) URL");
          }
          const ociSign = values.sign as string | undefined;
          const ociKey = ociSign === undefined
            ? undefined
            : await loadSecretKey(ociSign, values["password-file"] as string | undefined);
          const r = await buildOciFromConfig(
            configFile,
            (values.output as string | undefined) ?? "dist",
            {
              registryAuth: values["registry-auth"] as string | undefined,
              insecureRegistries: values["insecure-registry"] as string[] | undefined,
              caFiles: values["registry-ca"] as string[] | undefined,
              platform: platform === undefined ? undefined : parsePlatform(platform),
              cacheDir: values["cache-dir"] as string | undefined,
              baseUrl: baseUrlOci,
              epoch: sourceDateEpoch(),
              progress: quietOci ? undefined : (line) => console.error(`fledge: ${line}`),
            },
          );
          const ociSignatures = ociKey ? await signBuild(r, ociKey) : undefined;
          if (json) {
            const { value: _value, ...manifest } = r.manifest;
            console.log(JSON.stringify({ ok: true, ...r, manifest, signatures: ociSignatures }));
          } else {
            console.log(r.rootfs.path);
            console.log(r.manifest.path);
            if (ociSignatures) console.log(ociSignatures.manifest);
          }
          return 0;
        }
        const baseUrl = values["base-url"] as string | undefined;
        if (baseUrl !== undefined && !/^https?:\/\/\S+$/.test(baseUrl)) {
          throw usageError("--base-url must be an http(s) URL");
        }
        const quiet = values.quiet === true;
        const out = outputTarget(configFile, values.output as string | undefined);
        if (values["no-kernel"] === true && !quiet) {
          console.error(
            "fledge: --no-kernel: nothing to leave out (no kernel or host modules go in)",
          );
        }
        const signWith = values.sign as string | undefined;
        const key = signWith === undefined
          ? undefined
          : await loadSecretKey(signWith, values["password-file"] as string | undefined);
        const result = await buildAppliance({
          configFile,
          outDir: out.dir,
          artifactFile: out.file,
          load: v1Options(values),
          shimPath: values.shim as string | undefined,
          baseUrl,
          mtime: sourceDateEpoch(),
          progress: quiet ? undefined : (line) => console.error(`fledge: ${line}`),
        });
        const signatures = key ? await signBuild(result, key) : undefined;
        if (json) console.log(JSON.stringify({ ok: true, ...result, signatures }));
        else {
          console.log(result.artifact.path);
          console.log(result.manifest.path);
          if (signatures) console.log(signatures.manifest);
        }
        return 0;
      }
      case "validate": {
        const { values, positionals } = parse(rest, {
          config: { type: "string", short: "c" },
          manifest: { type: "string", short: "m" },
          "schema-only": { type: "boolean" },
          json: { type: "boolean" },
        });
        if (positionals.length > 0) throw usageError(`unexpected argument '${positionals[0]}'`);
        configFile = (values.config as string | undefined) ?? configFile;
        if (strategyOf(configFile) === "oci_rootfs") {
          const { oci } = loadOciConfig(configFile);
          const v1 = formatOf(decodeToml(Deno.readTextFileSync(configFile))) === "volant-v1";
          // A Volant v1 file also gets the v1 reader's summary (format, name, init); the
          // OCI builder builds it, so the reader's "not buildable" note does not apply.
          const { not_buildable: _, ...read } = v1
            ? validateConfig(configFile, {
              manifest: values.manifest as string | undefined,
              schemaOnly: true,
            })
            : { not_buildable: undefined };
          const summary = {
            config: configFile,
            ...read,
            strategy: "oci_rootfs",
            image: oci.source.image,
          };
          if (json) console.log(JSON.stringify({ ok: true, ...summary }));
          else {
            const format = v1 ? ", Volant fledge v1 fledge.toml" : "";
            console.log(`${configFile}: ok (oci_rootfs, image ${oci.source.image}${format})`);
          }
          return 0;
        }
        const summary = validateConfig(configFile, {
          manifest: values.manifest as string | undefined,
          schemaOnly: values["schema-only"] === true,
        });
        if (json) console.log(JSON.stringify({ ok: true, ...summary }));
        else {
          console.log(
            `${configFile}: ok, read as ${summary.format_name} ` +
              `(${summary.name} ${summary.version}, ${summary.strategy}, init ${summary.init})`,
          );
          if (summary.not_buildable) console.log(`note: ${summary.not_buildable}`);
        }
        return 0;
      }
      case "keygen": {
        const { values, positionals } = parse(rest, {
          "public-key": { type: "string", short: "p" },
          "secret-key": { type: "string", short: "s" },
          unencrypted: { type: "boolean", short: "W" },
          "password-file": { type: "string" },
          force: { type: "boolean", short: "f" },
          json: { type: "boolean" },
        });
        if (positionals.length > 0) throw usageError(`unexpected argument '${positionals[0]}'`);
        return await keygen(values, json);
      }
      case "sign": {
        const { values, positionals } = parse(rest, {
          "secret-key": { type: "string", short: "s" },
          "trusted-comment": { type: "string", short: "t" },
          legacy: { type: "boolean" },
          "password-file": { type: "string" },
          json: { type: "boolean" },
        });
        return await sign(values, positionals, json);
      }
      case "schema": {
        const { positionals } = parse(rest, {});
        if (positionals.length > 0) throw usageError(`unexpected argument '${positionals[0]}'`);
        console.log(JSON.stringify(fledgeJsonSchema(), null, 2));
        return 0;
      }
      default: {
        const { values, positionals } = parse(rest, {
          name: { type: "string" },
          force: { type: "boolean" },
          json: { type: "boolean" },
        });
        if (positionals.length > 1) throw usageError(`unexpected argument '${positionals[1]}'`);
        const files = writeStarter(positionals[0] ?? ".", {
          name: values.name as string | undefined,
          force: values.force === true,
        });
        if (json) console.log(JSON.stringify({ ok: true, files }));
        else for (const f of files) console.log(`wrote ${f}`);
        return 0;
      }
    }
  } catch (error) {
    if (!(error instanceof VolantError)) throw error;
    report(error, configFile, json);
    return exitCodeFor(error);
  }
}

/** Prints a VolantError: one line per problem, or a JSON object with --json. */
function report(error: VolantError, configFile: string, json: boolean): void {
  if (json) {
    console.log(JSON.stringify({
      ok: false,
      error: { code: error.code, message: error.message, problems: error.problems },
    }));
    return;
  }
  if (error.problems.length > 0 && error.code !== "usage") {
    for (const p of error.problems) {
      console.error(`fledge: ${configFile}: ${p.field}: ${p.message}`);
    }
  } else {
    console.error(`fledge: ${error.message}`);
  }
}

/** The Volant v1 inputs given on the command line. */
function v1Options(values: Record<string, unknown>): LoadOptions {
  if (values.init !== undefined && values["no-init"] === true) {
    throw usageError("give --init PATH or --no-init, not both");
  }
  return {
    manifest: values.manifest as string | undefined,
    agent: values.agent as string | undefined,
    agentSha256: values["agent-sha256"] as string | undefined,
    init: values.init as string | undefined,
    noInit: values["no-init"] === true,
    busybox: values.busybox as string | undefined,
  };
}

const ARTIFACT_SUFFIXES = [".cpio.gz", ".cpio", ".cpio.zst"];

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * `-o`: a directory (ours), or the artifact's path: a name with an artifact
 * suffix, or any non-directory name for a Volant v1 file (Volant wrote exactly
 * that name). Volant v1 without -o writes ./plugin.cpio.gz, as Volant did.
 */
export function outputTarget(
  configFile: string,
  output: string | undefined,
): { dir: string; file?: string } {
  let v1 = false;
  try {
    v1 = formatOf(decodeToml(Deno.readTextFileSync(configFile))) === "volant-v1";
  } catch (error) {
    // The build reads the file again and reports these itself.
    if (!(error instanceof VolantError) && !(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (output === undefined) return v1 ? { dir: ".", file: "plugin.cpio.gz" } : { dir: "dist" };
  if (output.endsWith("/") || isDirectory(output)) return { dir: output };
  if (v1 || ARTIFACT_SUFFIXES.some((s) => output.endsWith(s))) {
    return { dir: dirname(output) || ".", file: basename(output) };
  }
  return { dir: output };
}

/** SOURCE_DATE_EPOCH as an entry mtime; unset or empty means 0. */
export function sourceDateEpoch(): number {
  const raw = Deno.env.get("SOURCE_DATE_EPOCH");
  if (raw === undefined || raw === "") return 0;
  if (!/^\d+$/.test(raw) || Number(raw) > 0xffffffff) {
    throw new VolantError(
      "invalid_input",
      `SOURCE_DATE_EPOCH: "${raw}" must be a whole number of seconds (0..4294967295)`,
    );
  }
  return Number(raw);
}
