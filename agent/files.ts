/**
 * `GET /agent/v1/files?path=P[&root=R]`: P (a file or a directory tree) as a
 * tar stream whose single top entry is P's base name. `PUT` with a tar body
 * extracts it into the directory P (created when missing). Modes are kept;
 * symlinks are archived and extracted as symlinks, never followed. With a
 * root R, P is resolved inside R and a symlink anywhere on the way is refused,
 * so nothing outside R is read or written; an archive member is never written
 * through a symlink (also one made by an earlier member) nor outside P.
 *
 * @module
 */
import { problem } from "./problem.ts";
import { encodeHeader, padded, TAR_END } from "../src/shared/tar_writer.ts";
import { type MemberWriter, type TarHeader, untarStream } from "./tar.ts";

/** An expected refusal: becomes a problem response naming `field`. */
class FileProblem extends Error {
  constructor(readonly status: number, message: string, readonly field: string) {
    super(message);
  }
}

function lstatOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** `/`-separated parts of a relative path; `..` is refused. */
function parts(rel: string, field: string): string[] {
  const out = rel.split("/").filter((p) => p !== "" && p !== ".");
  if (out.includes("..")) throw new FileProblem(400, `${field}: ".." is not allowed`, field);
  return out;
}

/** Walks `base` + `segs`, refusing a symlink at any step (the last one too when `last`). */
function checkNoSymlinks(base: string, segs: string[], last: boolean, field: string): string {
  let at = base;
  for (let i = 0; i < segs.length; i++) {
    at = at === "/" ? `/${segs[i]}` : `${at}/${segs[i]}`;
    if (i === segs.length - 1 && !last) break;
    const st = lstatOrNull(at);
    if (st?.isSymlink) {
      throw new FileProblem(400, `${field}: ${at} is a symlink (not followed here)`, field);
    }
    if (st === null) break; // the rest does not exist yet
  }
  return at;
}

/** The host path of `path` (absolute), inside `root` when one is given. */
export function resolvePath(path: string | null, root: string | null): string {
  if (!path || !path.startsWith("/")) {
    throw new FileProblem(400, "path: must be an absolute path", "path");
  }
  const segs = parts(path, "path");
  if (root === null) return segs.length === 0 ? "/" : `/${segs.join("/")}`;
  if (!root.startsWith("/")) throw new FileProblem(400, "root: must be an absolute path", "root");
  const r = `/${parts(root, "root").join("/")}`;
  return checkNoSymlinks(r, segs, true, "path");
}

/** The tar stream of `path` (its base name at the top). */
function tarStream(path: string): ReadableStream<Uint8Array> {
  const top = path === "/" ? "root" : path.slice(path.lastIndexOf("/") + 1);
  async function* entries(): AsyncGenerator<Uint8Array> {
    const stack: [string, string][] = [[path, top]];
    while (stack.length > 0) {
      const [abs, rel] = stack.pop()!;
      const st = Deno.lstatSync(abs);
      const base = { path: rel, mode: st.mode ?? 0o644, mtime: (st.mtime?.getTime() ?? 0) / 1000 };
      if (st.isSymlink) {
        yield encodeHeader({ ...base, type: "symlink", size: 0, linkname: Deno.readLinkSync(abs) });
      } else if (st.isDirectory) {
        yield encodeHeader({ ...base, type: "dir", size: 0, linkname: "" });
        const names = [...Deno.readDirSync(abs)].map((e) => e.name).sort().reverse();
        for (const n of names) stack.push([`${abs}/${n}`, `${rel}/${n}`]);
      } else if (st.isFile) {
        const file = await Deno.open(abs, { read: true });
        const size = st.size;
        yield encodeHeader({ ...base, type: "file", size, linkname: "" });
        let sent = 0;
        for await (const chunk of file.readable) {
          const take = chunk.subarray(0, Math.max(0, size - sent)); // a file that grew meanwhile
          sent += take.length;
          if (take.length > 0) yield take;
        }
        if (sent < size) yield new Uint8Array(size - sent); // a file that shrank: zero-filled
        yield new Uint8Array(padded(size) - size);
      } // sockets, devices, fifos: not copied
    }
    yield TAR_END;
  }
  const it = entries();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await it.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel() {
      await it.return(undefined);
    },
  });
}

