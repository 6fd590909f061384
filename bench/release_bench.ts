/**
 * The release as a user meets it:
 * - install: `deno task release` into a temp dir, served over HTTP on
 *   127.0.0.1, then `curl .../install.sh | bash` into a scratch prefix and
 *   data dir, timed until the installed `volar --version` answers; the
 *   archive's size and the total download;
 * - CLI start from the installed program (median of N): `volar --version`
 *   (target <= 50 ms) and `volar vms list` against a running daemon with
 *   20 VM rows (target <= 100 ms), against the floor `deno run` of an empty
 *   script takes, and against the single-file bundle (`deno task bundle`'s
 *   dist/volant.js shape) that loads every persona.
 *
 * With `--baseline REV` the same two calls also run from REV's code-split bundle (`git archive
 * REV`, bundled like the release), interleaved with the rest: a before/after on one busy host.
 *
 * Run alone: `deno run -A bench/release_bench.ts [--rounds N] [--kernel-dir DIR] [--baseline REV]`
 * (default 11 rounds; the kernel from kernel/build.sh, a cache hit, unless --kernel-dir names
 * vmlinux+bzImage).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { writePlugin } from "../src/api/testing/fixtures.ts";
import { createClient } from "../src/client/mod.ts";
import { startDaemonProcess } from "../src/daemon/testing/harness.ts";
import { bundle, bundleSplit } from "../scripts/bundle.ts";
import { archiveName, buildRelease } from "../scripts/release.ts";
import { REPO } from "../scripts/_repo.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string" },
    "kernel-dir": { type: "string" },
    baseline: { type: "string" },
  },
});
const ROUNDS = Number(values.rounds ?? Deno.env.get("VOLANT_BENCH_ROUNDS") ?? 11);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.error(`release_bench: --rounds must be a positive integer, not '${values.rounds}'`);
  Deno.exit(2);
}

async function sh(cmd: string[], env?: Record<string, string>) {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`${cmd.join(" ")}: exit ${out.code}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

interface Probe {
  cmd: string[];
  env?: Record<string, string>;
}

/**
 * Median wall ms of each probe over ROUNDS rounds, the probes interleaved in every round (so a
 * busy shared host slows them alike), plus the median per-round ratio to the first probe (the
 * floor), which is the steadier number under load. One warm-up round first.
 */
