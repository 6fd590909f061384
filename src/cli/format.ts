/**
 * Human output: aligned tables, key/value blocks, sizes. JSON output is the
 * API's objects printed as they came (see docs/cli.md).
 *
 * @module
 */

/** A table cell: absent values print as `-`. */
export type Cell = string | number | boolean | null | undefined;

function cell(v: Cell): string {
  if (v === undefined || v === null || v === "") return "-";
  if (typeof v === "boolean") return v ? "yes" : "no";
  return String(v).replace(/[\r\n\t]/g, " ");
}

/** Aligned columns separated by two spaces; the last column is not padded. */
export function table(headers: string[], rows: Cell[][]): string {
  const text = [headers, ...rows.map((r) => r.map(cell))];
  const widths = headers.map((_, i) => Math.max(...text.map((r) => (r[i] ?? "").length)));
  return text
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  "))
    .join("\n");
}

/** `Key:  value` lines with aligned values. */
export function keyValues(pairs: [string, Cell][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length)) + 1;
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width)}  ${cell(v)}`).join("\n");
}

/** 1536 -> "1.5 KiB". */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** Pretty JSON, as `-o json` prints it. */
export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
