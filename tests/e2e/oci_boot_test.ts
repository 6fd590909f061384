/**
 * An OCI image becomes a running microVM, straight from the daemon: an image
 * holding Debian's nginx with its shared libraries (built by umoci from the
 * Debian packages) is pushed to Debian's docker-registry inside the
 * namespace of a real volantd; `volar plugins install --image` pulls and
 * converts it (progress on stderr), `volar vms create` boots it under QEMU
 * (kernel + kestrel switching root into a per-VM copy-on-write overlay of the
 * shared rootfs), and nginx answers at the VM's IP. A second plugin of the
 * same image shares the rootfs blob; an unknown image installs nothing.
 *
 * Needs root, the guest kernel and agent image (prepareHost builds or finds
 * them) and `apt-get install -y docker-registry skopeo umoci socat curl`.
 * About 2-4 min under TCG on a loaded host.
 */
import assert from "node:assert/strict";
import { makeNginxImage, NGINX_MARKER } from "../../src/builder/oci/_testing.ts";
import { prepareHost } from "../../scripts/journey/prepare.ts";
import { Sandbox } from "../../scripts/journey/sandbox.ts";
import { REPO } from "../../scripts/_repo.ts";
import { startRegistries } from "../_helpers/oci_registry.ts";

interface Vm {
  name: string;
  state: string;
  health: string;
  ip: string;
}

interface Plugin {
  name: string;
  source: string;
  manifest: { rootfs?: { checksum?: string }; image_digest?: string; workload: unknown };
  artifacts: { kind: string; sha256: string; path: string }[];
}

function listDir(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

Deno.test({
  name: "oci e2e: volar plugins install --image -> QEMU microVM -> nginx answers at the VM's IP",
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  if (Deno.uid() !== 0) throw new Error("e2e tests need root (netns, TAP): run as root");
  const artifacts = await prepareHost();
  const sb = await Sandbox.create({ artifacts, prefix: "volant-oci" });
  let reg: Awaited<ReturnType<typeof startRegistries>> | undefined;
  let ok = false;
  try {
    reg = await startRegistries({ netns: sb.netns });
    const work = Deno.makeTempDirSync({ prefix: "oci-e2e-img-" });
    try {
      await reg.push(await makeNginxImage(work), "web/nginx:1");
    } finally {
      Deno.removeSync(work, { recursive: true });
    }
    await sb.startDaemon();
    const ref = `${reg.plain}/web/nginx:1`;

    let first: Plugin;
    await t.step("plugins install --image: pulls with progress, converts, installs", async () => {
      const r = await sb.volar(["plugins", "install", "--image", ref, "--insecure-registry"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^plugin nginx 1 installed \(1 artifact, /);
      assert.match(r.stderr, /layer [0-9a-f]{12}/, `no progress lines: ${r.stderr}`);
      first = await sb.volarJson<Plugin>(["plugins", "show", "nginx"]);
      assert.equal(first.artifacts.length, 1);
      assert.equal(first.artifacts[0].kind, "rootfs");
      assert.match(first.source, /^image:127\.0\.0\.1:5000\/web\/nginx:1@sha256:[0-9a-f]{64}$/);
      assert.deepEqual(first.manifest.workload, {
        type: "http",
        entrypoint: ["/usr/sbin/nginx", "-g", "daemon off;"],
        base_url: "http://127.0.0.1:80",
        env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
      });
      assert.deepEqual(listDir(`${sb.stateDir}/oci/out`), []);
    });

    await t.step("a second plugin of the same image shares the rootfs blob", async () => {
      const r = await sb.volar([
        "plugins",
        "install",
        "--image",
        ref,
        "--insecure-registry",
        "--name",
        "nginx2",
        "--port",
        "80",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const second = await sb.volarJson<Plugin>(["plugins", "show", "nginx2"]);
      assert.equal(second.artifacts[0].sha256, first.artifacts[0].sha256);
      assert.equal(second.artifacts[0].path, first.artifacts[0].path);
      assert.equal(second.manifest.image_digest, first.manifest.image_digest);
      assert.equal(listDir(`${sb.stateDir}/oci/rootfs`).length, 1);
    });

    await t.step("an unknown image: one line, nothing installed, nothing left", async () => {
      const blobs = listDir(`${sb.stateDir}/artifacts/sha256`);
      const r = await sb.volar([
        "plugins",
        "install",
        "--image",
        `${reg!.plain}/web/nope:1`,
        "--insecure-registry",
      ]);
      assert.equal(r.code, 3, r.stderr);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /image 127\.0\.0\.1:5000\/web\/nope:1 not found in 127\.0\.0\.1:5000/);
      const names = (await sb.volarJson<Plugin[]>(["plugins", "list"])).map((p) => p.name).sort();
      assert.deepEqual(names, ["nginx", "nginx2"]);
      assert.deepEqual(listDir(`${sb.stateDir}/artifacts/sha256`), blobs);
      assert.deepEqual(listDir(`${sb.stateDir}/oci/out`), []);
    });

    await t.step("vms create boots the image's rootfs; nginx answers at the VM's IP", async () => {
      const c = await sb.volar(["vms", "create", "web", "--plugin", "nginx"]);
      assert.equal(c.code, 0, c.stderr);
      const deadline = Date.now() + 300_000;
      let vm: Vm | null = null;
      while (Date.now() < deadline) {
        vm = await sb.volarJson<Vm>(["vms", "show", "web"]);
        if (vm.health === "healthy" || vm.state === "crashed") break;
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.equal(vm?.health, "healthy", JSON.stringify(vm));
      const page = await sb.fetchInNetns(`http://${vm!.ip}/`);
      assert.match(page, new RegExp(NGINX_MARKER));
      const serial = Deno.readTextFileSync(`${sb.runtimeDir}/web/serial.log`);
      // Workload first (docs/kestrel.md): the shim switched root to the image's rootfs and
      // started nginx; kestrel adopted it.
      assert.doesNotMatch(serial, /kestrel: switched root/);
      assert.match(
        serial,
        /kestrel: workload adopted: pid \d+ \(\/usr\/sbin\/nginx, started by the shim\)/,
      );
    });
    ok = true;
  } finally {
    if (!ok) await sb.keepSerialLogs(`${REPO}/test-artifacts/e2e/oci`);
    await reg?.stop();
    await sb.close();
  }
});
