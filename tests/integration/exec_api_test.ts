/**
 * Exec end to end without a VM: a real kestrel API handler (agent/api.ts with
 * its key gate and exec) on 127.0.0.1 stands where the guest would be; the
 * daemon's real API, GuestService and GuestClient (the GuestAgent adapter)
 * serve a unix socket; `volar vms exec` runs as a real subprocess against it.
 * The only stand-in is the VM record (a running VM needs QEMU: the e2e test
 * tests/e2e/exec_test.ts boots one). About 15 s.
 */
import assert from "node:assert/strict";
import { createApiHandler } from "../../agent/api.ts";
import { agentGate } from "../../agent/auth.ts";
import { ChildTracker } from "../../agent/child_tracker.ts";
import { newState } from "../../agent/state.ts";
import { createApp } from "../../src/api/app.ts";
import type { ApiDeps } from "../../src/api/deps.ts";
import { testGuestService } from "../../src/api/testing/guest_service.ts";
import { stubVms, vmRecord } from "../../src/api/testing/stub_vms.ts";
import { runVolar } from "../../src/cli/testing.ts";
import { writeAgentKey } from "../../src/service/agent_key.ts";
import { apiFixture } from "../../src/api/testing/fixtures.ts";
import { connectMcp } from "../../src/client/mcp.ts";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";

