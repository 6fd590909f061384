/**
 * Egress and isolation from inside real QEMU guests: one volantd in a
 * network namespace this test creates (jail on), an "outside" namespace
 * beyond it (10.99.0.2, reached through the daemon's NAT) with TCP servers
 * on ports 80 and 81, and three VMs of the static-http example, each with
 * its own policy from its manifest:
 *
 * - `allow`: egress allow-list 10.99.0.0/24 tcp port 80 only;
 * - `deny`: egress deny-all;
 * - `iso`: default egress (allow-all) but `isolation: true`.
 *
 * Each guest runs a CGI probe (`/cgi-bin/probe?<host>:<port>`: an HTTP
 * request through busybox nc with a 3 s timeout; the static busybox's wget
 * crashes resolving any address) and reports what it reached over its own
 * HTTP endpoint; the test asks each guest in turn. All three boot at once and
 * share one daemon. Takes ~1.5-2.5 min (three TCG boots on 2 cores).
 */
import assert from "node:assert/strict";
import { prepareHost } from "../../scripts/journey/prepare.ts";
import { Sandbox } from "../../scripts/journey/sandbox.ts";
import { REPO } from "../../scripts/_repo.ts";
import { createNetns, type Netns, requireCommands } from "../_helpers/netns.ts";

const SERVER = "10.99.0.2";

/** Reports "reached" or "blocked" for the destination in the query string. */
const PROBE_CGI = `#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
h=\${QUERY_STRING%:*}; p=\${QUERY_STRING##*:}
# stdin stays open a while: busybox nc quits at stdin EOF, which can beat the server's answer.
out=$( (printf 'GET / HTTP/1.0\\r\\n\\r\\n'; sleep 3) | nc -w 3 "$h" "$p" 2>&1 | head -c 120)
case $out in HTTP/*) echo reached ;; *) echo "blocked $out" ;; esac
`;

interface Vm {
  name: string;
  state: string;
  health: string;
  ip: string;
}

const POLICIES = {
  allow: { egress: { allow: [{ cidr: "10.99.0.0/24", ports: [80], protocol: "tcp" }] } },
  deny: { egress: "deny-all" },
  iso: { isolation: true },
} as const;

