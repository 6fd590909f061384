import assert from "node:assert/strict";
import { serveApi, writePlugin } from "../client/testing.ts";
import { VERSION } from "../version.ts";
import { COMMANDS, connectionFrom, run } from "./main.ts";
import { captureIo } from "./testing.ts";

Deno.test("--help on every command and group, --version, bare volar", async () => {
  for (const c of COMMANDS) {
    const cap = captureIo();
    assert.equal(await run([...c.path, "--help"], cap.io), 0, c.path.join(" "));
    assert.ok(cap.stdout().startsWith(`Usage: volar ${c.path.join(" ")}`), cap.stdout());
    assert.ok(cap.stdout().includes(`Example:\n  ${c.example}`));
    assert.equal(cap.stderr(), "");
  }
  for (const group of [["plugins"], ["vms"], ["vms", "config"]]) {
    const cap = captureIo();
    assert.equal(await run([...group, "-h"], cap.io), 0);
    assert.ok(cap.stdout().startsWith(`Usage: volar ${group.join(" ")} <command>`));
  }
  const help = captureIo();
  assert.equal(await run(["help", "vms", "create"], help.io), 0);
  assert.match(help.stdout(), /--no-start/);
  const top = captureIo();
  assert.equal(await run([], top.io), 0);
  assert.match(top.stdout(), /vms console NAME/);
  const v = captureIo();
  assert.equal(await run(["--version"], v.io), 0);
  assert.equal(v.stdout(), `volar ${VERSION}\n`);
});

Deno.test("usage errors: one line on stderr, exit 2", async () => {
  for (
    const [args, msg] of [
      [["frob"], "volar: unknown command 'frob' (see volar --help)"],
      [["vms", "frob"], "volar: unknown command 'volar vms frob' (see volar vms --help)"],
      [["vms", "show"], "volar: volar vms show needs NAME (see volar vms show --help)"],
      [["vms", "show", "a", "b"], "volar: unexpected argument 'b' (see volar vms show --help)"],
      [["vms", "list", "-o", "yaml"], "volar: -o/--output must be table or json, got 'yaml'"],
      [
        ["vms", "list", "--socket", "/a", "--api", "http://x"],
        "volar: give --socket or --api, not both",
      ],
      [
        ["vms", "create", "web", "--plugin", "p", "--memory", "1"],
        "volar: --memory: must be an integer from 64 to 262144, got '1'",
      ],
      [
        ["vms", "create", "web", "--machine", "pc", "--plugin", "p"],
        "volar: --machine: must be one of microvm, q35, got 'pc'",
      ],
      [
        ["vms", "config", "set", "web", "disk=1"],
        "volar: disk: expected KEY=VALUE with KEY one of cpu, memory, kernel_cmdline, runtime, machine, restart_policy (or use --file)",
      ],
    ] as [string[], string][]
  ) {
    const cap = captureIo();
    assert.equal(await run(args, cap.io), 2, args.join(" "));
    assert.equal(cap.stderr(), `${msg}\n`, args.join(" "));
    assert.equal(cap.stdout(), "");
  }
});

Deno.test("connection precedence: flags > VOLANT_API > VOLANT_SOCKET; token from flag or env", () => {
  const env = (e: Record<string, string>) => (n: string) => e[n];
  assert.deepEqual(connectionFrom({}, env({})), { socket: undefined, token: undefined });
  assert.deepEqual(connectionFrom({}, env({ VOLANT_SOCKET: "/s", VOLANT_TOKEN: "t" })), {
    socket: "/s",
    token: "t",
  });
  assert.deepEqual(connectionFrom({}, env({ VOLANT_SOCKET: "/s", VOLANT_API: "http://a" })), {
    api: "http://a",
    token: undefined,
  });
  assert.deepEqual(connectionFrom({ socket: "/f" }, env({ VOLANT_API: "http://a" })), {
    socket: "/f",
    token: undefined,
  });
  assert.deepEqual(connectionFrom({ api: "http://b", token: "x" }, env({ VOLANT_TOKEN: "t" })), {
    api: "http://b",
    token: "x",
  });
});

