/**
 * The MCP `exec` tool's result: the exec route's NDJSON frames turned into
 * one transcript a model can read (exit code first, then stdout, then stderr;
 * output bytes decoded as UTF-8).
 *
 * @module
 */

/** Frames (one JSON per line) -> `exit_code: N` + the two streams. */
export function execTranscript(ndjson: string): string {
  const out: Uint8Array[] = [];
  const err: Uint8Array[] = [];
  let exit = "exit_code: unknown (the session ended without an exit)";
  for (const line of ndjson.split("\n")) {
    if (line.trim() === "") continue;
    const f = JSON.parse(line) as Record<string, unknown>;
    if (typeof f.stream === "string" && typeof f.data === "string") {
      (f.stream === "stdout" ? out : err).push(Uint8Array.fromBase64(f.data));
    } else if (typeof f.exit_code === "number") {
      exit = `exit_code: ${f.exit_code}` + (f.signal ? ` (signal ${f.signal})` : "") +
        (f.timed_out ? " (killed at timeout_ms)" : "");
    }
  }
  const text = (parts: Uint8Array[]) => {
    const d = new TextDecoder();
    return parts.map((p) => d.decode(p, { stream: true })).join("") + d.decode();
  };
  return `${exit}\n--- stdout ---\n${text(out)}\n--- stderr ---\n${text(err)}`;
}
