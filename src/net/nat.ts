/**
 * Forwarding and NAT: ip_forward through /proc/sys and one nftables table of
 * our own, `inet volant`, applied declaratively with `nft -f -` (create,
 * delete and recreate in one transaction, so it is atomic and idempotent) and
 * removed in one step. nftables is the one thing src/net drives through a
 * binary; links, TAPs and addresses go through netlink/ioctl.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { VolantError } from "../errors.ts";
import { networkOf, parseCidr } from "./addresses.ts";
import { validateIfName } from "./names.ts";

export const NFT_TABLE = "volant";
export const IP_FORWARD_PATH = "/proc/sys/net/ipv4/ip_forward";

/** What guests may reach on the host by default: ICMP, DNS and DHCP. */
export const DEFAULT_GUEST_SERVICES = { udp: [53, 67], tcp: [53] } as const;

export interface NatSpec {
  bridge: string;
  /** The guest subnet, e.g. 192.168.127.0/24 (a host address is normalised to its network). */
  subnet: string;
  /** Host TCP ports guests must never reach (the API above all). Dropped first. */
  guardHostPorts?: number[];
  /** Host services guests may reach on the bridge; anything else from the bridge to the host is dropped. */
  allow?: { udp?: readonly number[]; tcp?: readonly number[] };
}

function checkPorts(ports: readonly number[], field: string): number[] {
  for (const p of ports) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) {
      throw new VolantError("invalid_input", `${field}: ${p} is not a port (1-65535)`, {
        problems: [{ field, message: `${p} is not a port (1-65535)` }],
      });
    }
  }
  return [...new Set(ports)].sort((a, b) => a - b);
}

const set = (ports: number[]) => (ports.length === 1 ? `${ports[0]}` : `{ ${ports.join(", ")} }`);

/** The table body (without the marker); pure and deterministic. */
function body(s: NatSpec): { lines: string[]; bridge: string } {
  const bridge = validateIfName(s.bridge, "bridge");
  const subnet = networkOf(parseCidr(s.subnet, "subnet"));
  const guard = checkPorts(s.guardHostPorts ?? [], "guardHostPorts");
  const udp = checkPorts(s.allow?.udp ?? DEFAULT_GUEST_SERVICES.udp, "allow.udp");
  const tcp = checkPorts(s.allow?.tcp ?? DEFAULT_GUEST_SERVICES.tcp, "allow.tcp");
  const br = `iifname "${bridge}"`;
  const lines = [
    // Guests reach the host only for what they need; the guarded ports come first so no
    // allow-list entry can ever open them.
    `  chain input {`,
    `    type filter hook input priority filter; policy accept;`,
    ...(guard.length ? [`    ${br} tcp dport ${set(guard)} counter drop`] : []),
    `    ${br} ct state established,related accept`,
    `    ${br} meta l4proto { icmp, ipv6-icmp } accept`,
    ...(udp.length ? [`    ${br} udp dport ${set(udp)} accept`] : []),
    ...(tcp.length ? [`    ${br} tcp dport ${set(tcp)} accept`] : []),
    `    ${br} counter drop`,
    `  }`,
    // Guests may go out; from outside only replies (and DNAT'd port forwards) come in.
    `  chain forward {`,
    `    type filter hook forward priority filter; policy accept;`,
    `    ${br} oifname != "${bridge}" accept`,
    `    oifname "${bridge}" ct state established,related accept`,
    `    oifname "${bridge}" ct status dnat accept`,
    `    oifname "${bridge}" iifname != "${bridge}" counter drop`,
    `  }`,
    `  chain postrouting {`,
    `    type nat hook postrouting priority srcnat; policy accept;`,
    `    ip saddr ${subnet} oifname != "${bridge}" masquerade comment "@MARK@"`,
    `  }`,
  ];
  return { lines, bridge };
}

/** The marker stored as the masquerade rule's comment: lets ensureNat see "already applied". */
export function rulesetDigest(s: NatSpec): string {
  const digest = createHash("sha256").update(body(s).lines.join("\n")).digest("hex");
  return `volant:${digest.slice(0, 16)}`;
}

