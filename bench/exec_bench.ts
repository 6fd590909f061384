/**
 * Exec and file copy through the agent on a real QEMU guest (TCG here), and
 * the serial console as the ssh-free alternative measured on the same guest:
 *
 * 1. exec round trip of `true` through the API (POST /api/v1/vms/web/exec;
 *    volantd reaches kestrel over the agent channel): median of RUNS; also
 *    `volar vms exec web -- true` wall time (includes volar's own start-up).
 *    Then the two paths to kestrel compared without volantd in between:
 *    the agent channel (the daemon's `agent-http-<id>.sock`, virtio-serial) and
 *    the network (`ip:8080` from the sandbox namespace), both with the key.
 * 2. serial console round trip: `echo $((N))` typed into the debug shell on
 *    ttyS0, until the answer comes back: median of RUNS.
 * 3. file copy, SIZE_MIB (default 100) MiB each way with `volar vms cp`,
 *    sha256 checked; vs 1 MiB printed through the serial console. Into the
 *    guest, the channel's virtio-serial port hands kestrel one 4 KiB buffer
 *    per read(): kestrel does one blocking read on a worker thread, then
 *    drains what is queued on its own thread (agent/channel.ts), so "cp in"
 *    measures mostly QEMU's chardev -> virtio-serial path and the guest's
 *    CPU under TCG (at load ~3: 100 MiB in 5.5 -> 7.9 MiB/s with the drain,
 *    20 MiB 1.6-2.0 -> 3.0-3.8; out 4-15 MiB/s, noisy).
 *
 * Run: deno run -A bench/exec_bench.ts   (RUNS=n, default 10; SIZE_MIB=n;
 *      ONLY=cp: copies only; ONLY=exec: exec numbers only)
 *
 * @module
 */
import { prepareHost } from "../scripts/journey/prepare.ts";
import { Sandbox } from "../scripts/journey/sandbox.ts";

const RUNS = Number(Deno.env.get("RUNS") ?? 10);
const SIZE_MIB = Number(Deno.env.get("SIZE_MIB") ?? 100);
/** ONLY=cp skips the exec and console sections; ONLY=exec skips the console and the copies. */
const ONLY = Deno.env.get("ONLY");

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

