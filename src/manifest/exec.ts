/**
 * The exec contract shared by volantd's `POST /api/v1/vms/{vm}/exec`, kestrel's
 * `POST /agent/v1/exec` and volar: one JSON request, answered with an NDJSON
 * stream (`application/x-ndjson`) of output frames and one final exit frame.
 * Output is base64 so any bytes pass; stdout and stderr stay separate.
 * Pure: imports only zod.
 *
 * @module
 */
import { z } from "zod";

import { EXEC_MAX_STDIN_B64 } from "./values.ts";
export { EXEC_MAX_STDIN_B64, NDJSON } from "./values.ts";

export const ExecRequestSchema = z.object({
  argv: z.array(z.string().min(1).max(65536)).min(1).max(4096)
    .describe("Program and arguments; the program is looked up on PATH of `env`"),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).optional()
    .describe("Added to (and overriding) PATH, HOME, USER of the process"),
  cwd: z.string().startsWith("/").max(4096).optional().describe("Default: the user's home"),
  user: z.string().regex(/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$/).max(128).optional()
    .describe("uid[:gid] or names from the guest's /etc/passwd (default root)"),
  stdin: z.string().max(EXEC_MAX_STDIN_B64).regex(/^[A-Za-z0-9+/]*={0,2}$/).optional()
    .describe("Standard input, base64; without it stdin is /dev/null"),
  timeout_ms: z.number().int().min(1).max(86_400_000).optional()
    .describe("Kill the process session after this long (default: only when the session ends)"),
}).strict();
export type ExecRequest = z.infer<typeof ExecRequestSchema>;

/** One output frame: `data` is base64 of the bytes as they came. */
export const ExecOutputFrameSchema = z.object({
  stream: z.enum(["stdout", "stderr"]),
  data: z.string(),
});

/** The last frame: the process's exit, or why it has none. */
export const ExecExitFrameSchema = z.object({
  exit_code: z.number().int().describe("The exit status; 128+N when killed by signal N"),
  signal: z.string().nullable(),
  timed_out: z.boolean(),
  duration_ms: z.number(),
  error: z.string().optional().describe("Set when the session ended without a process exit"),
});

export const ExecFrameSchema = z.union([ExecOutputFrameSchema, ExecExitFrameSchema]);
export type ExecOutputFrame = z.infer<typeof ExecOutputFrameSchema>;
export type ExecExitFrame = z.infer<typeof ExecExitFrameSchema>;
export type ExecFrame = z.infer<typeof ExecFrameSchema>;
