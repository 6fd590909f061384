/**
 * The interactive exec contract (a PTY over WebSocket) shared by volantd's
 * `GET /api/v1/vms/{vm}/exec/pty`, kestrel's `GET /agent/v1/exec/pty` and
 * volar. The session is described by the query (`argv` and `env=K=V`
 * repeated, `cwd`, `user`, `rows`, `cols`, `term`). On the socket, binary
 * messages are terminal bytes both ways; text messages are JSON controls:
 * the client sends `{"type":"resize","rows","cols"}` and
 * `{"type":"signal","signal":"SIGINT"}`, the server ends with
 * `{"type":"exit","exit_code","signal"}` and closes (1000).
 * Pure: imports only zod.
 *
 * @module
 */
import { z } from "zod";
import { ExecRequestSchema } from "./exec.ts";
import { PTY_SIGNALS } from "./pty_query.ts";
export * from "./pty_query.ts";

const Size = z.coerce.number().int().min(1).max(65535);

export const PtyRequestSchema = ExecRequestSchema.pick({
  argv: true,
  env: true,
  cwd: true,
  user: true,
})
  .extend({
    rows: Size.default(24).describe("Terminal rows"),
    cols: Size.default(80).describe("Terminal columns"),
    term: z.string().regex(/^[A-Za-z0-9._+-]{1,64}$/).default("xterm")
      .describe("TERM of the process"),
  }).strict();
export type PtyRequest = z.infer<typeof PtyRequestSchema>;

export const PtyClientMessageSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("resize"), rows: Size, cols: Size }),
  z.object({
    type: z.literal("signal"),
    signal: z.enum(Object.keys(PTY_SIGNALS) as [keyof typeof PTY_SIGNALS]),
  }),
]);
export type PtyClientMessage = z.infer<typeof PtyClientMessageSchema>;

/** A problem with one field of the query. */
export interface PtyQueryProblem {
  field: string;
  message: string;
}

/** Parses and validates the query; the first bad field otherwise. */
export function parsePtyQuery(q: URLSearchParams): PtyRequest | PtyQueryProblem {
  const env: Record<string, string> = {};
  for (const pair of q.getAll("env")) {
    const i = pair.indexOf("=");
    if (i < 1) return { field: "env", message: `must be NAME=VALUE, got '${pair}'` };
    env[pair.slice(0, i)] = pair.slice(i + 1);
  }
  const raw: Record<string, unknown> = { argv: q.getAll("argv") };
  if (Object.keys(env).length > 0) raw.env = env;
  for (const k of ["cwd", "user", "rows", "cols", "term"]) {
    const v = q.get(k);
    if (v !== null) raw[k] = v;
  }
  for (const k of q.keys()) {
    if (!["argv", "env", "cwd", "user", "rows", "cols", "term"].includes(k)) {
      return { field: k, message: "is not a query parameter of exec/pty" };
    }
  }
  const parsed = PtyRequestSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue.path.length > 0 ? issue.path.join(".") : "query";
  return { field, message: issue.message };
}
