/**
 * `volar setup` for real, as root, inside a network namespace and a private
 * mount namespace this test creates: scratch directories are bind-mounted
 * over /etc/systemd/system, /etc/sysctl.d, /var/lib, /var/log and /run, so
 * setup writes its real default paths without touching the host's. Links,
 * the nftables ruleset, ip_forward and the scratch files are compared to
 * the start after --dry-run, after two applies (the second a no-op), and
 * after --uninstall; a failing step rolls back the ones before it; the unit
 * passes `systemd-analyze verify`.
 *
 * Guest artifacts are the real kernel (kernel/build.sh, cache hit) and agent
 * image (scripts/agent_image.ts); volantd is a `deno task link` launcher.
 * Takes about 20 s (each volar run is a `deno run` of the checkout).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { buildAgentArtifacts } from "../../scripts/agent_image.ts";
import { link } from "../../scripts/link.ts";
import { REPO } from "../../scripts/_repo.ts";
import { createNetns, type Netns, requireCommands, run } from "../_helpers/netns.ts";

const MOUNTS = ["etc/systemd/system", "etc/sysctl.d", "var/lib", "var/log", "run"];

async function kernel(): Promise<{ vmlinux: string; bzImage: string }> {
  const r = await run(["bash", join(REPO, "kernel", "build.sh")]);
  if (r.code !== 0) throw new Error(`kernel/build.sh failed: ${r.stderr}`);
  const kv = Object.fromEntries(r.stdout.trim().split("\n").map((l) => l.split("=", 2)));
  return { vmlinux: kv.vmlinux, bzImage: kv.bzImage };
}

/** Every path under `root` with its type, mode and content hash. */
async function snapshotFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = join(dir, e.name);
      const st = await Deno.lstat(p);
      const mode = ((st.mode ?? 0) & 0o7777).toString(8);
      if (st.isSymlink) out.push(`${p} -> ${await Deno.readLink(p)}`);
      else if (st.isDirectory) {
        out.push(`${p}/ ${mode}`);
        await walk(p);
      } else {
        const hash = createHash("sha256").update(await Deno.readFile(p)).digest("hex");
        out.push(`${p} ${mode} ${hash.slice(0, 16)}`);
      }
    }
  };
  await walk(root);
  return out.sort();
}

interface HostState {
  links: string[];
  ruleset: string;
  ipForward: string;
  files: string[];
}

async function hostState(ns: Netns, scratch: string): Promise<HostState> {
  const links = (JSON.parse(await ns.check(["ip", "-j", "-d", "link", "show"])) as {
    ifname: string;
    address?: string;
    flags: string[];
  }[]).map((l) => `${l.ifname} ${l.address} ${l.flags.join(",")}`).sort();
  const addrs = await ns.check(["ip", "-br", "addr"]);
  return {
    links: [...links, addrs.trim()],
    ruleset: await ns.check(["nft", "list", "ruleset"]),
    ipForward: (await ns.check(["cat", "/proc/sys/net/ipv4/ip_forward"])).trim(),
    files: await snapshotFiles(scratch),
  };
}

