/**
 * Exec and the agent key on a real guest: the example plugin
 * (examples/static-http, built by fledge) boots under QEMU in a sandboxed
 * volantd (its own network namespace); one boot serves every step:
 * `volar vms exec` exit codes, stdin, 10 MiB of output, a timeout that kills
 * the whole session (a background job in its own process group too) with no
 * zombie left in the guest; a bridge neighbour (a second namespace plugged
 * into the sandbox's bridge, as another guest is) gets 401 from port 8080
 * and the guest logs the refusal; a restart rotates the key and exec still
 * works. On failure the serial and daemon logs are kept in test-artifacts/e2e-exec/.
 * About 2-3 min on an idle machine (TCG).
 */
import assert from "node:assert/strict";
import { prepareHost } from "../../scripts/journey/prepare.ts";
import { Sandbox } from "../../scripts/journey/sandbox.ts";
import { REPO } from "../../scripts/_repo.ts";

const KEEP_LOGS = `${REPO}/test-artifacts/e2e-exec`;

interface Vm {
  name: string;
  state: string;
  health: string;
  ip: string;
}

async function run(cmd: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** `volar` with stdin piped in (Sandbox.volar gives the process no stdin). */
async function volarWithStdin(sb: Sandbox, args: string[], stdin: string) {
  const child = new Deno.Command(`${sb.binDir}/volar`, {
    args: ["--socket", sb.socket, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(stdin));
  await w.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const ZOMBIES = 'for f in /proc/[0-9]*/stat; do read -r l < "$f" 2>/dev/null; ' +
  'case "$l" in *") Z "*) echo "zombie: $l";; esac; done; true';

/**
 * A background job in a process group of its own (fixtures/own_group_job.js, run by kestrel's
 * own deno; the script text is the shell's `$1`), holding `sleep 61`; it writes "pid pgid" to
 * /tmp/own once it has its group.
 */
const OWN_GROUP_JOB = "DENO_DIR=/tmp/deno-job DENO_NO_UPDATE_CHECK=1 " +
  "/volant/agent/lib/ld-linux-x86-64.so.2 --library-path /volant/agent/lib " +
  '/volant/agent/bin/deno eval "$1" </dev/null >/dev/null 2>&1 &';
const OWN_GROUP_SCRIPT = await Deno.readTextFile(
  new URL("./fixtures/own_group_job.js", import.meta.url),
);

Deno.test({
  name: "exec: volar vms exec on a QEMU guest; bridge neighbours get 401; the key rotates",
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  if (Deno.uid() !== 0) throw new Error("e2e tests need root (netns, TAP): run as root");
  const artifacts = await prepareHost();
  const sb = await Sandbox.create({ artifacts, prefix: "volant-exec" });
  const peer = `${sb.netns}p`;
  let ok = false;
  try {
    await sb.startDaemon();
    await sb.installExample({ shim: artifacts.shim });
    const created = await sb.volar(["vms", "create", "web", "--plugin", "static-http"]);
    assert.equal(created.code, 0, created.stderr);
    // Healthy means the daemon's health polls carried the key (kestrel answers 401 without).
    const vm = await sb.waitHealthy<Vm>("web");
    const keyFile = `${sb.runtimeDir}/web/agent.key`;
    const key1 = await Deno.readTextFile(keyFile);
    assert.equal((await Deno.stat(keyFile)).mode! & 0o777, 0o600);

    await t.step("exit codes; stdout and stderr apart", async () => {
      const r = await sb.volar([
        "vms",
        "exec",
        "web",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 5",
      ]);
      assert.equal(r.code, 5, r.stderr);
      assert.equal(r.stdout, "out\n");
      assert.equal(r.stderr, "err\n");
      const host = await sb.volar(["vms", "exec", "web", "--", "hostname"]);
      assert.equal(host.code, 0, host.stderr);
      assert.equal(host.stdout, "web\n");
    });

    await t.step("stdin with -i", async () => {
      const r = await volarWithStdin(sb, [
        "vms",
        "exec",
        "-i",
        "web",
        "--",
        "sh",
        "-c",
        "wc -c; cat",
      ], "");
      assert.equal(r.code, 0, r.stderr);
      const text = "line one\nline two\n";
      const cat = await volarWithStdin(sb, ["vms", "exec", "-i", "web", "--", "cat"], text);
      assert.equal(cat.stdout, text);
    });

    await t.step("10 MiB of output arrives whole", async () => {
      const r = await sb.volar([
        "vms",
        "exec",
        "web",
        "--",
        "sh",
        "-c",
        "head -c 10485760 /dev/zero | tr '\\0' x",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.length, 10 * 1024 * 1024);
      assert.ok(/^x+$/.test(r.stdout));
    });

    await t.step(
      "a timeout kills the whole session, jobs in own groups too; no zombie stays",
      async () => {
        const r = await sb.volar([
          "vms",
          "exec",
          "--timeout",
          "30",
          "web",
          "--",
          "sh",
          "-c",
          `${OWN_GROUP_JOB} sleep 60 & while [ ! -s /tmp/own ]; do sleep 0.1; done; sleep 60`,
          "sh",
          OWN_GROUP_SCRIPT,
        ]);
        assert.equal(r.code, 124, r.stderr);
        const own = await sb.volar(["vms", "exec", "web", "--", "cat", "/tmp/own"]);
        assert.equal(own.code, 0, `the own-group job never started: ${own.stderr}`);
        const [pid, pgid] = own.stdout.trim().split(" ");
        assert.equal(pid, pgid, "the job did not get a process group of its own");
        let leftover = "";
        for (let i = 0; i < 20; i++) {
          const z = await sb.volar([
            "vms",
            "exec",
            "web",
            "--",
            "sh",
            "-c",
            `${ZOMBIES}; pgrep -f 'sleep 6[01]' || true; [ -e /proc/${pid} ] && echo "job ${pid}"; true`,
          ]);
          assert.equal(z.code, 0, z.stderr);
          leftover = z.stdout.trim();
          if (leftover === "") break;
          await new Promise((res) => setTimeout(res, 500));
        }
        assert.equal(leftover, "", "zombies or survivors in the guest");
      },
    );

    await t.step(
      "volar vms cp: a directory tree in and out, checksums and modes equal",
      async () => {
        const tree = `${sb.dir}/tree`;
        const made = await run([
          "sh",
          "-c",
          `mkdir -p ${tree}/sub/deep && head -c 2000000 /dev/urandom > ${tree}/sub/blob &&
        chmod 750 ${tree}/sub/blob && echo hi > ${tree}/a && chmod 604 ${tree}/a && ln -s a ${tree}/link &&
        chmod 711 ${tree}/sub/deep`,
        ]);
        assert.equal(made.code, 0, made.stderr);
        const listing = async (d: string) =>
          (await run([
            "sh",
            "-c",
            `cd ${d} && find . -printf '%p %y %m %l\n' | sort && find . -type f -exec sha256sum {} + | sort -k2`,
          ])).stdout;
        const up = await sb.volar(["vms", "cp", tree, "web:/tmp/copied"]);
        assert.equal(up.code, 0, up.stderr);
        const inGuest = await sb.volar([
          "vms",
          "exec",
          "web",
          "--",
          "sha256sum",
          "/tmp/copied/tree/sub/blob",
        ]);
        const local = (await run(["sha256sum", `${tree}/sub/blob`])).stdout.split(" ")[0];
        assert.equal(inGuest.stdout.split(" ")[0], local);
        const down = await sb.volar(["vms", "cp", "web:/tmp/copied/tree", `${sb.dir}/back`]);
        assert.equal(down.code, 0, down.stderr);
        assert.equal(await listing(`${sb.dir}/back/tree`), await listing(tree));
      },
    );

    await t.step("a bridge neighbour gets 401 on every agent path; the guest logs it", async () => {
      // The neighbour: a namespace on the sandbox's bridge, where another guest's TAP would be.
      const must = async (cmd: string[]) => {
        const r = await run(cmd);
        assert.equal(r.code, 0, `${cmd.join(" ")}: ${r.stderr}`);
      };
      await must(["ip", "netns", "add", peer]);
      await must([
        "ip",
        "link",
        "add",
        "vpeer0",
        "netns",
        sb.netns,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        peer,
      ]);
      await must([
        "ip",
        "netns",
        "exec",
        sb.netns,
        "ip",
        "link",
        "set",
        "vpeer0",
        "master",
        "vbr0",
        "up",
      ]);
      await must([
        "ip",
        "netns",
        "exec",
        peer,
        "ip",
        "addr",
        "add",
        "192.168.127.250/24",
        "dev",
        "eth0",
      ]);
      await must(["ip", "netns", "exec", peer, "ip", "link", "set", "eth0", "up"]);
      const code = "const out = [];" +
        `for (const p of ["/healthz", "/v1/status", "/v1/logs", "/v1/", "/agent/v1/exec"]) {` +
        `  const r = await fetch("http://${vm.ip}:8080" + p, { method: p.startsWith("/agent") ? "POST" : "GET",` +
        `    body: p.startsWith("/agent") ? '{"argv":["id"]}' : undefined, signal: AbortSignal.timeout(20000) });` +
        `  out.push(p + " " + r.status + " " + (await r.text()).length); }` +
        "console.log(out.join('\\n'));";
      const r = await run(["ip", "netns", "exec", peer, Deno.execPath(), "eval", code]);
      assert.equal(r.code, 0, r.stderr);
      for (const line of r.stdout.trim().split("\n")) assert.match(line, / 401 /, line);
      const log = await Deno.readTextFile(`${sb.runtimeDir}/web/serial.log`);
      assert.match(log, /api: refused GET \/v1\/logs from 192\.168\.127\.250:\d+: no agent key/);
    });

    await t.step("restart rotates the key; exec works with the new one", async () => {
      const r = await sb.volar(["vms", "restart", "web"]);
      assert.equal(r.code, 0, r.stderr);
      await sb.waitHealthy<Vm>("web");
      const key2 = await Deno.readTextFile(keyFile);
      assert.notEqual(key2, key1);
      const e = await sb.volar(["vms", "exec", "web", "--", "true"]);
      assert.equal(e.code, 0, e.stderr);
    });
    ok = true;
  } finally {
    if (!ok) {
      const kept = await sb.keepSerialLogs(KEEP_LOGS);
      console.error(`exec e2e: logs kept: ${kept.join(", ")}`);
    }
    await run(["ip", "netns", "del", peer]);
    await sb.close();
  }
});
