/**
 * Download progress from `plugin.download` events ({artifact, bytes, total}).
 * On a terminal: a redrawn bar per artifact on stderr. Otherwise (logs, CI):
 * exactly one line per artifact once it is done.
 *
 * @module
 */
import { bytes as fmtBytes } from "./format.ts";
import type { Io } from "./io.ts";

/** One progress update. */
export interface ProgressUpdate {
  artifact: string;
  bytes: number;
  total: number | null;
}

/** Reads a progress update out of an event's data, or null. */
export function progressFromData(data: Record<string, unknown>): ProgressUpdate | null {
  if (typeof data.artifact !== "string" || typeof data.bytes !== "number") return null;
  const total = typeof data.total === "number" ? data.total : null;
  return { artifact: data.artifact, bytes: data.bytes, total };
}

/** The bar line for one update, `width` cells wide. */
export function barLine(u: ProgressUpdate, width = 30): string {
  if (u.total === null || u.total === 0) {
    return `${u.artifact}  ${fmtBytes(u.bytes)}`;
  }
  const frac = Math.min(1, u.bytes / u.total);
  const full = Math.round(frac * width);
  const bar = "#".repeat(full) + "-".repeat(width - full);
  const pct = String(Math.floor(frac * 100)).padStart(3);
  return `${u.artifact}  [${bar}] ${pct}%  ${fmtBytes(u.bytes)} / ${fmtBytes(u.total)}`;
}

/** Renders updates for a sequence of artifacts. */
export class DownloadProgress {
  readonly #io: Io;
  readonly #tty: boolean;
  /** Artifact whose bar is on the current (unterminated) line. */
  #current: string | undefined;
  readonly #last = new Map<string, ProgressUpdate>();
  readonly #done = new Set<string>();

  constructor(io: Io, tty = io.stderrIsTerminal) {
    this.#io = io;
    this.#tty = tty;
  }

  update(u: ProgressUpdate): void {
    if (this.#done.has(u.artifact)) return;
    this.#last.set(u.artifact, u);
    const complete = u.total !== null && u.bytes >= u.total;
    if (this.#tty) {
      if (this.#current !== undefined && this.#current !== u.artifact) this.#io.errRaw("\n");
      this.#current = u.artifact;
      this.#io.errRaw(`\r\x1b[2K${barLine(u)}`);
      if (complete) {
        this.#io.errRaw("\n");
        this.#current = undefined;
      }
    } else if (complete) {
      this.#io.err(`downloaded ${u.artifact} (${fmtBytes(u.bytes)})`);
    }
    if (complete) this.#done.add(u.artifact);
  }

  /** Ends the line on a terminal; elsewhere reports artifacts whose size was unknown. */
  finish(): void {
    if (this.#tty) {
      if (this.#current !== undefined) this.#io.errRaw("\n");
      this.#current = undefined;
      return;
    }
    for (const [name, u] of this.#last) {
      if (!this.#done.has(name)) this.#io.err(`downloaded ${name} (${fmtBytes(u.bytes)})`);
      this.#done.add(name);
    }
  }
}