Deno.test("volar setup: dry-run, apply twice, uninstall, rollback; in a net+mount namespace", async () => {
  await requireCommands("ip", "nft", "unshare", "mount", "systemd-analyze");
  const tmp = await Deno.makeTempDir({ prefix: "volar-setup-" });
  const scratch = join(tmp, "root");
  for (const m of MOUNTS) await Deno.mkdir(join(scratch, m), { recursive: true });
  const bin = join(tmp, "bin");
  await link(bin);
  const k = await kernel();
  const agent = await buildAgentArtifacts({
    kestrel: { kind: "entry", path: join(REPO, "agent", "main.ts") },
    cacheDir: Deno.env.get("VOLANT_CACHE_DIR") ?? "/var/cache/volant",
    setCurrent: false,
    log: () => {},
  });
  // Runs argv inside a private mount namespace with the scratch dirs over the real paths.
  const wrapper = join(tmp, "in_scratch.sh");
  await Deno.writeTextFile(
    wrapper,
    [
      "set -e",
      ...MOUNTS.map((m) => `mount --bind ${join(scratch, m)} /${m}`),
      'exec "$@"',
      "",
    ].join("\n"),
  );
  const ns = await createNetns("su");
  const volar = (args: string[]) =>
    ns.run([
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "bash",
      wrapper,
      join(bin, "volar"),
      "setup",
      ...args,
    ], { env: { NO_COLOR: "1", PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" } });
  const sources = [
    "--vmlinux",
    k.vmlinux,
    "--bzimage",
    k.bzImage,
    "--agent-image",
    agent.agentImage,
    "--boot-initramfs",
    agent.bootInitramfs,
    "--volantd",
    join(bin, "volantd"),
  ];
  try {
    await ns.check(["ip", "link", "set", "lo", "up"]);
    const start = await hostState(ns, scratch);

    // --dry-run: the numbered plan, nothing changed.
    const dry = await volar(["--dry-run", ...sources]);
    assert.equal(dry.code, 0, dry.stderr);
    const planLines = dry.stdout.split("\n").filter((l) => /^\d+\. /.test(l));
    assert.equal(planLines.length, 6, dry.stdout);
    assert.match(
      dry.stdout,
      /^4\. bridge vbr0 with 192\.168\.127\.1\/24, up: would change: create vbr0$/m,
    );
    assert.deepEqual(await hostState(ns, scratch), start);

    // First apply: everything is made.
    const first = await volar(sources);
    assert.equal(first.code, 0, first.stderr + first.stdout);
    assert.match(first.stdout, /setup: done \(6 of 6 steps changed something\)/);
    assert.match(first.stdout, /systemd is not PID 1 here: start the daemon yourself/);
    const link0 = JSON.parse(await ns.check(["ip", "-j", "-d", "link", "show", "vbr0"]))[0];
    assert.equal(link0.linkinfo.info_kind, "bridge");
    assert.ok(link0.flags.includes("UP"));
    assert.match(await ns.check(["ip", "-br", "addr", "show", "vbr0"]), /192\.168\.127\.1\/24/);
    const ruleset = await ns.check(["nft", "list", "table", "inet", "volant"]);
    assert.match(ruleset, /ip saddr 192\.168\.127\.0\/24 oifname != "vbr0" masquerade/);
    assert.equal((await ns.check(["cat", "/proc/sys/net/ipv4/ip_forward"])).trim(), "1");
    assert.equal(
      await Deno.readTextFile(join(scratch, "etc/sysctl.d/60-volant.conf")).then((t) =>
        t.includes("net.ipv4.ip_forward = 1")
      ),
      true,
    );
    const unitPath = join(scratch, "etc/systemd/system/volantd.service");
    const unit = await Deno.readTextFile(unitPath);
    assert.match(
      unit,
      new RegExp(`^ExecStart=${join(bin, "volantd")} --state-dir /var/lib/volant `, "m"),
    );
    assert.match(unit, /^KillMode=process$/m);
    const verify = await run(["systemd-analyze", "verify", unitPath]);
    assert.equal(verify.code, 0, `systemd-analyze verify: ${verify.stderr}${verify.stdout}`);
    assert.equal(verify.stderr.trim(), "", verify.stderr);
    assert.equal(
      (await Deno.stat(join(scratch, "var/log/volant"))).mode! & 0o777,
      0o750,
    );
    const kernelCopy = await Deno.readFile(join(scratch, "var/lib/volant/kernel/vmlinux"));
    assert.equal(kernelCopy.length, (await Deno.stat(k.vmlinux)).size);
    const applied = await hostState(ns, scratch);

    // Second apply: nothing changes, and it says so.
    const second = await volar(sources);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /setup: nothing changed \(everything was already in place\)/);
    assert.doesNotMatch(second.stdout, /: done \(/);
    assert.deepEqual(await hostState(ns, scratch), applied);
    const dry2 = await volar(["--dry-run", ...sources]);
    assert.equal(
      dry2.stdout.split("\n").filter((l) => /^\d+\. .*: in place, nothing to do$/.test(l)).length,
      6,
      dry2.stdout,
    );

    // Uninstall: the namespace and the scratch files are as they were.
    const un = await volar(["--uninstall"]);
    assert.equal(un.code, 0, un.stderr + un.stdout);
    assert.match(un.stdout, /setup --uninstall: done/);
    assert.deepEqual(await hostState(ns, scratch), start);
    const again = await volar(["--uninstall"]);
    assert.match(again.stdout, /nothing to undo \(no setup record/);

    // A failing step rolls back the steps before it: vbr0 taken by a veth.
    await ns.check(["ip", "link", "add", "vbr0", "type", "veth", "peer", "name", "vbr0p"]);
    const taken = await hostState(ns, scratch);
    const failed = await volar(sources);
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /step 4 \(bridge vbr0 .*\) failed: vbr0 exists and is a veth link/);
    assert.match(failed.stdout, /rolled back: IPv4 forwarding/);
    assert.match(failed.stdout, /rolled back: directories/);
    assert.deepEqual(await hostState(ns, scratch), taken);
  } finally {
    await ns.delete();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("volar setup: bad flags are one line naming the flag, before any change", async () => {
  const r = await run([
    "bash",
    "-c",
    `exec -a volar ${Deno.execPath()} run -A ${REPO}/src/main.ts setup --dry-run --host-ip 10.0.0.1`,
  ]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /--host-ip: 10\.0\.0\.1 is not in 192\.168\.127\.0\/24/);
  const s = await run([
    "bash",
    "-c",
    `exec -a volar ${Deno.execPath()} run -A ${REPO}/src/main.ts setup --dry-run --subnet 10.0.0.0/33`,
  ]);
  assert.equal(s.code, 2);
  assert.match(s.stderr, /--subnet: '10\.0\.0\.0\/33' is not an IPv4 network/);
});
