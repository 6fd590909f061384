/**
 * The client side of `GET/PUT /api/v1/vms/{vm}/files`: tar streams both ways.
 *
 * @module
 */
import { checkResponse } from "./check.ts";
import type { Transport } from "./transport.ts";

/** Where in the guest: `path` absolute, inside `root` when given. */
export interface GuestPath {
  path: string;
  root?: string;
}

function filesPath(name: string): string {
  return `/api/v1/vms/${encodeURIComponent(name)}/files`;
}

/** `where` in VM `name` as a tar stream (its base name at the top). */
export async function readVmFiles(
  transport: Transport,
  name: string,
  where: GuestPath,
  signal?: AbortSignal,
): Promise<ReadableStream<Uint8Array>> {
  const res = await transport.request({
    path: filesPath(name),
    query: { path: where.path, root: where.root },
    headers: { accept: "application/x-tar" },
    signal,
    timeoutMs: 0,
  });
  return res.body ?? new Blob([]).stream();
}

/** Extracts the tar stream `tar` into directory `where.path` of VM `name`. */
export async function writeVmFiles(
  transport: Transport,
  name: string,
  where: GuestPath,
  tar: ReadableStream<Uint8Array<ArrayBuffer>>,
  signal?: AbortSignal,
): Promise<{ entries: number; bytes: number }> {
  const res = await transport.request({
    method: "PUT",
    path: filesPath(name),
    query: { path: where.path, root: where.root },
    rawBody: tar,
    headers: { "content-type": "application/x-tar" },
    signal,
    timeoutMs: 0,
  });
  return checkResponse("FilesWritten", await res.json(), "files result");
}