Deno.test({
  name: "exec: volar -> volantd API -> GuestAgent (with the VM's key) -> kestrel",
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "volant-exec-" });
  const key = "agent-key-for-web-0123456789abcdef";
  const refused: string[] = [];
  const agent = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    createApiHandler(newState("t", "host"), {
      gate: agentGate(key, (l) => refused.push(l)),
      exec: { tracker: new ChildTracker() },
    }),
  );
  await writeAgentKey(`${dir}/run/web`, key);
  const vms = stubVms([vmRecord({ name: "web" }), vmRecord({ name: "off", state: "stopped" })]);
  const guest = testGuestService(vms, { agentPort: agent.addr.port, runtimeDir: `${dir}/run` });
  const shutdown = new AbortController(); // ends the MCP session streams at the end
  const fixture = await apiFixture(); // real services for the rest (MCP lists plugins)
  const app = createApp({
    services: { ...fixture.services, vms, guest } as unknown as ApiDeps["services"],
    auth: {},
    shutdown: shutdown.signal,
  });
  const socket = `${dir}/volantd.sock`;
  const api = Deno.serve(
    { transport: "unix", path: socket, onListen() {} },
    (req) => app.fetch(req, { transport: "unix" }),
  );
  const volar = (args: string[], stdin?: string) =>
    runVolar(["--socket", socket, ...args], { stdin });
  try {
    await t.step("exit code, stdout and stderr apart", async () => {
      const r = await volar([
        "vms",
        "exec",
        "web",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
      ]);
      assert.equal(r.code, 3, r.stderr);
      assert.equal(r.stdout, "out\n");
      assert.equal(r.stderr, "err\n");
    });
    await t.step("-i sends stdin; -e, -w", async () => {
      const r = await volar(
        [
          "vms",
          "exec",
          "-i",
          "-e",
          "A=1",
          "-w",
          "/tmp",
          "web",
          "--",
          "sh",
          "-c",
          'cat; echo "$A"; pwd',
        ],
        "from stdin\n",
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "from stdin\n1\n/tmp\n");
    });
    await t.step("--timeout: exit 124 and a line saying why", async () => {
      const r = await volar(["vms", "exec", "--timeout", "1", "web", "--", "sleep", "20"]);
      assert.equal(r.code, 124);
      assert.match(r.stderr, /killed after --timeout 1 s/);
    });
    await t.step("bad input: one line, non-zero", async () => {
      const missing = await volar(["vms", "exec", "web", "--", "no-such-cmd-xyz"]);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /argv\.0/);
      const stopped = await volar(["vms", "exec", "off", "--", "true"]);
      assert.notEqual(stopped.code, 0);
      assert.match(stopped.stderr, /vm: is stopped, not running/);
      const env = await volar(["vms", "exec", "-e", "1X=2", "web", "--", "true"]);
      assert.equal(env.code, 2, env.stderr);
      assert.equal(env.stderr.trim().split("\n").length, 1);
    });
    await t.step("volar vms cp: a tree in and out, checksums and modes equal", async () => {
      const sh = async (script: string) => {
        const out = await new Deno.Command("sh", {
          args: ["-c", script],
          cwd: dir,
          stdout: "piped",
        })
          .output();
        assert.ok(out.success, script);
        return new TextDecoder().decode(out.stdout);
      };
      await sh(
        "mkdir -p tree/sub && head -c 3000000 /dev/urandom > tree/sub/blob && chmod 751 tree/sub/blob" +
          " && echo hi > tree/a && chmod 600 tree/a && ln -s a tree/link",
      );
      const listing = (d: string) =>
        sh(
          `cd ${d} && find . -printf '%p %y %m %l\n' | sort && find . -type f -exec sha256sum {} + | sort -k2`,
        );
      const up = await volar(["vms", "cp", "--progress", `${dir}/tree`, `web:${dir}/guest`]);
      assert.equal(up.code, 0, up.stderr);
      assert.match(up.stderr, /MiB/); // the progress line
      assert.equal(await listing(`${dir}/guest/tree`), await listing(`${dir}/tree`));
      const down = await volar(["vms", "cp", `web:${dir}/guest/tree`, `${dir}/back`]);
      assert.equal(down.code, 0, down.stderr);
      assert.equal(await listing(`${dir}/back/tree`), await listing(`${dir}/tree`));
      const both = await volar(["vms", "cp", "web:/a", "web:/b"]);
      assert.equal(both.code, 2);
      const missing = await volar(["vms", "cp", `web:${dir}/nope`, `${dir}/x`]);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /does not exist/);
    });
    await t.step("MCP: exec, write_file, read_file", async () => {
      const conn = connectMcp({ socket });
      const client = new Client({ name: "volant-exec-test", version: "1.0.0" });
      type R = { content: { text: string }[]; isError?: boolean };
      try {
        await client.connect(conn.transport);
        const { tools } = await client.listTools() as { tools: { name: string }[] };
        for (const n of ["exec", "read_file", "write_file"]) {
          assert.ok(tools.some((x) => x.name === n), n);
        }
        const ex = await client.callTool({
          name: "exec",
          arguments: { name: "web", argv: ["sh", "-c", "echo hi; echo oops >&2; exit 4"] },
        }) as R;
        assert.equal(
          ex.content[0].text,
          "exit_code: 4\n--- stdout ---\nhi\n\n--- stderr ---\noops\n",
        );
        const file = `${dir}/mcp/sub/note.txt`;
        const w = await client.callTool({
          name: "write_file",
          arguments: { vm: "web", path: file, content: "héllo\n", mode: "0640" },
        }) as R;
        assert.ok(!w.isError, w.content[0].text);
        assert.equal(await Deno.readTextFile(file), "héllo\n");
        assert.equal((await Deno.stat(file)).mode! & 0o777, 0o640);
        const r = await client.callTool({
          name: "read_file",
          arguments: { vm: "web", path: file },
        }) as R;
        assert.equal(r.content[0].text, "héllo\n");
        const missing = await client.callTool({
          name: "read_file",
          arguments: { vm: "web", path: `${dir}/nope` },
        }) as R;
        assert.equal(missing.isError, true);
        const bad = await client.callTool({
          name: "read_file",
          arguments: { vm: "web", path: "rel" },
        }) as R;
        assert.equal(bad.isError, true);
        assert.match(bad.content[0].text, /path/);
      } finally {
        await client.close();
        await conn.close();
      }
    });
    await t.step("the agent saw only keyed requests", () => {
      assert.deepEqual(refused, []);
    });
    await t.step("without the key the agent answers 401", async () => {
      const res = await fetch(`http://127.0.0.1:${agent.addr.port}/agent/v1/exec`, {
        method: "POST",
        body: JSON.stringify({ argv: ["true"] }),
      });
      assert.equal(res.status, 401);
      await res.body?.cancel();
      assert.equal(refused.length, 1);
    });
  } finally {
    shutdown.abort();
    await api.shutdown();
    await agent.shutdown();
    await fixture.close();
    await Deno.remove(dir, { recursive: true });
  }
});
