/**
 * The release end to end: `deno task release` twice (byte-identical), then
 * dist/release served over HTTP on 127.0.0.1 inside a network namespace this
 * test creates, and `curl -fsSL <url>/install.sh | bash -s -- ...` into a
 * scratch prefix and data dir, run from that namespace as a user would:
 * the installed `volar --version` and `volantd --help` answer; a second run
 * changes nothing; a tampered archive and a wrong SHA256SUMS line are refused
 * with nothing installed; --uninstall leaves the scratch root as it was. The
 * fledge GitHub Action's install script installs from the same release.
 *
 * Needs the kernel in the cache (kernel/build.sh; a cache hit) and takes
 * about 90 s here (two release builds, ~45 MB agent image per install).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { archiveName, GUEST_ASSETS } from "../../scripts/release.ts";
import { REPO } from "../../scripts/_repo.ts";
import { createNetns, requireCommands, run } from "../_helpers/netns.ts";
import { startStaticServer } from "../_helpers/static_http.ts";

async function release(out: string): Promise<void> {
  const r = await run([
    Deno.execPath(),
    "run",
    "-A",
    join(REPO, "scripts", "release.ts"),
    "--out",
    out,
  ]);
  if (r.code !== 0) throw new Error(`release failed: ${r.stderr}`);
}

async function listing(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = join(dir, e.name);
      out.push(p);
      if (e.isDirectory) await walk(p);
    }
  };
  await walk(root);
  return out.sort();
}

Deno.test("release: reproducible assets; curl | bash installs, upgrades idempotently, refuses tampering, uninstalls", async () => {
  await requireCommands("ip", "curl", "tar", "sha256sum");
  const tmp = await Deno.makeTempDir({ prefix: "volant-release-" });
  const good = join(tmp, "www", "good");
  await release(good);
  const again = join(tmp, "again");
  await release(again);
  const names = (await listing(good)).map((p) => p.slice(good.length + 1));
  const archive = archiveName();
  assert.deepEqual(names, [...GUEST_ASSETS, "SHA256SUMS", "install.sh", archive].sort());
  for (const n of names) {
    assert.deepEqual(
      await Deno.readFile(join(again, n)),
      await Deno.readFile(join(good, n)),
      `${n} differs between two builds`,
    );
  }
  const tarList = await run(["tar", "-tvzf", join(good, archive)]);
  assert.match(tarList.stdout, /bin\/volar -> volant/);
  assert.match(tarList.stdout, /README/);

  // A tampered archive (one byte appended) and a SHA256SUMS with a wrong line.
  const tampered = join(tmp, "www", "tampered");
  const badsums = join(tmp, "www", "badsums");
  for (const d of [tampered, badsums]) {
    await Deno.mkdir(d);
    for (const n of names) await Deno.copyFile(join(good, n), join(d, n));
  }
  const bytes = await Deno.readFile(join(tampered, archive));
  await Deno.writeFile(join(tampered, archive), new Uint8Array([...bytes, 0]));
  const sums = await Deno.readTextFile(join(badsums, "SHA256SUMS"));
  await Deno.writeTextFile(
    join(badsums, "SHA256SUMS"),
    sums.replace(/^[0-9a-f]{64}( {2}vmlinux)$/m, `${"0".repeat(64)}$1`),
  );

  const ns = await createNetns("ri");
  let server: { port: number; stop(): Promise<void> } | undefined;
  try {
    await ns.check(["ip", "link", "set", "lo", "up"]);
    server = await startStaticServer(join(tmp, "www"), ["ip", "netns", "exec", ns.name]);
    const url = (d: string) => `http://127.0.0.1:${server!.port}/${d}`;
    const root = join(tmp, "root");
    await Deno.mkdir(root);
    const flags = `--prefix ${root}/usr/local/bin --data-dir ${root}/var/lib/volant`;
    const pipe = (d: string, extra = "") =>
      ns.run([
        "bash",
        "-c",
        `set -o pipefail; curl -fsSL ${url("good")}/install.sh | ` +
        `VOLANT_RELEASE_URL=${url(d)} bash -s -- ${flags} ${extra}`,
      ]);

    // Refused: nothing installed, expected vs actual named.
    const t = await pipe("tampered");
    assert.notEqual(t.code, 0);
    assert.match(
      t.stderr,
      new RegExp(
        `checksum mismatch for ${archive.replaceAll(".", "\\.")}: expected sha256:[0-9a-f]{64}, ` +
          "actual sha256:[0-9a-f]{64}; nothing was installed",
      ),
    );
    assert.deepEqual(await listing(root), []);
    const b = await pipe("badsums");
    assert.notEqual(b.code, 0);
    assert.match(b.stderr, /checksum mismatch for vmlinux: expected sha256:0{64}/);
    assert.deepEqual(await listing(root), []);

    // Installed from a pipe, with --version as `bash -s -- --version` passes it.
    const first = await pipe("good", "--version v0.1.0");
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /verified 5 checksums/);
    const bin = `${root}/usr/local/bin`;
    assert.equal(await Deno.readLink(`${bin}/volar`), "volant");
    const v = await run([`${bin}/volar`, "--version"]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^volar 0\.1\.0\n$/);
    const h = await run([`${bin}/volantd`, "--help"]);
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /Usage: volantd/);
    const f = await run([`${bin}/fledge`, "--help"]);
    assert.equal(f.code, 0, f.stderr);
    for (const p of ["kernel/vmlinux", "kernel/bzImage", "agent/agent.img", "agent/boot.cpio.gz"]) {
      assert.ok((await Deno.stat(`${root}/var/lib/volant/${p}`)).size > 0, p);
    }

    // Same release again: an in-place upgrade that changes nothing.
    const second = await pipe("good");
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /already installed .*: nothing changed/);
    assert.doesNotMatch(second.stderr, /installed \//);

    // --uninstall: the scratch root is as it was (empty).
    const un = await ns.run([
      "bash",
      "-c",
      `curl -fsSL ${url("good")}/install.sh | bash -s -- --uninstall ${flags}`,
    ]);
    assert.equal(un.code, 0, un.stderr);
    assert.deepEqual(await listing(root), []);

    // The fledge GitHub Action's installer, against the same release.
    const gh = join(tmp, "gh");
    await Deno.mkdir(gh);
    const action = await ns.run(["bash", join(REPO, "src/builder/action/install_volant.sh")], {
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        VOLANT_VERSION: "v0.1.0",
        VOLANT_RELEASE_BASE_URL: url("good"),
        RUNNER_TEMP: gh,
        GITHUB_PATH: join(gh, "path"),
        GITHUB_ENV: join(gh, "env"),
        GITHUB_OUTPUT: join(gh, "out"),
      },
    });
    assert.equal(action.code, 0, action.stderr);
    const binDir = (await Deno.readTextFile(join(gh, "path"))).trim();
    const fv = await run([join(binDir, "fledge"), "--version"]);
    assert.equal(fv.stdout, "fledge 0.1.0\n", fv.stderr);
    assert.match(await Deno.readTextFile(join(gh, "env")), /^FLEDGE_SHIM=.*share\/volant\/shim$/m);
  } finally {
    await server?.stop();
    await ns.delete();
    await Deno.remove(tmp, { recursive: true });
  }
});