/** Running and its httpd answering (the probe's endpoint), whatever the health poll says. */
async function waitServing(sb: Sandbox, name: string, ms = 300_000): Promise<Vm> {
  const deadline = Date.now() + ms;
  let vm: Vm | null = null;
  while (Date.now() < deadline) {
    vm = await sb.volarJson<Vm>(["vms", "show", name]);
    if (vm.state === "crashed" || vm.state === "failed") break;
    if (vm.state === "running") {
      const page = await sb.fetchInNetns(`http://${vm.ip}/`, 5).catch(() => "");
      if (page) return vm;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`VM ${name} not serving: ${JSON.stringify(vm)}`);
}

Deno.test({
  name: "guest egress: real guests reach only what their policy allows",
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  if (Deno.uid() !== 0) throw new Error("e2e tests need root (netns, TAP, nftables): run as root");
  await requireCommands("ip", "nft", "socat");
  const artifacts = await prepareHost();
  const sb = await Sandbox.create({ artifacts, prefix: "volant-egress", keepSys: true });
  let outside: Netns | null = null;
  const servers: Deno.ChildProcess[] = [];
  const tag = Deno.pid % 10000;
  try {
    await sb.startDaemon();
    // The outside world: a namespace behind the daemon's namespace, two TCP servers.
    outside = await createNetns("eo");
    const must = async (r: Promise<{ code: number; stderr: string }>) => {
      const x = await r;
      assert.equal(x.code, 0, x.stderr);
    };
    await must(outside.run(["ip", "link", "set", "lo", "up"]));
    await must(
      sb.inNetns([
        "ip",
        "link",
        "add",
        "uplink",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        outside.name,
      ]),
    );
    await must(sb.inNetns(["ip", "addr", "add", "10.99.0.1/24", "dev", "uplink"]));
    await must(sb.inNetns(["ip", "link", "set", "uplink", "up"]));
    await must(outside.run(["ip", "addr", "add", `${SERVER}/24`, "dev", "eth0"]));
    await must(outside.run(["ip", "link", "set", "eth0", "up"]));
    await must(sb.inNetns(["sysctl", "-qw", "net.ipv4.ip_forward=1"]));
    for (const port of [80, 81]) {
      servers.push(
        new Deno.Command("ip", {
          args: [
            "netns",
            "exec",
            outside.name,
            "socat",
            `TCP-LISTEN:${port},bind=${SERVER},fork,reuseaddr`,
            "SYSTEM:printf 'HTTP/1.0 200 OK\\r\\n\\r\\nok'",
          ],
          stdout: "null",
          stderr: "null",
        }).spawn(),
      );
    }

    // One build of the example with the probe; three manifests with their policies.
    const src = `${sb.dir}/plugin`;
    await new Deno.Command("cp", { args: ["-r", `${REPO}/examples/static-http`, src] }).output();
    await Deno.writeTextFile(`${src}/www/cgi-bin/probe`, PROBE_CGI, { mode: 0o755 });
    const build = await sb.fledge([
      "build",
      "-c",
      `${src}/fledge.toml`,
      "-o",
      `${src}/dist`,
      "--json",
    ]);
    assert.equal(build.code, 0, build.stderr);
    const built = JSON.parse(
      await Deno.readTextFile(
        (JSON.parse(build.stdout) as { manifest: { path: string } }).manifest.path,
      ),
    );
    const vms: Record<keyof typeof POLICIES, Vm> = {} as never;
    for (const [key, policy] of Object.entries(POLICIES)) {
      const m = { ...built, name: `egress-${key}`, network: { mode: "bridged", ...policy } };
      const path = `${src}/dist/${key}.manifest.json`;
      await Deno.writeTextFile(path, JSON.stringify(m));
      const inst = await sb.volar(["plugins", "install", path]);
      assert.equal(inst.code, 0, inst.stderr);
      const r = await sb.volar(["vms", "create", `${key}${tag}`, "--plugin", `egress-${key}`]);
      assert.equal(r.code, 0, r.stderr);
    }
    for (const key of Object.keys(POLICIES) as (keyof typeof POLICIES)[]) {
      vms[key] = await waitServing(sb, `${key}${tag}`);
    }

    /** Asks guest `from` whether it can reach `to` (host:port): "reached" or "blocked". */
    const seen: string[] = [];
    const probe = async (from: Vm, to: string) => {
      const answer = (await sb.fetchInNetns(`http://${from.ip}/cgi-bin/probe?${to}`, 20)).trim();
      seen.push(`${from.name} -> ${to}: ${answer}`);
      console.log(seen.at(-1));
      return answer.split(/\s/)[0];
    };

    await t.step("allow-list: port 80 of the allowed network only", async () => {
      assert.equal(await probe(vms.allow, `${SERVER}:80`), "reached");
      assert.equal(await probe(vms.allow, `${SERVER}:81`), "blocked");
    });
    await t.step("deny-all: nothing beyond the host", async () => {
      assert.equal(await probe(vms.deny, `${SERVER}:80`), "blocked");
      assert.equal(await probe(vms.deny, `${SERVER}:81`), "blocked");
    });
    await t.step("isolation: the internet yes, other guests no (both ways)", async () => {
      assert.equal(await probe(vms.iso, `${SERVER}:81`), "reached", "default egress is allow-all");
      assert.equal(await probe(vms.iso, `${vms.allow.ip}:80`), "blocked");
      assert.equal(await probe(vms.allow, `${vms.iso.ip}:80`), "blocked");
    });
    await t.step("default between peers: guests not isolated reach each other", async () => {
      assert.equal(await probe(vms.allow, `${vms.deny.ip}:80`), "reached");
    });
  } finally {
    await Promise.all(servers.map(stopServer));
    await sb.close();
    await outside?.delete();
  }
});

/** Ends one of our socat servers (by its own handle); one that already exited is fine. */
async function stopServer(s: Deno.ChildProcess): Promise<void> {
  try {
    s.kill("SIGTERM");
  } catch (e) {
    if (!(e instanceof TypeError)) throw e; // already exited
  }
  await s.status;
}