async function interleaved(probes: Probe[]): Promise<{ ms: number[]; ratio: number[] }> {
  for (const p of probes) await sh(p.cmd, p.env);
  const times: number[][] = probes.map(() => []);
  const ratios: number[][] = probes.map(() => []);
  for (let i = 0; i < ROUNDS; i++) {
    const round: number[] = [];
    for (const p of probes) {
      const t0 = performance.now();
      await sh(p.cmd, p.env);
      round.push(performance.now() - t0);
    }
    round.forEach((t, j) => {
      times[j].push(t);
      ratios[j].push(t / round[0]);
    });
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return {
    ms: times.map((t) => Math.round(median(t) * 10) / 10),
    ratio: ratios.map((r) => Math.round(median(r) * 100) / 100),
  };
}

const tmp = await Deno.makeTempDir({ prefix: "volant-release-bench-" });
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
  const path = join(tmp, "release", new URL(req.url).pathname.replace(/^\/+/, ""));
  try {
    const st = await Deno.stat(path);
    const f = await Deno.open(path);
    return new Response(f.readable, { headers: { "content-length": String(st.size) } });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return new Response("not found", { status: 404 });
    throw e;
  }
});
const daemon = await startDaemonProcess();
try {
  const t0 = performance.now();
  const r = await buildRelease({
    outDir: join(tmp, "release"),
    kernelDir: values["kernel-dir"],
    log: () => {},
  });
  const releaseS = (performance.now() - t0) / 1000;
  const archiveBytes = (await Deno.stat(join(tmp, "release", archiveName(r.tag)))).size;
  let downloadBytes = 0;
  for (const name of Object.keys(r.sums)) {
    if (name !== "install.sh") downloadBytes += (await Deno.stat(join(tmp, "release", name))).size;
  }

  const url = `http://127.0.0.1:${server.addr.port}`;
  const prefix = join(tmp, "root", "usr", "local", "bin");
  const t1 = performance.now();
  await sh([
    "bash",
    "-c",
    `set -o pipefail; curl -fsSL ${url}/install.sh | VOLANT_RELEASE_URL=${url} bash -s -- ` +
    `--prefix ${prefix} --data-dir ${join(tmp, "root", "var", "lib", "volant")}`,
  ]);
  const answer = await sh([join(prefix, "volar"), "--version"]);
  const installMs = Math.round(performance.now() - t1);
  if (!/^volar /.test(answer)) throw new Error(`installed volar answered '${answer}'`);

  const client = createClient({ socket: daemon.socket });
  await client.installPlugin({
    path: await writePlugin(daemon.dir, "web"),
    allow_unverified: false,
  });
  for (let i = 0; i < 20; i++) {
    await client.createVm({ name: `vm${i}`, plugin: "web", start: false });
  }
  client.close();
  const env = { VOLANT_SOCKET: daemon.socket, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" };

  const empty = join(tmp, "empty.js");
  await Deno.writeTextFile(empty, "");
  const single = join(tmp, "volant.js");
  await bundle(join(REPO, "src", "main.ts"), single);
  const deno = Deno.execPath();
  const run = [deno, "run", "-A", "--no-config"];
  const probes: Probe[] = [
    { cmd: [...run, empty] },
    { cmd: [join(prefix, "volar"), "--version"] },
    { cmd: [join(prefix, "volar"), "vms", "list"], env },
    { cmd: [...run, single, "volar", "--version"] },
    { cmd: [...run, single, "volar", "vms", "list"], env },
  ];
  const baseline = values.baseline;
  if (baseline !== undefined) {
    // REV's tree, bundled as the release bundles, run as the launcher runs it (argv0 = volar).
    const src = join(tmp, "baseline-src");
    await Deno.mkdir(src);
    await sh(["bash", "-c", `git -C "$0" archive "$1" | tar -x -C "$2"`, REPO, baseline, src]);
    await bundleSplit(join(src, "src", "main.ts"), join(tmp, "baseline"));
    const launch = (args: string[]) => [
      "bash",
      "-c",
      'exec -a volar "$0" run -A --no-config --no-prompt --quiet "$@"',
      deno,
      join(tmp, "baseline", "main.js"),
      ...args,
    ];
    probes.push({ cmd: launch(["--version"]) }, { cmd: launch(["vms", "list"]), env });
  }
  const m = await interleaved(probes);
  const [floor, version, list, singleVersion, singleList] = m.ms;
  const [, versionX, listX, singleVersionX, singleListX] = m.ratio;
  // The targets scaled to this run's floor: Deno's empty start is 30 ms on an idle machine.
  const idle = (x: number) => Math.round(30 * x);

  console.log(`release build: ${releaseS.toFixed(1)} s (${r.shape} shape)`);
  console.log(
    `archive ${archiveName(r.tag)}: ${(archiveBytes / 1024).toFixed(0)} KiB; ` +
      `all downloads ${(downloadBytes / 1048576).toFixed(1)} MiB`,
  );
  console.log(`install (curl | bash from loopback) to volar --version answering: ${installMs} ms`);
  console.log(`floor: deno run of an empty script: ${floor} ms (median of ${ROUNDS}, interleaved)`);
  console.log(
    `installed volar --version: ${version} ms, ${versionX}x the floor ` +
      `(~${idle(versionX)} ms at an idle 30 ms floor; target <= 50)`,
  );
  console.log(
    `installed volar vms list (20 rows): ${list} ms, ${listX}x the floor ` +
      `(~${idle(listX)} ms at an idle 30 ms floor; target <= 100)`,
  );
  console.log(
    `single-file bundle (every persona loaded): volar --version ${singleVersion} ms ` +
      `(${singleVersionX}x), vms list ${singleList} ms (${singleListX}x)`,
  );
  if (baseline !== undefined) {
    console.log(
      `baseline ${baseline} (code-split bundle): volar --version ${m.ms[5]} ms (${m.ratio[5]}x), ` +
        `vms list ${m.ms[6]} ms (${m.ratio[6]}x)`,
    );
  }
  console.log(
    "BENCH_JSON " + JSON.stringify({
      shape: r.shape,
      release_build_s: Number(releaseS.toFixed(1)),
      archive_bytes: archiveBytes,
      download_bytes: downloadBytes,
      install_to_version_ms: installMs,
      floor_empty_deno_run_ms: floor,
      volar_version_ms: version,
      volar_vms_list_ms: list,
      single_bundle_volar_version_ms: singleVersion,
      single_bundle_vms_list_ms: singleList,
      volar_version_x_floor: versionX,
      volar_vms_list_x_floor: listX,
      single_bundle_volar_version_x_floor: singleVersionX,
      single_bundle_vms_list_x_floor: singleListX,
      rounds: ROUNDS,
      ...(baseline === undefined ? {} : {
        baseline,
        baseline_volar_version_ms: m.ms[5],
        baseline_vms_list_ms: m.ms[6],
        baseline_volar_version_x_floor: m.ratio[5],
        baseline_vms_list_x_floor: m.ratio[6],
      }),
    }),
  );
} finally {
  await server.shutdown();
  await daemon.stop();
  await daemon.cleanup();
  await Deno.remove(tmp, { recursive: true });
}