/** The `nft -f -` script: replaces the table atomically (one transaction). */
export function renderRuleset(s: NatSpec): string {
  const { lines } = body(s);
  const mark = rulesetDigest(s);
  return [
    `table inet ${NFT_TABLE} {}`,
    `delete table inet ${NFT_TABLE}`,
    `table inet ${NFT_TABLE} {`,
    ...lines.map((l) => l.replace("@MARK@", mark)),
    `}`,
    ``,
  ].join("\n");
}

/** Script that removes the table in one step, and is a no-op when it is absent. */
export const REMOVE_SCRIPT = `table inet ${NFT_TABLE} {}\ndelete table inet ${NFT_TABLE}\n`;

/** Runs `nft` with `args`, feeding `stdin`; a missing binary is `unavailable` with the fix. */
export async function runNft(args: string[], stdin?: string, nft = "nft"): Promise<string> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(nft, {
      args,
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new VolantError(
        "unavailable",
        "nft not found: install it with `apt-get install nftables`",
        {
          cause: e,
        },
      );
    }
    throw e;
  }
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const text = new TextDecoder();
  if (!out.success) {
    const err = text.decode(out.stderr).trim().split("\n").slice(0, 6).join(" | ");
    const code = /Operation not permitted/.test(err) ? "forbidden" : "internal";
    throw new VolantError(code, `nft ${args.join(" ")}: ${err || `exit ${out.code}`}`);
  }
  return text.decode(out.stdout);
}

/** Comments of rules in our table, or null when the table does not exist. */
export async function currentMarks(
  nft = "nft",
): Promise<{ marks: string[]; rules: number } | null> {
  const list = JSON.parse(await runNft(["-j", "list", "tables"], undefined, nft)) as {
    nftables: { table?: { family: string; name: string } }[];
  };
  const exists = list.nftables.some((o) =>
    o.table?.family === "inet" && o.table.name === NFT_TABLE
  );
  if (!exists) return null;
  const t = JSON.parse(
    await runNft(["-j", "list", "table", "inet", NFT_TABLE], undefined, nft),
  ) as {
    nftables: { rule?: { comment?: string } }[];
  };
  const rules = t.nftables.filter((o) => o.rule);
  return {
    marks: rules.flatMap((o) => (o.rule?.comment ? [o.rule.comment] : [])),
    rules: rules.length,
  };
}

/** Number of rules renderRuleset(s) creates (for the "already applied" check). */
export function ruleCount(s: NatSpec): number {
  return body(s).lines.filter((l) => /^ {4}(?!type )/.test(l)).length;
}

/** Turns IPv4 forwarding on (writes only when it is off). Per network namespace. */
export async function ensureIpForward(path = IP_FORWARD_PATH): Promise<void> {
  const now = (await Deno.readTextFile(path)).trim();
  if (now === "1") return;
  try {
    await Deno.writeTextFile(path, "1\n");
  } catch (e) {
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new VolantError("forbidden", `write ${path}: EACCES (needs root)`, { cause: e });
    }
    throw e;
  }
}

/** Applies the table unless the same ruleset (same digest, same rule count) is in place. */
export async function ensureNftTable(s: NatSpec, nft = "nft"): Promise<"applied" | "unchanged"> {
  const script = renderRuleset(s);
  const want = rulesetDigest(s);
  const cur = await currentMarks(nft);
  if (cur && cur.marks.includes(want) && cur.rules === ruleCount(s)) return "unchanged";
  await runNft(["-f", "-"], script, nft);
  const after = await currentMarks(nft);
  if (!after || !after.marks.includes(want) || after.rules !== ruleCount(s)) {
    throw new VolantError(
      "internal",
      `nft table inet ${NFT_TABLE} did not take the expected rules`,
    );
  }
  return "applied";
}

/** Removes our table in one transaction; absent is fine. */
export async function removeNftTable(nft = "nft"): Promise<void> {
  await runNft(["-f", "-"], REMOVE_SCRIPT, nft);
}
