/**
 * The outside probe's attacks on a real volantd (child process, real unix
 * socket, real SQLite), one step per defect it found; each failed before its
 * fix. Takes about 40 s.
 */
import assert from "node:assert/strict";
import { writePlugin } from "../../src/api/testing/fixtures.ts";
import { startDaemonProcess } from "../../src/daemon/testing/harness.ts";
import { requireCommands } from "../_helpers/netns.ts";

const json = (method: string, body: unknown): RequestInit => ({
  method,
  headers: { "content-type": "application/json" },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

function vmRssKb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("the API socket is never connectable by others, even bound under umask 000", async () => {
  await requireCommands("setpriv", "gcc");
  const dir = await Deno.makeTempDir({ prefix: "volantd-umask-" });
  await Deno.chmod(dir, 0o755); // others may reach the socket: only its own mode protects it
  const socket = `${dir}/volantd.sock`;
  const racerBin = `${dir}/racer`;
  const cc = await new Deno.Command("gcc", {
    args: ["-O2", "-o", racerBin, new URL("./testdata/socket_racer.c", import.meta.url).pathname],
  }).output();
  assert.ok(cc.success, new TextDecoder().decode(cc.stderr));
  // As uid 65534, connect in a tight loop and ask for system info on every connection that opens.
  const racer = new Deno.Command("setpriv", {
    args: ["--reuid=65534", "--regid=65534", "--clear-groups", racerBin, socket, "120"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const seen: string[] = [];
  try {
    for (let round = 0; round < 5; round++) {
      const d = await startDaemonProcess({
        dir,
        wrap: ["sh", "-c", 'umask 000; exec "$0" "$@"'],
      });
      try {
        const info = await Deno.lstat(socket);
        assert.equal(info.mode! & 0o777, 0o660, "socket mode");
      } finally {
        assert.equal(await d.stop(), 0);
      }
    }
  } finally {
    racer.kill("SIGKILL");
    const out = new TextDecoder().decode((await racer.output()).stdout);
    seen.push(...out.split("\n").filter((l) => l.startsWith("HTTP/")));
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith("."));
    await Deno.remove(dir, { recursive: true });
    assert.deepEqual(left, [], "no staging directory left behind");
  }
  assert.deepEqual(seen, [], "an unprivileged racer got answers");
});

Deno.test("hostile input against a running daemon: 4xx with the field, never 5xx, nothing leaked", async (t) => {
  const d = await startDaemonProcess({
    // A 10-address pool and no guest kernel: every start is doomed.
    extraArgs: ["--pool-start", "192.168.127.100", "--pool-end", "192.168.127.109"],
  });
  const home = await Deno.makeTempDir({ prefix: "volant-home-" });
  try {
    const path = await writePlugin(d.dir, "web");
    let res = await d.fetch("/api/v1/plugins", json("POST", { path }));
    assert.equal(res.status, 201, await res.text());
    res = await d.fetch("/api/v1/vms", json("POST", { name: "v1", plugin: "web", start: false }));
    assert.equal(res.status, 201, await res.text());

    await t.step("deep metadata is refused and the VM stays editable", async () => {
      const depth = 3000;
      const deep = `{"metadata":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`;
      let r = await d.fetch("/api/v1/vms/v1/config", json("PATCH", deep));
      const body = await r.json();
      assert.equal(r.status, 400);
      assert.equal(body.errors[0].field, "metadata");
      r = await d.fetch("/api/v1/vms/v1/config", json("PATCH", { metadata: { team: "a" } }));
      assert.equal(r.status, 200, await r.text());
      r = await d.fetch("/api/v1/vms/v1/config", json("PATCH", { metadata: null }));
      assert.equal(r.status, 200, await r.text());
    });

    await t.step("long filter lists neither grow the daemon nor break SQLite", async () => {
      // Warm up, then measure: the probe saw 81 -> 630 MB over the same lists.
      for (let n = 1; n <= 50; n++) {
        await (await d.fetch(`/api/v1/vms?state=${Array(n).fill("stopped").join(",")}`)).body
          ?.cancel();
      }
      const before = vmRssKb(d.pid);
      for (let n = 1; n <= 1200; n += 1) {
        const r = await d.fetch(`/api/v1/vms?state=${Array(n).fill("stopped").join(",")}`);
        assert.equal(r.status, 200);
        await r.body?.cancel();
      }
      for (let n = 1; n <= 1200; n += 3) {
        const r = await d.fetch(
          `/api/v1/events?follow=false&type=${Array(n).fill("vm.created").join(",")}`,
        );
        assert.equal(r.status, 200, `type list of ${n}`);
        await r.body?.cancel();
      }
      const grownMb = (vmRssKb(d.pid) - before) / 1024;
      assert.ok(grownMb < 100, `daemon RSS grew ${grownMb.toFixed(0)} MB`);
    });

    await t.step("URLs that pass the pattern but not the parser are 400 naming url", async () => {
      for (const url of ["http://[::1", "http://127.0.0.1:99999/", "http://%zz/", "http://x:-1/"]) {
        const r = await d.fetch("/api/v1/plugins", json("POST", { url }));
        const body = await r.json();
        assert.equal(r.status, 400, url);
        assert.equal(body.errors[0].field, "url", url);
      }
    });

    await t.step("filesystem errors on path are 4xx naming path", async () => {
      await Deno.symlink(`${home}/loop-b`, `${home}/loop-a`);
      await Deno.symlink(`${home}/loop-a`, `${home}/loop-b`);
      for (
        const path of [
          `${home}/loop-a`,
          `/${"a".repeat(5000)}`,
          "/etc/hostname/x",
          "/proc/self/mem",
          `${home}/missing.json`,
        ]
      ) {
        const r = await d.fetch("/api/v1/plugins", json("POST", { path }));
        const body = await r.json();
        assert.ok(r.status >= 400 && r.status < 500, `${path.slice(0, 30)}: ${r.status}`);
        assert.equal(body.errors[0].field, "path");
      }
    });

    await t.step("a private key beside a manifest is not read, hashed or copied", async () => {
      await Deno.mkdir(`${home}/.ssh`, { mode: 0o700 });
      const key = crypto.getRandomValues(new Uint8Array(64));
      await Deno.writeFile(`${home}/.ssh/id_rsa`, key, { mode: 0o600 });
      const manifest = {
        schema_version: "1.0",
        name: "thief",
        version: "1.0.0",
        runtime: "thief",
        initramfs: { url: "boot.cpio.gz" },
        disks: [{ name: "loot", source: ".ssh/id_rsa", checksum: `sha256:${"0".repeat(64)}` }],
        resources: { cpu_cores: 1, memory_mb: 128 },
        workload: { type: "http", entrypoint: ["/x"], base_url: "http://127.0.0.1:80" },
      };
      await Deno.writeFile(`${home}/boot.cpio.gz`, new Uint8Array(16));
      await Deno.writeTextFile(`${home}/manifest.json`, JSON.stringify(manifest));
      await Deno.chmod(`${home}/manifest.json`, 0o644);
      await Deno.chmod(`${home}/boot.cpio.gz`, 0o644);
      const r = await d.fetch(
        "/api/v1/plugins",
        json("POST", { path: `${home}/manifest.json`, allow_unverified: true }),
      );
      const text = await r.text();
      assert.equal(r.status, 403, text);
      assert.match(text, /not world-readable/);
      assert.ok(!text.includes(await sha256Hex(key)), "the key's hash is not revealed");
      const blobs = [...Deno.readDirSync(`${d.stateDir}/artifacts/sha256`)].map((e) => e.name);
      assert.ok(!blobs.includes(await sha256Hex(key)), "the key is not in the store");
    });

    await t.step(
      "a world-readable file with a wrong checksum: mismatch without its hash",
      async () => {
        const data = crypto.getRandomValues(new Uint8Array(32));
        await Deno.writeFile(`${home}/pub.img`, data, { mode: 0o644 });
        const manifest = {
          schema_version: "1.0",
          name: "pub",
          version: "1.0.0",
          runtime: "pub",
          rootfs: { url: "pub.img", checksum: `sha256:${"1".repeat(64)}` },
          resources: { cpu_cores: 1, memory_mb: 128 },
          workload: { type: "http", entrypoint: ["/x"], base_url: "http://127.0.0.1:80" },
        };
        await Deno.writeTextFile(`${home}/pub.json`, JSON.stringify(manifest));
        await Deno.chmod(`${home}/pub.json`, 0o644);
        const r = await d.fetch("/api/v1/plugins", json("POST", { path: `${home}/pub.json` }));
        const text = await r.text();
        assert.equal(r.status, 422, text);
        assert.ok(!text.includes(await sha256Hex(data)));
      },
    );

    await t.step(
      "body manifests cannot reach metadata, loopback, or another plugin's blob",
      async () => {
        const installed = await (await d.fetch("/api/v1/plugins/web")).json();
        const hex = installed.artifacts[0].sha256 as string;
        const body = (url: string, checksum?: string) => ({
          manifest: {
            schema_version: "1.0",
            name: "borrow",
            version: "1.0.0",
            runtime: "borrow",
            initramfs: { url, ...(checksum ? { checksum } : {}) },
            resources: { cpu_cores: 1, memory_mb: 128 },
            workload: { type: "http", entrypoint: ["/x"], base_url: "http://127.0.0.1:80" },
          },
        });
        for (
          const url of [
            "http://169.254.169.254/latest/meta-data/",
            "http://2852039166/x",
            "http://[::ffff:169.254.169.254]/x",
            "http://127.0.0.1:9/x",
          ]
        ) {
          const r = await d.fetch("/api/v1/plugins", json("POST", body(url, `sha256:${hex}`)));
          const text = await r.text();
          assert.equal(r.status, 403, `${url}: ${text}`);
          assert.match(text, /initramfs/);
        }
        const list = await (await d.fetch("/api/v1/plugins")).json();
        assert.deepEqual(list.items.map((p: { name: string }) => p.name), ["web"]);
      },
    );

    await t.step("a JSON document fetched as a manifest is not echoed back", async () => {
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen() {} },
        () => Response.json({ aws_secret_access_key_field: 1, name: 7 }),
      );
      try {
        const r = await d.fetch(
          "/api/v1/plugins",
          json("POST", { url: `http://127.0.0.1:${server.addr.port}/secrets` }),
        );
        const text = await r.text();
        assert.equal(r.status, 400, text);
        assert.match(text, /not a Volant plugin manifest/);
        assert.ok(!text.includes("aws_secret_access_key_field"));
      } finally {
        await server.shutdown();
      }
    });

    await t.step("an oversized body is 413 with code too_large", async () => {
      const r = await d.fetch(
        "/api/v1/plugins",
        json("POST", { manifest: { pad: "x".repeat(2 * 1024 * 1024) } }),
      );
      const body = await r.json();
      assert.equal(r.status, 413);
      assert.equal(body.code, "too_large");
    });

    await t.step(
      "doomed creates hold no lease: 30 at once on a 10-address pool, none 'exhausted'",
      async () => {
        const statuses = await Promise.all(
          Array.from({ length: 30 }, async (_, i) => {
            const r = await d.fetch("/api/v1/vms", json("POST", { name: `d${i}`, plugin: "web" }));
            await r.body?.cancel();
            return r.status;
          }),
        );
        assert.deepEqual([...new Set(statuses)], [503]);
        const vms = await (await d.fetch("/api/v1/vms")).json();
        assert.deepEqual(vms.items.map((v: { name: string }) => v.name), ["v1"]);
      },
    );

    assert.ok(!/unhandled error/.test(d.stderr()), d.stderr());
  } finally {
    await d.stop();
    await d.cleanup();
    await Deno.remove(home, { recursive: true });
  }
});