/** Extracts the tar `body` into directory `dest`; returns members and data bytes written. */
async function extract(
  body: ReadableStream<Uint8Array>,
  dest: string,
): Promise<{ entries: number; bytes: number }> {
  await Deno.mkdir(dest, { recursive: true });
  if (!Deno.statSync(dest).isDirectory) {
    throw new FileProblem(409, `path: ${dest} is not a directory`, "path");
  }
  let bytes = 0;
  const dirModes: [string, number][] = [];
  let open: Deno.FsFile | null = null;
  try {
    const entries = await untarStream(body, async (h: TarHeader): Promise<MemberWriter | null> => {
      const segs = parts(h.path, "archive");
      if (segs.length === 0) return null;
      const target = checkNoSymlinks(dest, segs, false, "archive");
      for (let i = 1; i < segs.length; i++) {
        const dir = `${dest}/${segs.slice(0, i).join("/")}`;
        if (lstatOrNull(dir) === null) Deno.mkdirSync(dir);
      }
      const existing = lstatOrNull(target);
      if (h.type === "dir") {
        if (existing && !existing.isDirectory) Deno.removeSync(target);
        if (!existing?.isDirectory) Deno.mkdirSync(target);
        dirModes.push([target, h.mode & 0o7777]);
        return null;
      }
      if (existing?.isDirectory) {
        throw new FileProblem(409, `archive: ${h.path} would replace a directory`, "archive");
      }
      if (existing) Deno.removeSync(target); // a symlink is replaced, never written through
      if (h.type === "symlink") Deno.symlinkSync(h.linkname, target);
      if (h.type !== "file") return null; // devices, fifos and hard links are not copied
      const file = open = await Deno.open(target, { write: true, createNew: true, mode: 0o600 });
      return {
        async write(chunk) {
          let off = 0;
          while (off < chunk.length) off += await file.write(chunk.subarray(off));
          bytes += chunk.length;
        },
        end() {
          open = null;
          file.close();
          Deno.chmodSync(target, h.mode & 0o7777);
          return Promise.resolve();
        },
      };
    });
    // Last, deepest first: a read-only directory must not stop its own children.
    for (const [dir, mode] of dirModes.reverse()) Deno.chmodSync(dir, mode);
    return { entries, bytes };
  } finally {
    (open as Deno.FsFile | null)?.close();
  }
}

/** Handles GET and PUT of /agent/v1/files. */
export async function handleFiles(req: Request): Promise<Response> {
  const url = new URL(req.url);
  try {
    const path = resolvePath(url.searchParams.get("path"), url.searchParams.get("root"));
    if (req.method === "GET" || req.method === "HEAD") {
      if (lstatOrNull(path) === null) {
        return problem(404, "not found", `path: ${path} does not exist`, "path");
      }
      return new Response(req.method === "HEAD" ? null : tarStream(path), {
        headers: { "content-type": "application/x-tar" },
      });
    }
    if (req.method === "PUT") {
      if (!req.body) return problem(400, "bad request", "body: a tar archive is required", "body");
      const result = await extract(req.body, path);
      return new Response(JSON.stringify(result), {
        headers: { "content-type": "application/json" },
      });
    }
    return problem(405, "method not allowed", `${req.method} ${url.pathname}`);
  } catch (e) {
    if (e instanceof FileProblem) return problem(e.status, "refused", e.message, e.field);
    if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotFound) {
      return problem(409, "file system", (e as Error).message, "path");
    }
    if (e instanceof Error && e.message.startsWith("tar: ")) {
      return problem(400, "bad archive", e.message, "body");
    }
    throw e;
  }
}
