/**
 * `deno task demo`: the main job, end to end, on this machine.
 *
 * Installs what it needs (apt packages, the cached guest kernel, the agent
 * image), creates a network namespace of its own holding the Volant bridge,
 * starts volantd there on its embedded SQLite, builds the example plugin with
 * fledge, installs it with volar, creates a VM, waits until it is healthy,
 * fetches the workload's page from the VM's IP and through the API's proxy
 * route, and prints what happened with timings. Then it cleans up, or with
 * --keep leaves it running and prints the commands to inspect and stop it.
 * The host's own network is never changed.
 *
 * Usage: deno task demo [--keep] [--machine microvm|q35] [--no-baseline]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { prepareHost } from "./journey/prepare.ts";
import { Sandbox } from "./journey/sandbox.ts";
import { handRunBaseline } from "./journey/baseline.ts";

interface VmJson {
  name: string;
  state: string;
  health: string;
  ip: string;
  mac: string;
  plugin: string;
}

const EXAMPLE = Sandbox.repoPath("examples/static-http");

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Polls `volar vms show` until the VM is healthy (or failed/timeout). */
async function waitHealthy(sb: Sandbox, name: string, timeoutMs: number): Promise<VmJson> {
  const deadline = Date.now() + timeoutMs;
  let last: VmJson | null = null;
  while (Date.now() < deadline) {
    last = await sb.volarJson<VmJson>(["vms", "show", name]);
    if (last.health === "healthy") return last;
    if (last.state === "crashed" || last.state === "stopped") break;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `VM ${name} did not become healthy (state ${last?.state}, health ${last?.health}); ` +
      `serial log: ${sb.runtimeDir}/${name}/serial.log`,
  );
}

/** GET through the daemon's unix socket (the API's agent proxy route). */
async function viaApi(socket: string, path: string): Promise<{ status: number; body: string }> {
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  try {
    const res = await fetch(`http://volantd${path}`, { client });
    return { status: res.status, body: await res.text() };
  } finally {
    client.close();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      keep: { type: "boolean" },
      machine: { type: "string", default: "microvm" },
      "no-baseline": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log("usage: deno task demo [--keep] [--machine microvm|q35] [--no-baseline]");
    return 0;
  }
  if (Deno.uid() !== 0) {
    console.error("demo: needs root (network namespaces, TAP devices): run it with sudo");
    return 5;
  }
  const t0 = performance.now();
  const timings: [string, number][] = [];
  const step = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    const out = await fn();
    const ms = performance.now() - start;
    timings.push([label, ms]);
    console.log(`demo: ${label} ... ${seconds(ms)}`);
    return out;
  };

  const artifacts = await step("prepare host (apt, kernel, agent image)", prepareHost);
  const sb = await Sandbox.create({ artifacts, prefix: "volant-demo" });
  let keep = false;
  try {
    await step(
      `start volantd in netns ${sb.netns}`,
      () => sb.startDaemon({ detached: values.keep }),
    );
    const info = await sb.volarJson<
      { hypervisor: { accel?: { accel: "kvm" | "tcg"; reason: string } } }
    >(
      ["info"],
    );
    if (!info.hypervisor.accel) {
      throw new Error("volantd's system info has no accelerator decision");
    }
    const accel = info.hypervisor.accel.accel;
    console.log(`demo: accelerator ${accel}: ${info.hypervisor.accel.reason}`);
    const dist = `${sb.dir}/dist`;
    const built = await step("fledge build examples/static-http", async () => {
      const r = await sb.fledge(["build", "-c", `${EXAMPLE}/fledge.toml`, "-o", dist, "--json"]);
      if (r.code !== 0) throw new Error(`fledge build failed: ${r.stderr.trim()}`);
      return (JSON.parse(r.stdout) as { manifest: { path: string } }).manifest;
    });
    await step("volar plugins install", async () => {
      const r = await sb.volar(["plugins", "install", built.path]);
      if (r.code !== 0) throw new Error(`volar plugins install failed: ${r.stderr.trim()}`);
    });
    const createStart = performance.now();
    await step(`volar vms create web (${values.machine})`, async () => {
      const r = await sb.volar([
        "vms",
        "create",
        "web",
        "--plugin",
        "static-http",
        "--machine",
        values.machine!,
      ]);
      if (r.code !== 0) throw new Error(`volar vms create failed: ${r.stderr.trim()}`);
    });
    const vm = await step("wait until healthy", () => waitHealthy(sb, "web", 180_000));
    const createToHealthy = performance.now() - createStart;
    const page = await step(
      `GET http://${vm.ip}/ from the netns`,
      () => sb.fetchInNetns(`http://${vm.ip}/`),
    );
    const proxied = await step(
      "GET /api/v1/vms/web/agent/v1/ over the API socket",
      () => viaApi(sb.socket, "/api/v1/vms/web/agent/v1/"),
    );
    if (proxied.status !== 200) {
      throw new Error(`proxy route answered ${proxied.status}: ${proxied.body.slice(0, 200)}`);
    }
    console.log("");
    console.log(`VM web: state ${vm.state}, health ${vm.health}, ip ${vm.ip}, mac ${vm.mac}`);
    console.log(`page at http://${vm.ip}/: ${page.trim().split("\n")[0].slice(0, 100)}`);
    console.log(
      `same page through the API proxy: ${proxied.body === page ? "identical" : "differs"}`,
    );
    console.log(`create -> healthy: ${seconds(createToHealthy)}`);
    if (!values["no-baseline"]) {
      // The daemon's own accelerator decision, so both arms run on the same one.
      const baseline = await step(
        `hand-run QEMU baseline (same guest, ${accel})`,
        () => handRunBaseline(artifacts, `${dist}`, sb.dir, accel),
      );
      console.log(
        `hand-run QEMU boot -> ready: ${seconds(baseline)}; ratio ${
          (createToHealthy / baseline).toFixed(2)
        }x`,
      );
    }
    console.log(`total: ${seconds(performance.now() - t0)}`);
    if (values.keep) {
      keep = true;
      console.log("\nLeft running. Inspect and stop it with:");
      console.log(`  ${sb.binDir}/volar --socket ${sb.socket} vms list`);
      console.log(`  ${sb.binDir}/volar --socket ${sb.socket} vms logs web`);
      console.log(
        `  ip netns exec ${sb.netns} ${Deno.execPath()} eval ` +
          `"console.log(await (await fetch('http://${vm.ip}/')).text())"`,
      );
      console.log(`  ${sb.binDir}/volar --socket ${sb.socket} vms delete web`);
      console.log(`  kill ${sb.daemonPid}; ip netns del ${sb.netns}; rm -rf ${sb.dir}`);
      sb.detachDaemon();
    }
    return 0;
  } catch (error) {
    const kept = await sb.keepSerialLogs(`${Deno.cwd()}/demo-logs`);
    console.error(`demo: ${error instanceof Error ? error.message : error}`);
    if (kept.length > 0) console.error(`demo: logs kept in ${kept.join(", ")}`);
    return 1;
  } finally {
    if (!keep) {
      await sb.close();
      console.log("demo: cleaned up (VM deleted, daemon stopped, namespace removed)");
    }
  }
}

Deno.exit(await main());
