/**
 * OCI image -> rootfs, against doing it by hand, in the same run:
 *
 * - ours: `fledge build` (strategy oci_rootfs) pulling a 50-100 MB image
 *   (Debian's nginx with its libraries + Python's standard library, 4 layers)
 *   from Debian's docker-registry on loopback in a network namespace, with a
 *   fresh cache each round: pull + verify + unpack + ext4 + manifest;
 * - by hand: `skopeo copy docker://... oci:DIR` + `umoci unpack` + `mke2fs -d`.
 *
 * Target: time ratio <= 1.0 (median of VOLANT_BENCH_ROUNDS, default 3). Then
 * boot to healthy: volantd in the namespace, `volar plugins install --image`
 * from the same registry, `volar vms create`, until kestrel reports the
 * workload healthy and nginx answers at the VM's IP (needs the guest kernel
 * and agent image: `deno task kernel`, `deno task agent`; skipped with
 * VOLANT_BENCH_NO_BOOT=1 and then said so).
 *
 * Run alone: `deno run -A bench/oci_bench.ts`. Prints human lines and a final
 * `BENCH_JSON {...}` line.
 */
import { join } from "node:path";
import { makeNginxImage, NGINX_MARKER, sh } from "../src/builder/oci/_testing.ts";
import { startRegistries } from "../tests/_helpers/oci_registry.ts";

const MAIN = new URL("../src/main.ts", import.meta.url).pathname;
const EXTRA = "/usr/lib/python3.11";

