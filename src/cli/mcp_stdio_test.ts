/** The stdio bridge of `volar mcp` when the daemon cannot be reached (a real, absent socket). */
import assert from "node:assert/strict";
import { connectMcp } from "../client/mcp.ts";
import { bridgeStdio } from "./mcp_stdio.ts";

Deno.test("volar mcp: a request the daemon cannot take is answered with a JSON-RPC error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volar-mcp-" });
  const conn = connectMcp({ socket: `${dir}/absent.sock` });
  const lines = [
    '{"jsonrpc":"2.0","id":7,"method":"ping"}',
    "not json",
    '{"jsonrpc":"2.0","method":"notifications/initialized"}',
  ];
  const stdin = new Blob([lines.join("\n") + "\n"]).stream();
  let out = "";
  const logs: string[] = [];
  try {
    await bridgeStdio(
      {
        stdin,
        write: (d) => Promise.resolve(void (out += new TextDecoder().decode(d))),
        log: (l) => logs.push(l),
      },
      conn.transport,
      new AbortController().signal,
    );
  } finally {
    await conn.close();
    await Deno.remove(dir, { recursive: true });
  }
  const answers = out.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(answers.length, 1, out);
  assert.equal(answers[0].id, 7);
  assert.match(answers[0].error.message, /cannot reach volantd \(socket does not exist\)/);
  assert.ok(logs.some((l) => /not JSON-RPC/.test(l)), logs.join("\n"));
});