async function sha256(path: string): Promise<string> {
  const out = await new Deno.Command("sha256sum", { args: [path], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).split(" ")[0];
}

/** A raw serial console session: send text, wait for a marker in the output. */
class Console {
  #conn: Deno.UnixConn;
  #text = "";
  #bytes = 0;
  #reading: Promise<void>;
  constructor(conn: Deno.UnixConn) {
    this.#conn = conn;
    this.#reading = (async () => {
      const dec = new TextDecoder();
      for await (const chunk of conn.readable) {
        this.#bytes += chunk.length;
        this.#text = (this.#text + dec.decode(chunk, { stream: true })).slice(-4096);
      }
    })();
  }
  get bytes() {
    return this.#bytes;
  }
  async send(text: string) {
    await this.#conn.write(new TextEncoder().encode(text));
  }
  async waitFor(marker: string, ms = 120_000) {
    const deadline = Date.now() + ms;
    while (!this.#text.includes(marker)) {
      if (Date.now() > deadline) throw new Error(`console: no ${marker} within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 2));
    }
    this.#text = "";
  }
  async close() {
    this.#conn.close();
    await this.#reading.catch((e) => {
      if (!(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted)) throw e;
    });
  }
}

async function main() {
  const artifacts = await prepareHost();
  const sb = await Sandbox.create({ artifacts, prefix: "volant-xbench" });
  const http = Deno.createHttpClient({ proxy: { transport: "unix", path: sb.socket } });
  try {
    await sb.startDaemon();
    await sb.installExample({ shim: artifacts.shim });
    const created = await sb.volar([
      "vms",
      "create",
      "web",
      "--plugin",
      "static-http",
      "--memory",
      String(256 + 2 * SIZE_MIB),
      "--kernel-cmdline",
      "volant.debug_shell=1",
    ]);
    if (created.code !== 0) throw new Error(created.stderr);
    for (let i = 0;; i++) {
      const vm = await sb.volarJson<{ health: string }>(["vms", "show", "web"]);
      if (vm.health === "healthy") break;
      if (i > 600) throw new Error("web not healthy");
      await new Promise((r) => setTimeout(r, 500));
    }

    // 1. exec round trip through the API.
    const execMs: number[] = [];
    for (let i = 0; i < (ONLY === "cp" ? 0 : RUNS + 1); i++) {
      const t0 = performance.now();
      const res = await fetch("http://volantd/api/v1/vms/web/exec", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ argv: ["true"] }),
        client: http,
      });
      const text = await res.text();
      if (!text.includes('"exit_code":0')) throw new Error(`exec: ${res.status} ${text}`);
      if (i > 0) execMs.push(performance.now() - t0); // the first warms the connection
    }
    const t1 = performance.now();
    const cli = await sb.volar(["vms", "exec", "web", "--", "true"]);
    if (cli.code !== 0) throw new Error(cli.stderr);
    const cliMs = performance.now() - t1;
    if (ONLY !== "cp") {
      console.log(`exec true (API, agent channel): median ${round(median(execMs))} ms of ${RUNS}`);
    }
    console.log(`exec true (volar vms exec, incl. CLI start): ${round(cliMs)} ms`);
    let channelMs = NaN;
    let networkMs = NaN;
    if (ONLY !== "cp") {
      const key = (await Deno.readTextFile(`${sb.runtimeDir}/web/agent.key`)).trim();
      const vm = await sb.volarJson<{ ip: string }>(["vms", "show", "web"]);
      // The daemon's link socket for the VM's channel (agent-http-<id>.sock, one per link).
      const link = [...Deno.readDirSync(`${sb.runtimeDir}/web`)]
        .find((e) => /^agent-http-.*\.sock$/.test(e.name));
      if (!link) throw new Error("no agent channel link socket in the VM's runtime dir");
      const chan = Deno.createHttpClient({
        proxy: { transport: "unix", path: `${sb.runtimeDir}/web/${link.name}` },
      });
      const times: number[] = [];
      for (let i = 0; i < RUNS + 1; i++) {
        const t0 = performance.now();
        const res = await fetch("http://kestrel:8080/agent/v1/exec", {
          method: "POST",
          headers: { "content-type": "application/json", "x-volant-agent-key": key },
          body: JSON.stringify({ argv: ["true"] }),
          client: chan,
        });
        const text = await res.text();
        if (!text.includes('"exit_code":0')) throw new Error(`channel exec: ${res.status} ${text}`);
        if (i > 0) times.push(performance.now() - t0);
      }
      chan.close();
      channelMs = median(times);
      // The same loop from inside the sandbox namespace, to ip:8080.
      const code = `const ts = []; for (let i = 0; i < ${RUNS + 1}; i++) {` +
        `const t0 = performance.now(); const r = await fetch("http://${vm.ip}:8080/agent/v1/exec", ` +
        `{ method: "POST", headers: { "content-type": "application/json", ` +
        `"x-volant-agent-key": ${JSON.stringify(key)} }, body: '{"argv":["true"]}' });` +
        `const t = await r.text(); if (!t.includes('"exit_code":0')) throw new Error(t);` +
        `if (i > 0) ts.push(performance.now() - t0); }` +
        `ts.sort((a, b) => a - b); console.log(ts[Math.floor(ts.length / 2)]);`;
      const net = await sb.inNetns([Deno.execPath(), "eval", code]);
      if (net.code !== 0) throw new Error(`network exec: ${net.stderr}`);
      networkMs = Number(net.stdout.trim());
      console.log(
        `exec true direct to kestrel: channel median ${round(channelMs)} ms, ` +
          `network median ${round(networkMs)} ms (of ${RUNS} each)`,
      );
    }

    // 2. serial console round trip (debug shell on ttyS0).
    const consoleMs: number[] = [];
    let consoleMiBs = 0;
    if (ONLY !== "cp" && ONLY !== "exec") {
      const con = new Console(
        await Deno.connect({ transport: "unix", path: `${sb.runtimeDir}/web/serial.sock` }),
      );
      await con.send("\n");
      await new Promise((r) => setTimeout(r, 1000));
      await con.send("echo $((4000+4))\n");
      await con.waitFor("4004");
      for (let i = 0; i < RUNS; i++) {
        const t0 = performance.now();
        await con.send(`echo $((5000+${i}))\n`);
        await con.waitFor(String(5000 + i));
        consoleMs.push(performance.now() - t0);
      }
      console.log(`console round trip (echo): median ${round(median(consoleMs))} ms of ${RUNS}`);
      const before = con.bytes;
      const tc = performance.now();
      await con.send("head -c 1048576 /dev/zero | tr '\\0' x; echo; echo $((7000+7))\n");
      await con.waitFor("7007", 600_000);
      const consoleS = (performance.now() - tc) / 1000;
      consoleMiBs = (con.bytes - before) / 1048576 / consoleS;
      console.log(`console output 1 MiB: ${round(consoleS, 2)} s (${round(consoleMiBs, 3)} MiB/s)`);
      await con.close();
    }

    // 3. file copy each way.
    let inS = NaN;
    let outS = NaN;
    if (ONLY !== "exec") {
      const file = `${sb.dir}/blob`;
      await new Deno.Command("sh", {
        args: ["-c", `head -c ${SIZE_MIB * 1048576} /dev/urandom > ${file}`],
      }).output();
      const tIn = performance.now();
      const up = await sb.volar(["vms", "cp", file, "web:/tmp/in"]);
      if (up.code !== 0) throw new Error(up.stderr);
      inS = (performance.now() - tIn) / 1000;
      const tOut = performance.now();
      const down = await sb.volar(["vms", "cp", "web:/tmp/in/blob", `${sb.dir}/back`]);
      if (down.code !== 0) throw new Error(down.stderr);
      outS = (performance.now() - tOut) / 1000;
      if (await sha256(file) !== await sha256(`${sb.dir}/back/blob`)) {
        throw new Error("copy: checksums differ");
      }
      console.log(`cp ${SIZE_MIB} MiB in: ${round(inS, 2)} s (${round(SIZE_MIB / inS, 2)} MiB/s)`);
      console.log(
        `cp ${SIZE_MIB} MiB out: ${round(outS, 2)} s (${round(SIZE_MIB / outS, 2)} MiB/s)`,
      );
    }
    console.log(
      "BENCH_JSON " + JSON.stringify({
        area: "exec",
        runs: RUNS,
        exec_true_api_ms_median: round(median(execMs)),
        exec_true_cli_ms: round(cliMs),
        console_echo_ms_median: round(median(consoleMs)),
        console_output_mib_s: round(consoleMiBs, 3),
        cp_mib: SIZE_MIB,
        cp_in_mib_s: round(SIZE_MIB / inS, 2),
        cp_out_mib_s: round(SIZE_MIB / outS, 2),
        exec_true_channel_ms_median: round(channelMs),
        exec_true_network_ms_median: round(networkMs),
      }),
    );
  } finally {
    http.close();
    await sb.close();
  }
}

if (import.meta.main) await main();
