/**
 * Reads an uploaded tar stream with the shared push parser
 * (`src/shared/tar_reader.ts`) and hands each member to async callbacks. The
 * next chunk of input is read only once the callbacks have handled the
 * current one, so a slow disk slows the upload instead of filling memory.
 * An archive must end with its end marker: a cut-off upload is an error.
 *
 * @module
 */
import { type TarHeader, TarReader } from "../src/shared/tar_reader.ts";

export type { TarHeader };

/** Where one member's data goes. */
export interface MemberWriter {
  write(chunk: Uint8Array): Promise<void>;
  end(): Promise<void>;
}

type ParseEvent = { header: TarHeader } | { chunk: Uint8Array } | { end: true };

/**
 * Calls `onEntry` for every member (its writer, or null to skip the data);
 * returns the number of members.
 */
export async function untarStream(
  body: ReadableStream<Uint8Array>,
  onEntry: (h: TarHeader) => Promise<MemberWriter | null>,
): Promise<number> {
  // The parser is synchronous: it records what it saw in one chunk, and that
  // is replayed through the async callbacks before the next chunk is read.
  const events: ParseEvent[] = [];
  const parser = new TarReader((header) => {
    events.push({ header });
    return { write: (chunk) => events.push({ chunk }), end: () => events.push({ end: true }) };
  });
  let count = 0;
  let writer: MemberWriter | null = null;
  for await (const chunk of body) {
    parser.push(chunk);
    for (const e of events.splice(0)) {
      if ("header" in e) {
        count++;
        writer = await onEntry(e.header);
      } else if ("chunk" in e) await writer?.write(e.chunk);
      else {
        await writer?.end();
        writer = null;
      }
    }
    if (parser.done) break;
  }
  if (!parser.done) throw new Error("tar: archive truncated (no end-of-archive marker)");
  return count;
}
