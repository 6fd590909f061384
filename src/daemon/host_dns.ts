/**
 * The guests' default DNS servers: the host's upstream resolvers. Volant's
 * documents promise that guests resolve names; with no `dns` configured we
 * hand guests the `nameserver` lines of the host's /etc/resolv.conf, skipping
 * loopback stubs a guest cannot reach (systemd-resolved's 127.0.0.53, a local
 * dnsmasq); when only a systemd-resolved stub is there, its upstream list
 * (/run/systemd/resolve/resolv.conf) is read instead. IPv4 only (the guest
 * network is IPv4). `dns = "none"` turns it off.
 *
 * @module
 */

/** Default files, in the order they are tried. */
export const RESOLV_FILES = ["/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"] as const;

/** IPv4 `nameserver` addresses of a resolv.conf text, loopback and link-local skipped. */
export function upstreamNameservers(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\d{1,3}(?:\.\d{1,3}){3})\s*(?:[#;].*)?$/.exec(line);
    if (!m) continue;
    const ip = m[1];
    const octets = ip.split(".").map(Number);
    if (octets.some((o) => o > 255)) continue;
    if (octets[0] === 127 || octets[0] === 0 || (octets[0] === 169 && octets[1] === 254)) continue;
    if (!out.includes(ip)) out.push(ip);
  }
  return out.slice(0, 3); // resolv(5): at most three are used
}

/** The host's upstream resolvers from the first file in `files` that lists any. */
export function hostNameservers(files: readonly string[] = RESOLV_FILES): string[] {
  for (const file of files) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    const found = upstreamNameservers(text);
    if (found.length > 0) return found;
  }
  return [];
}

/**
 * The DNS servers guests get: the configured list, nothing for `none`, else the
 * host's upstream resolvers (with `warn` called when there are none).
 */
export function guestDns(
  configured: string[],
  warn: (message: string) => void,
  files: readonly string[] = RESOLV_FILES,
): string[] | undefined {
  if (configured.length === 1 && configured[0] === "none") return undefined;
  if (configured.length > 0) return configured;
  const host = hostNameservers(files);
  if (host.length === 0) {
    warn(
      `guests get no DNS servers: ${files.join(" and ")} list no non-loopback nameserver; ` +
        `set dns = "1.1.1.1,..." (or VOLANT_DNS) to give them one`,
    );
    return undefined;
  }
  return host;
}
