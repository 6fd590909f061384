/**
 * GET /ws/v1/vms/{name}/console: a WebSocket bridged to the VM's serial
 * console (a unix socket of the VMM). Same auth as the API (the middleware
 * runs first); a browser Origin must be the daemon's own host, which closes
 * cross-site WebSocket hijacking of what may be a root shell.
 * Serial -> client: binary frames; client -> serial: text or binary, raw.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { VolantError } from "../../errors.ts";
import type { VmServiceApi } from "../../service/contracts.ts";
import { newRouter } from "../router.ts";
import { NameParam, problems } from "../schemas.ts";
import type { LogSink } from "../../log/mod.ts";

/** True when `origin` is absent (non-browser client) or names the same host as `host`. */
export function originAllowed(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true;
  if (host === undefined) return false;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch (error) {
    if (error instanceof TypeError) return false; // "null" and other opaque origins
    throw error;
  }
  return parsed.host.toLowerCase() === host.toLowerCase();
}

const doc = createRoute({
  method: "get",
  path: "/{name}/console",
  tags: ["vms"],
  summary: "WebSocket to the VM's serial console",
  description: "Upgrade to WebSocket. Serial output arrives as binary frames; frames sent are " +
    "written to the serial line. A browser Origin must match the daemon's host.",
  request: { params: NameParam },
  responses: {
    101: { description: "Switching protocols" },
    ...problems(400, 403, 404, 409, 502),
  },
});

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** Pumps bytes both ways until either side ends. */
function bridge(socket: WebSocket, conn: Deno.Conn, name: string, logger: LogSink): void {
  const encoder = new TextEncoder();
  let writes = Promise.resolve();
  let closed = false;
  const closeBoth = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
    if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
      socket.close(code, reason);
    }
  };
  socket.binaryType = "arraybuffer";
  socket.onopen = async () => {
    const buf = new Uint8Array(4096);
    try {
      while (!closed) {
        const n = await conn.read(buf);
        if (n === null) break;
        socket.send(buf.slice(0, n));
      }
      closeBoth(1000, "serial console closed");
    } catch (error) {
      if (!closed) {
        logger.warn("console read failed", { vm: name, error: String(error) });
        closeBoth(1011, "serial console read failed");
      }
    }
  };
  socket.onmessage = (ev: MessageEvent) => {
    const data = typeof ev.data === "string"
      ? encoder.encode(ev.data)
      : new Uint8Array(ev.data as ArrayBuffer);
    writes = writes.then(() => writeAll(conn, data)).catch((error) => {
      if (!closed) {
        logger.warn("console write failed", { vm: name, error: String(error) });
        closeBoth(1011, "serial console write failed");
      }
    });
  };
  socket.onclose = () => closeBoth(1000, "client closed");
  socket.onerror = () => closeBoth(1011, "websocket error");
}

/** The console router, mounted at /ws/v1/vms. */
export function consoleRoutes(vms: VmServiceApi, logger: LogSink) {
  const app = newRouter();
  app.openAPIRegistry.registerPath(doc);
  app.get("/:name/console", async (c) => {
    const name = NameParam.safeParse({ name: c.req.param("name") });
    if (!name.success) {
      throw new VolantError("invalid_input", "invalid path: name is not a DNS label", {
        problems: [{ field: "path.name", message: "must be a DNS label" }],
      });
    }
    if (!originAllowed(c.req.header("origin"), c.req.header("host"))) {
      throw new VolantError("forbidden", "cross-origin console connections are refused", {
        problems: [{ field: "header.origin", message: "must be the daemon's own origin" }],
      });
    }
    if ((c.req.header("upgrade") ?? "").toLowerCase() !== "websocket") {
      throw new VolantError("invalid_input", "expected a WebSocket upgrade", {
        problems: [{ field: "header.upgrade", message: "must be websocket" }],
      });
    }
    const target = vms.console(name.data.name);
    if (target.state !== "running" || target.serialSocket === undefined) {
      throw new VolantError("conflict", `vm ${target.name} is ${target.state}: no serial console`);
    }
    let conn: Deno.Conn;
    try {
      conn = await Deno.connect({ transport: "unix", path: target.serialSocket });
    } catch (error) {
      throw new VolantError("upstream", `cannot reach the serial console of ${target.name}`, {
        cause: error,
      });
    }
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw);
    bridge(socket, conn, target.name, logger);
    return response;
  });
  return app;
}