function rounds(): number {
  const raw = Deno.env.get("VOLANT_BENCH_ROUNDS");
  if (raw === undefined || raw === "") return 3;
  if (!/^[1-9][0-9]?$/.test(raw)) {
    console.error(`oci bench: VOLANT_BENCH_ROUNDS must be 1-99, got "${raw}"`);
    Deno.exit(2);
  }
  return Number(raw);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function timedInNs(ns: string, cmd: string[], env: Record<string, string> = {}) {
  const t0 = performance.now();
  const out = await new Deno.Command("ip", {
    args: ["netns", "exec", ns, ...cmd],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  if (!out.success) {
    throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return { ms, stdout: new TextDecoder().decode(out.stdout) };
}

async function bootToHealthy(imageRef: string) {
  const { prepareHost } = await import("../scripts/journey/prepare.ts");
  const { Sandbox } = await import("../scripts/journey/sandbox.ts");
  const artifacts = await prepareHost();
  const sb = await Sandbox.create({ artifacts, prefix: "volant-ocib" });
  const reg = await startRegistries({ netns: sb.netns });
  try {
    const dir = Deno.makeTempDirSync({ prefix: "oci-bench-boot-" });
    try {
      await reg.push(await makeNginxImage(dir, [EXTRA]), imageRef);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
    await sb.startDaemon();
    const t0 = performance.now();
    const inst = await sb.volar([
      "plugins",
      "install",
      "--image",
      `${reg.plain}/${imageRef}`,
      "--insecure-registry",
    ]);
    if (inst.code !== 0) throw new Error(`install: ${inst.stderr}`);
    const installMs = performance.now() - t0;
    const t1 = performance.now();
    const c = await sb.volar(["vms", "create", "web", "--plugin", "nginx"]);
    if (c.code !== 0) throw new Error(`create: ${c.stderr}`);
    const deadline = Date.now() + 300_000;
    let vm: { state: string; health: string; ip: string } | null = null;
    while (Date.now() < deadline) {
      vm = await sb.volarJson(["vms", "show", "web"]);
      if (vm!.health === "healthy" || vm!.state === "crashed") break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const healthyMs = performance.now() - t1;
    if (vm?.health !== "healthy") throw new Error(`VM never healthy: ${JSON.stringify(vm)}`);
    const page = await sb.fetchInNetns(`http://${vm.ip}/`);
    if (!page.includes(NGINX_MARKER)) throw new Error(`unexpected page: ${page.slice(0, 200)}`);
    await sb.volar(["vms", "delete", "web", "--force"]);
    return { installMs, healthyMs };
  } finally {
    await reg.stop();
    await sb.close();
  }
}

if (import.meta.main) {
  if (Deno.uid() !== 0) throw new Error("oci bench needs root (netns, owners in the rootfs)");
  const n = rounds();
  const dir = Deno.makeTempDirSync({ prefix: "oci-bench-" });
  const reg = await startRegistries();
  const result: Record<string, unknown> = { bench: "oci", rounds: n };
  try {
    const image = await makeNginxImage(join(dir, "img"), [EXTRA]);
    await reg.push(image, "bench/nginx:1");
    const ref = `${reg.plain}/bench/nginx:1`;
    Deno.writeTextFileSync(
      join(dir, "fledge.toml"),
      `version = "1"\nstrategy = "oci_rootfs"\n[source]\nimage = "${ref}"\n[filesystem]\nsize_buffer_mb = 16\n`,
    );
    const ours: number[] = [];
    // deno-lint-ignore no-explicit-any
    let summary: any = {};
    const hand: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = join(dir, `round${i}`);
      Deno.mkdirSync(r);
      const o = await timedInNs(reg.ns.name, [
        Deno.execPath(),
        "run",
        "-A",
        MAIN,
        "fledge",
        "build",
        "-q",
        "--json",
        "-c",
        join(dir, "fledge.toml"),
        "-o",
        join(r, "out"),
        "--cache-dir",
        join(r, "cache"),
        "--insecure-registry",
        reg.plain,
      ]);
      ours.push(o.ms);
      summary = JSON.parse(o.stdout);
      const tm = summary.timings_ms as Record<string, number>;
      const t0 = performance.now();
      await timedInNs(reg.ns.name, [
        "skopeo",
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        `docker://${ref}`,
        `oci:${join(r, "layout")}:1`,
      ]);
      await sh("umoci", ["unpack", "--image", `${join(r, "layout")}:1`, join(r, "bundle")]);
      const du = Number((await sh("du", ["-sk", join(r, "bundle", "rootfs")])).split("\t")[0]);
      await sh("mke2fs", [
        "-q",
        "-F",
        "-t",
        "ext4",
        "-d",
        join(r, "bundle", "rootfs"),
        join(r, "hand.img"),
        `${Math.ceil(du * 1.2 / 1024) + 32}M`,
      ]);
      hand.push(performance.now() - t0);
      console.log(
        `round ${i + 1}: fledge ${
          ours[i].toFixed(0)
        } ms (unpack ${tm.unpack_ms}, fs ${tm.fs_ms}, ` +
          `hash ${tm.hash_ms}), by hand ${hand[i].toFixed(0)} ms`,
      );
      Deno.removeSync(r, { recursive: true });
    }
    const s = summary;
    const mo = median(ours), mh = median(hand);
    console.log(
      `image: ${s.image?.digest}, ${s.unpack?.files} files, ${
        (s.unpack?.bytes / 1048576).toFixed(1)
      } MiB unpacked, ${(s.pulled_bytes / 1048576).toFixed(1)} MiB pulled`,
    );
    console.log(`fledge build (pull+unpack+ext4):        median ${mo.toFixed(0)} ms of ${n}`);
    console.log(`skopeo copy + umoci unpack + mke2fs -d: median ${mh.toFixed(0)} ms of ${n}`);
    console.log(`time ratio ${(mo / mh).toFixed(3)} (target <= 1.0)`);
    Object.assign(result, {
      unpacked_bytes: s.unpack?.bytes,
      files: s.unpack?.files,
      pulled_bytes: s.pulled_bytes,
      fledge_ms: Math.round(mo),
      by_hand_ms: Math.round(mh),
      time_ratio: Number((mo / mh).toFixed(3)),
      time_ok: mo / mh <= 1.0,
    });
  } finally {
    await reg.stop();
    Deno.removeSync(dir, { recursive: true });
  }
  if (Deno.env.get("VOLANT_BENCH_NO_BOOT") === "1") {
    console.log("boot to healthy: not measured (VOLANT_BENCH_NO_BOOT=1)");
    result.boot = "skipped by VOLANT_BENCH_NO_BOOT=1";
  } else {
    const b = await bootToHealthy("bench/nginx:1");
    console.log(`volar plugins install --image: ${b.installMs.toFixed(0)} ms`);
    console.log(`vms create -> healthy, nginx answering: ${b.healthyMs.toFixed(0)} ms`);
    result.install_ms = Math.round(b.installMs);
    result.create_to_healthy_ms = Math.round(b.healthyMs);
  }
  console.log("BENCH_JSON " + JSON.stringify(result));
}
