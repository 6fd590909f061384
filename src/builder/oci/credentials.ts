/**
 * Registry credentials, first match wins:
 * 1. `--registry-auth USER:PASSWORD` (the `registryAuth` option), for the image's registry;
 * 2. `FLEDGE_REGISTRY_AUTH=USER:PASSWORD` in the environment;
 * 3. `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`): `auths[host].auth`
 *    (base64 `user:password`) or `username`/`password`, keyed by the host as
 *    `docker login` writes it (Docker Hub as `https://index.docker.io/v1/`).
 * Credential helpers (`credsStore`) are not run: a build never execs what a
 * config file names.
 *
 * @module
 */
import { join } from "node:path";
import { VolantError } from "../../errors.ts";
import { DOCKER_HUB } from "./reference.ts";

/** A user name and password for HTTP Basic (and the token endpoint). */
export interface Credentials {
  username: string;
  password: string;
  /** Where they came from, for messages (never the secret itself). */
  from: string;
}

/** Parses `USER:PASSWORD`; `from` names the source in errors. */
export function parseUserPassword(text: string, from: string): Credentials {
  const i = text.indexOf(":");
  if (i <= 0) {
    throw new VolantError("invalid_input", `${from}: must be USER:PASSWORD`, {
      problems: [{ field: from, message: "must be USER:PASSWORD" }],
    });
  }
  return { username: text.slice(0, i), password: text.slice(i + 1), from };
}

function hostKeys(registry: string): string[] {
  if (registry === DOCKER_HUB) {
    return ["https://index.docker.io/v1/", "index.docker.io", "docker.io", DOCKER_HUB];
  }
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`];
}

function fromDockerConfig(registry: string, env: Deno.Env): Credentials | undefined {
  const dir = env.get("DOCKER_CONFIG") ??
    (env.get("HOME") ? join(env.get("HOME")!, ".docker") : "");
  if (dir === "") return undefined;
  const file = join(dir, "config.json");
  let doc: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    doc = JSON.parse(Deno.readTextFileSync(file));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new VolantError("invalid_input", `${file}: cannot read docker config: ${error}`, {
      cause: error,
    });
  }
  for (const key of hostKeys(registry)) {
    const e = doc.auths?.[key];
    if (e === undefined) continue;
    if (e.auth) {
      const text = new TextDecoder().decode(Uint8Array.from(atob(e.auth), (c) => c.charCodeAt(0)));
      return parseUserPassword(text, `${file} auths["${key}"]`);
    }
    if (e.username !== undefined && e.password !== undefined) {
      return { username: e.username, password: e.password, from: `${file} auths["${key}"]` };
    }
  }
  return undefined;
}

/** The credentials to use for `registry`, or undefined for anonymous access. */
export function findCredentials(
  registry: string,
  registryAuth?: string,
  env: Deno.Env = Deno.env,
): Credentials | undefined {
  if (registryAuth !== undefined) return parseUserPassword(registryAuth, "--registry-auth");
  const fromEnv = env.get("FLEDGE_REGISTRY_AUTH");
  if (fromEnv) return parseUserPassword(fromEnv, "FLEDGE_REGISTRY_AUTH");
  return fromDockerConfig(registry, env);
}
