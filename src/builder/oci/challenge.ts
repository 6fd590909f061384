/**
 * `WWW-Authenticate` challenges (RFC 7235) as registries send them:
 * `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"`
 * or `Basic realm="..."`. Pure.
 *
 * @module
 */

/** One parsed challenge: the scheme (lower-case) and its parameters. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses the first challenge of a `WWW-Authenticate` header; null if there is none. */
export function parseChallenge(header: string | null): Challenge | null {
  if (header === null) return null;
  const m = /^\s*([A-Za-z][A-Za-z0-9_-]*)\s*(.*)$/s.exec(header);
  if (m === null) return null;
  const params: Record<string, string> = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/gy;
  re.lastIndex = 0;
  const rest = m[2];
  let p: RegExpExecArray | null;
  while ((p = re.exec(rest)) !== null) {
    params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3];
    if (re.lastIndex >= rest.length) break;
  }
  return { scheme: m[1].toLowerCase(), params };
}
