/**
 * Plugin registry against a real HTTP server on 127.0.0.1 and real files.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { isVolantError } from "../errors.ts";
import { openStore } from "../store/mod.ts";
import { createServices } from "./mod.ts";

const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

function manifest(over: Record<string, unknown> = {}) {
  return {
    name: "web",
    version: "1.0",
    resources: { cpu_cores: 1, memory_mb: 128 },
    workload: { type: "http", base_url: "http://127.0.0.1:80", entrypoint: ["/bin/httpd"] },
    ...over,
  };
}

interface Fixture {
  dir: string;
  state: string;
  base: string;
  files: Map<string, Uint8Array>;
  hits: string[];
  services: ReturnType<typeof createServices>;
  close(): Promise<void>;
}

async function fixture(): Promise<Fixture> {
  const dir = await Deno.makeTempDir();
  const state = `${dir}/state`;
  const files = new Map<string, Uint8Array>();
  const hits: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    hits.push(path);
    const body = files.get(path);
    return body
      ? new Response(body as Uint8Array<ArrayBuffer>)
      : new Response("missing", { status: 404 });
  });
  const store = openStore({ stateDir: state });
  // The test's artifact server is on loopback: allowed as an operator would (--allow-private-sources).
  const services = createServices({
    store,
    options: { stateDir: state, downloads: { allowPrivateSources: true } },
  });
  return {
    dir,
    state,
    base: `http://127.0.0.1:${server.addr.port}`,
    files,
    hits,
    services,
    async close() {
      await services.close();
      store.close();
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function blobs(state: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(`${state}/artifacts/sha256`)) out.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}

Deno.test("install from an http URL: relative artifacts, content-addressed, events; same version is a no-op", async () => {
  const f = await fixture();
  try {
    const rootfs = new TextEncoder().encode("rootfs bytes ".repeat(1000));
    f.files.set("/p/rootfs.img", rootfs);
    f.files.set(
      "/p/manifest.json",
      new TextEncoder().encode(
        JSON.stringify(
          manifest({ rootfs: { url: "rootfs.img", checksum: `sha256:${sha(rootfs)}` } }),
        ),
      ),
    );
    const r = await f.services.plugins.install({
      url: `${f.base}/p/manifest.json`,
      allow_unverified: false,
    });
    assert.equal(r.outcome, "installed");
    assert.equal(r.plugin.enabled, true);
    assert.equal(r.plugin.allow_unverified, false);
    assert.equal(r.plugin.artifacts.length, 1);
    const a = r.plugin.artifacts[0];
    assert.equal(a.url, `${f.base}/p/rootfs.img`);
    assert.equal(a.sha256, sha(rootfs));
    assert.equal(a.path, `${f.state}/artifacts/sha256/${sha(rootfs)}`);
    assert.deepEqual(await Deno.readFile(a.path), rootfs);
    assert.deepEqual(await blobs(f.state), [sha(rootfs)]);
    const types = f.services.events.list({}).map((e) => e.type);
    assert.ok(types.includes("plugin.download"));
    assert.equal(types.at(-1), "plugin.installed");
    const before = f.hits.length;
    const again = await f.services.plugins.install({
      url: `${f.base}/p/manifest.json`,
      allow_unverified: false,
    });
    assert.equal(again.outcome, "unchanged");
    assert.equal(f.hits.length, before + 2); // the manifest and its .minisig, no artifact download
    assert.deepEqual(f.services.plugins.list().map((p) => p.name), ["web"]);
  } finally {
    await f.close();
  }
});

Deno.test("a bad checksum installs nothing and says expected vs actual", async () => {
  const f = await fixture();
  try {
    const good = new TextEncoder().encode("initramfs");
    const rootfs = new TextEncoder().encode("rootfs");
    f.files.set("/i.cpio.gz", good);
    f.files.set("/r.img", rootfs);
    const wrong = "0".repeat(64);
    await assert.rejects(
      f.services.plugins.install({
        manifest: manifest({
          initramfs: { url: `${f.base}/i.cpio.gz`, checksum: sha(good) },
          rootfs: { url: `${f.base}/r.img`, checksum: wrong },
        }),
        allow_unverified: false,
      }),
      (e) =>
        isVolantError(e, "checksum_mismatch") && e.message.includes(`expected ${wrong}`) &&
        e.message.includes(`got ${sha(rootfs)}`) && e.problems[0].field === "rootfs.checksum",
    );
    assert.deepEqual(f.services.plugins.list(), []);
    assert.deepEqual(await blobs(f.state), [], "no blob and no temp file left behind");
  } finally {
    await f.close();
  }
});

Deno.test("a missing checksum is refused unless allow_unverified, which is recorded", async () => {
  const f = await fixture();
  try {
    f.files.set("/r.img", new TextEncoder().encode("x"));
    const body = { manifest: manifest({ rootfs: { url: `${f.base}/r.img` } }) };
    await assert.rejects(
      f.services.plugins.install({ ...body, allow_unverified: false }),
      (e) => isVolantError(e, "invalid_input") && e.problems[0].field === "rootfs.checksum",
    );
    assert.deepEqual(f.hits, [], "refused before downloading");
    const r = await f.services.plugins.install({ ...body, allow_unverified: true });
    assert.equal(r.plugin.allow_unverified, true);
    assert.equal(r.plugin.artifacts[0].verified, false);
  } finally {
    await f.close();
  }
});

Deno.test("a body manifest may reference only http(s) URLs", async () => {
  const f = await fixture();
  try {
    for (const url of ["rootfs.img", "/etc/passwd", "file:///etc/passwd"]) {
      await assert.rejects(
        f.services.plugins.install({
          manifest: manifest({ rootfs: { url, checksum: "a".repeat(64) } }),
          allow_unverified: false,
        }),
        (e) => isVolantError(e, "forbidden") && e.problems[0].field === "rootfs.url",
        url,
      );
    }
    await assert.rejects(
      f.services.plugins.install({ manifest: { name: "Bad!" }, allow_unverified: false }),
      (e) =>
        isVolantError(e, "invalid_input") && e.problems.some((p) => p.field === "manifest.name"),
    );
    assert.deepEqual(await blobs(f.state), []);
  } finally {
    await f.close();
  }
});

Deno.test("a manifest file may reference local files only inside its own directory", async () => {
  const f = await fixture();
  try {
    const pdir = `${f.dir}/plugin`;
    await Deno.mkdir(`${pdir}/sub`, { recursive: true });
    const data = new TextEncoder().encode("local rootfs");
    await Deno.writeFile(`${pdir}/sub/rootfs.img`, data);
    await Deno.writeTextFile(`${f.dir}/secret`, "outside");
    await Deno.symlink(`${f.dir}/secret`, `${pdir}/escape.img`);
    const write = (url: string) =>
      Deno.writeTextFile(
        `${pdir}/manifest.json`,
        JSON.stringify(manifest({ rootfs: { url, checksum: sha(data) } })),
      );
    for (const url of ["../secret", `${f.dir}/secret`, `file://${f.dir}/secret`, "escape.img"]) {
      await write(url);
      await assert.rejects(
        f.services.plugins.install({ path: `${pdir}/manifest.json`, allow_unverified: false }),
        (e) => isVolantError(e, "forbidden") && e.problems[0].field === "rootfs.url",
        url,
      );
    }
    await write("sub/rootfs.img");
    const r = await f.services.plugins.install({
      url: `file://${pdir}/manifest.json`,
      allow_unverified: false,
    });
    assert.equal(r.plugin.artifacts[0].sha256, sha(data));
    assert.equal(r.plugin.source, `file://${pdir}/manifest.json`);
  } finally {
    await f.close();
  }
});

Deno.test("a new version replaces atomically and drops the old blob; remove refuses while VMs use it", async () => {
  const f = await fixture();
  try {
    const v1 = new TextEncoder().encode("v1");
    const v2 = new TextEncoder().encode("v2");
    f.files.set("/v1", v1);
    f.files.set("/v2", v2);
    await f.services.plugins.install({
      manifest: manifest({ initramfs: { url: `${f.base}/v1`, checksum: sha(v1) } }),
      allow_unverified: false,
    });
    f.services.plugins.setEnabled("web", false);
    const up = await f.services.plugins.install({
      manifest: manifest({ version: "2.0", initramfs: { url: `${f.base}/v2`, checksum: sha(v2) } }),
      allow_unverified: false,
    });
    assert.equal(up.outcome, "updated");
    assert.equal(up.plugin.enabled, false, "an update keeps the enabled flag");
    assert.deepEqual(await blobs(f.state), [sha(v2)]);
    assert.equal(f.services.plugins.setEnabled("web", true).enabled, true);
    const types = f.services.events.list({ filter: { types: ["plugin.*"] } }).map((e) => e.type)
      .filter((t) => t !== "plugin.download");
    assert.deepEqual(types, [
      "plugin.installed",
      "plugin.disabled",
      "plugin.updated",
      "plugin.enabled",
    ]);

    // A VM row pins the artifacts; remove refuses without force and keeps the blob with force.
    const store = openStore({ path: `${f.state}/volant.db` });
    store.vms.insert({
      name: "vm1",
      state: "stopped",
      desired: "stopped",
      plugin: "web",
      runtime: "web",
      ip: "192.168.127.2",
      mac: "02:00:00:00:00:02",
      cpu_cores: 1,
      memory_mb: 128,
      machine: "microvm",
      restart_policy: "never",
      health: "unknown",
      kernel_cmdline: "",
      restarts: 0,
      artifacts: up.plugin.artifacts,
    }, "t");
    store.close();
    await assert.rejects(
      f.services.plugins.remove("web"),
      (e) => isVolantError(e, "conflict") && /used by 1 VM/.test(e.message),
    );
    await f.services.plugins.remove("web", { force: true });
    assert.throws(() => f.services.plugins.get("web"), (e) => isVolantError(e, "not_found"));
    assert.deepEqual(await blobs(f.state), [sha(v2)], "still pinned by vm1");
  } finally {
    await f.close();
  }
});

Deno.test("download errors name the field and the URL", async () => {
  const f = await fixture();
  try {
    await assert.rejects(
      f.services.plugins.install({
        manifest: manifest({ rootfs: { url: `${f.base}/nope`, checksum: "a".repeat(64) } }),
        allow_unverified: false,
      }),
      (e) =>
        isVolantError(e, "upstream") &&
        /rootfs: downloading .*\/nope answered HTTP 404/.test(e.message),
    );
    await assert.rejects(
      f.services.plugins.install({ url: `${f.base}/missing.json`, allow_unverified: false }),
      (e) => isVolantError(e, "upstream") && /HTTP 404/.test(e.message),
    );
  } finally {
    await f.close();
  }
});

Deno.test("start cleans what a crash mid-install left: partial downloads and unreferenced blobs", async () => {
  const f = await fixture();
  try {
    const root = `${f.state}/artifacts/sha256`;
    await Deno.mkdir(root, { recursive: true });
    await Deno.writeTextFile(`${root}/.tmp-1234`, "partial");
    await Deno.writeTextFile(`${root}/${"e".repeat(64)}`, "orphan");
    await f.services.start();
    assert.deepEqual(await blobs(f.state), []);
  } finally {
    await f.close();
  }
});

Deno.test("concurrent installs sharing a blob: a failing one does not remove what the other uses", async () => {
  const f = await fixture();
  try {
    const shared = new TextEncoder().encode("shared initramfs");
    const other = new TextEncoder().encode("other rootfs");
    f.files.set("/shared", shared);
    f.files.set("/other", other);
    const [a, b] = await Promise.allSettled([
      f.services.plugins.install({
        manifest: manifest({
          name: "bad",
          initramfs: { url: `${f.base}/shared`, checksum: sha(shared) },
          rootfs: { url: `${f.base}/other`, checksum: "1".repeat(64) },
        }),
        allow_unverified: false,
      }),
      f.services.plugins.install({
        manifest: manifest({
          name: "good",
          initramfs: { url: `${f.base}/shared`, checksum: sha(shared) },
        }),
        allow_unverified: false,
      }),
    ]);
    assert.equal(a.status, "rejected");
    assert.equal(b.status, "fulfilled");
    const good = f.services.plugins.get("good");
    assert.deepEqual(await Deno.readFile(good.artifacts[0].path), shared);
    assert.deepEqual(await blobs(f.state), [sha(shared)]);
  } finally {
    await f.close();
  }
});