Deno.test("in-process against the real app: install (progress lines), vms, config, events", async () => {
  const api = await serveApi();
  const env = { VOLANT_SOCKET: api.socket };
  const volar = async (...args: string[]) => {
    const cap = captureIo({ env, cwd: api.fixture.dir });
    const code = await run(args, cap.io);
    return { code, out: cap.stdout(), err: cap.stderr() };
  };
  try {
    const path = await writePlugin(api.fixture.dir, "web");
    const rel = path.slice(api.fixture.dir.length + 1); // relative to cwd: made absolute by volar
    const inst = await volar("plugins", "install", rel);
    assert.equal(inst.code, 0, inst.err);
    assert.equal(inst.out, "plugin web 1.0.0 installed (1 artifact, 4.0 KiB)\n");
    assert.equal(inst.err, "downloaded initramfs (4.0 KiB)\n");
    const again = await volar("plugins", "install", path);
    assert.equal(again.out, "plugin web 1.0.0 is already installed (unchanged)\n");

    const created = await volar(
      "vms",
      "create",
      "a1",
      "--plugin",
      "web",
      "--no-start",
      "--cpu",
      "2",
    );
    assert.equal(created.code, 0, created.err);
    assert.match(created.out, /^vm a1 created \(state created, ip \S+, mac \S+\)\n$/);
    const list = await volar("vms", "list");
    assert.match(list.out.split("\n")[1], /^a1\s+created\s+web\s+\S+\s+\S+\s+2\s+128M\s+unknown$/);
    await volar("vms", "create", "a2", "--plugin", "web", "--no-start");
    const paged = await volar("vms", "list", "--limit", "1", "--sort", "name");
    assert.equal(paged.out.trim().split("\n").length, 2);
    assert.equal(paged.err, "(1-1 of 2; use --offset/--limit)\n");
    const show = await volar("vms", "show", "a1");
    assert.match(show.out, /^Name:\s+a1$/m);
    assert.match(show.out, /^CPU:\s+2$/m);
    const pshow = await volar("plugins", "show", "web");
    assert.match(pshow.out, /^ARTIFACT\s+KIND\s+SIZE/m);
    assert.match(pshow.out, /^Manifest:\n\{/m);
    assert.equal((await volar("vms", "delete", "a2")).out, "vm a2 deleted\n");
    const json = await volar("vms", "list", "-o", "json");
    const fromApi = await (await api.fixture.unix("/api/v1/vms")).json();
    assert.deepEqual(JSON.parse(json.out), fromApi.items); // verbatim

    const set = await volar("vms", "config", "set", "a1", "memory=256", "restart_policy=always");
    assert.equal(set.out, "vm a1 config is now version 2 (applied at next start)\n", set.err);
    const get = JSON.parse((await volar("vms", "config", "get", "a1")).out);
    assert.equal(get.resources.memory_mb, 256);
    assert.equal(get.restart_policy, "always");
    // The output of `config get` is accepted back as a patch (plugin unchanged is dropped).
    const file = `${api.fixture.dir}/cfg.json`;
    await Deno.writeTextFile(file, JSON.stringify({ ...get, kernel_cmdline: "quiet" }));
    const setFile = await volar("vms", "config", "set", "a1", "--file", file);
    assert.equal(setFile.code, 0, setFile.err);
    const hist = await volar("vms", "config", "history", "a1");
    assert.deepEqual(hist.out.trim().split("\n").slice(1).map((l) => l.split(/\s+/)[0]), [
      "3",
      "2",
      "1",
    ]);

    const ev = await volar("events", "--type", "vm.*", "-o", "json");
    const types = ev.out.trim().split("\n").map((l) => JSON.parse(l).type);
    assert.ok(types.includes("vm.created") && types.every((t) => t.startsWith("vm.")), ev.out);

    const missing = await volar("vms", "show", "nope");
    assert.equal(missing.code, 3);
    assert.match(missing.err, /^volar: .*nope.*\n$/);
    const bad = await volar("vms", "create", "Bad_Name", "--plugin", "web");
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^volar: name: /);
  } finally {
    await api.close();
  }
});

Deno.test("install by URL (checksum mismatch exits 6) and by body over --api", async () => {
  const api = await serveApi({ tcp: true });
  const dir = api.fixture.dir;
  const path = await writePlugin(dir, "web");
  const manifest = JSON.parse(await Deno.readTextFile(path));
  const blob = await Deno.readFile(`${dir}/web-1.0.0/boot.cpio.gz`);
  const files: Record<string, () => Response> = {
    "/good/manifest.json": () => Response.json(manifest),
    "/good/boot.cpio.gz": () => new Response(blob),
    "/bad/manifest.json": () => Response.json({ ...manifest, name: "bad" }),
    "/bad/boot.cpio.gz": () => new Response(new Uint8Array(blob.length)),
  };
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const f = files[new URL(req.url).pathname];
    return f ? f() : new Response("no", { status: 404 });
  });
  const base = `http://127.0.0.1:${http.addr.port}`;
  const volar = async (env: Record<string, string>, ...args: string[]) => {
    const cap = captureIo({ env, cwd: dir });
    const code = await run(args, cap.io);
    return { code, out: cap.stdout(), err: cap.stderr() };
  };
  const unix = { VOLANT_SOCKET: api.socket };
  try {
    const bad = await volar(unix, "plugins", "install", `${base}/bad/manifest.json`);
    assert.equal(bad.code, 6, bad.err);
    // The progress line (the bytes did arrive), then the one-line error naming both digests.
    assert.match(
      bad.err,
      /^downloaded initramfs \(4\.0 KiB\)\nvolar: initramfs\.checksum: expected [0-9a-f]{64}, got [0-9a-f]{64}\n$/,
    );
    const good = await volar(
      unix,
      "plugins",
      "install",
      `${base}/good/manifest.json`,
      "-o",
      "json",
    );
    assert.equal(good.code, 0, good.err);
    assert.equal(JSON.parse(good.out).outcome, "installed");

    // Over --api the manifest itself is sent: its relative artifact cannot be resolved there.
    await Deno.writeTextFile(
      `${dir}/remote.json`,
      JSON.stringify({ ...manifest, name: "remote", version: "2.0.0" }),
    );
    const tcp = { VOLANT_API: api.url!, VOLANT_TOKEN: "test-token-0123456789abcdef" };
    const body = await volar(tcp, "plugins", "install", "remote.json");
    // volantd refuses host paths in a body manifest as forbidden (403 -> exit 5).
    assert.equal(body.code, 5, `${body.code} ${body.err}`);
    assert.match(body.err, /^volar: initramfs\.url: .*only http\(s\) URLs\n$/);
    await Deno.writeTextFile(
      `${dir}/remote.json`,
      JSON.stringify({
        ...manifest,
        name: "remote",
        initramfs: { ...manifest.initramfs, url: `${base}/good/boot.cpio.gz` },
      }),
    );
    const ok = await volar(tcp, "plugins", "install", "remote.json");
    assert.equal(ok.code, 0, ok.err);
    assert.equal(ok.out, "plugin remote 1.0.0 installed (1 artifact, 4.0 KiB)\n");
  } finally {
    await http.shutdown();
    await api.close();
  }
});
