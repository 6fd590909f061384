/**
 * The fake guest's agent on vsock port 1024 (AGENT_VSOCK_PORT), for the CH
 * contract fake: what kestrel does there (agent/channel.ts `startVsockChannel`),
 * reduced to what a host-side test can observe. Each host connection is one
 * mux session (src/shared/mux.ts): the host's hello is answered with the same
 * nonce and its key becomes the key the API checks; each stream is relayed to
 * a small HTTP API on 127.0.0.1 that answers `/healthz` (and every path) 200
 * only with that key in the agent-key header, 401 otherwise, as kestrel's gate.
 * The first hello prints `fake-agent: hello on vsock port 1024 (key: yes|no)`
 * on the guest's serial console.
 *
 * @module
 */
import { AGENT_KEY_HEADER, AGENT_VSOCK_PORT } from "../../manifest/cmdline.ts";
import { MuxSession } from "../../shared/mux.ts";
import type { FakeGuestService } from "./fake_hybrid_vsock.ts";

export const FAKE_AGENT_HELLO_LINE = `fake-agent: hello on vsock port ${AGENT_VSOCK_PORT}`;

/** The agent service; `print` writes a line to the fake guest's serial console. */
export function fakeAgentService(print: (line: string) => void): FakeGuestService {
  let key: string | null = null;
  let said = false;
  let server: Deno.HttpServer<Deno.NetAddr> | null = null;
  const api = () =>
    server ??= Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      if (key === null || req.headers.get(AGENT_KEY_HEADER) !== key) {
        return Response.json({ status: 401, title: "unauthorized" }, { status: 401 });
      }
      return Response.json({ status: "ok" });
    });
  return async (conn) => {
    const writer = conn.writable.getWriter();
    let nonce: string | null = null;
    const session: MuxSession = new MuxSession({
      role: "guest",
      write: (b) => writer.write(b),
      onOpen: (s) =>
        void (async () => {
          const http = await Deno.connect({ hostname: "127.0.0.1", port: api().addr.port });
          await Promise.allSettled([
            s.readable.pipeTo(http.writable, { preventClose: true }).then(() => http.closeWrite()),
            http.readable.pipeTo(s.writable),
          ]);
        })(),
      onHello: (h) => {
        if (h.key) key = h.key;
        if (!said) print(`${FAKE_AGENT_HELLO_LINE} (key: ${h.key ? "yes" : "no"})`);
        said = true;
        void session.hello({ nonce: h.nonce });
        const fresh = h.nonce !== nonce; // a repeated hello must not reset the streams
        nonce = h.nonce;
        return fresh;
      },
    });
    try {
      for await (const c of conn.readable) session.feed(c);
    } catch (_closed) {
      // The host closed the connection: the session ends.
    } finally {
      session.close();
    }
  };
}
