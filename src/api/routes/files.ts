/**
 * GET/PUT /api/v1/vms/{name}/files?path=P[&root=R]: file copy with a running
 * VM as tar streams, resolved in the guest by its agent. GET answers P (a file
 * or a directory tree, its base name at the top of the archive); PUT extracts
 * the body into the directory P (created when missing). Modes are kept;
 * symlinks stay symlinks; with `root`, nothing outside R is read or written.
 * Bodies are streamed both ways, never buffered.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { GuestServiceApi } from "../../service/contracts.ts";
import { json, newRouter, rawResponse } from "../router.ts";
import { NameParam, problems } from "../schemas.ts";

const FilesQuery = z.object({
  path: z.string().startsWith("/", "must be an absolute path").max(4096)
    .describe("Absolute guest path (inside `root` when given)"),
  root: z.string().startsWith("/", "must be an absolute path").max(4096).optional()
    .describe("Confine the copy to this guest directory; symlinks on the way are refused"),
});

const FilesWritten = z.object({
  entries: z.number().int().describe("Archive members extracted"),
  bytes: z.number().int().describe("File data bytes written"),
});

const TAR = "application/x-tar";

const read = createRoute({
  method: "get",
  path: "/{name}/files",
  tags: ["vms"],
  summary: "Copy a file or directory out of the VM (tar stream)",
  request: { params: NameParam, query: FilesQuery },
  responses: {
    200: {
      description: "A tar archive whose top entry is the path's base name",
      content: { [TAR]: { schema: z.string() } },
    },
    ...problems(400, 404, 409, 502, 503),
  },
});

const write = createRoute({
  method: "put",
  path: "/{name}/files",
  tags: ["vms"],
  summary: "Copy files into the VM: the tar body is extracted into directory `path`",
  request: {
    params: NameParam,
    query: FilesQuery,
    body: { required: true, content: { [TAR]: { schema: z.string() } } },
  },
  responses: {
    200: { description: "What was extracted", content: json(FilesWritten) },
    ...problems(400, 404, 409, 502, 503),
  },
});

/** The files router, mounted at /api/v1/vms. */
export function fileRoutes(guest: GuestServiceApi) {
  const app = newRouter();
  app.openapi(read, async (c) => {
    const { name } = c.req.valid("param");
    const stream = await guest.readFiles(name, c.req.valid("query"), c.req.raw.signal);
    return rawResponse(new Response(stream, { status: 200, headers: { "content-type": TAR } }));
  });
  app.openapi(write, async (c) => {
    const { name } = c.req.valid("param");
    const body = c.req.raw.body ?? new Blob([]).stream();
    const result = await guest.writeFiles(name, c.req.valid("query"), body, c.req.raw.signal);
    return c.json(result, 200);
  });
  return app;
}
