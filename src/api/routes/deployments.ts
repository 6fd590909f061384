/**
 * /api/v1/deployments: not implemented yet (its own issue); every method
 * answers 501 problem+json so clients get a clear answer, not a 404.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { VolantError } from "../../errors.ts";
import { newRouter } from "../router.ts";
import { NameParam, problems } from "../schemas.ts";

const tags = ["deployments"];
const notYet = { ...problems(501) };
const docs = [
  createRoute({ method: "get", path: "/", tags, summary: "List deployments", responses: notYet }),
  createRoute({
    method: "post",
    path: "/",
    tags,
    summary: "Create a deployment",
    responses: notYet,
  }),
  ...(["get", "patch", "delete"] as const).map((method) =>
    createRoute({
      method,
      path: "/{name}",
      tags,
      summary: `${method.toUpperCase()} one deployment`,
      request: { params: NameParam },
      responses: notYet,
    })
  ),
];

/** The deployments router (501 everywhere). */
export function deploymentRoutes() {
  const app = newRouter();
  for (const d of docs) app.openAPIRegistry.registerPath(d);
  const handler = () => {
    throw new VolantError("not_implemented", "deployments are not implemented yet");
  };
  app.all("/", handler);
  app.all("/:name", handler);
  return app;
}
