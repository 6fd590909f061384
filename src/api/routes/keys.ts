/**
 * /api/v1/keys: the minisign public keys volantd trusts for plugin
 * signatures (list, show, add, remove).
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import {
  AddKeyBodySchema,
  TrustedKeyListSchema,
  TrustedKeySchema,
} from "../../manifest/signing.ts";
import type { KeyServiceApi } from "../../service/contracts.ts";
import { json, newRouter } from "../router.ts";
import { NameParam, problems } from "../schemas.ts";

const TrustedKey = TrustedKeySchema.meta({ id: "TrustedKey" });
const TrustedKeyList = TrustedKeyListSchema.meta({ id: "TrustedKeyList" });
const AddKeyBody = AddKeyBodySchema.meta({ id: "AddKeyBody" });

const tags = ["keys"];

const list = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List trusted signing keys",
  responses: { 200: { description: "Trusted keys", content: json(TrustedKeyList) } },
});

const add = createRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Trust a minisign public key, optionally only for some plugin names",
  description: "`public_key` is a minisign `.pub` file's text or its base64 line. A name or " +
    "key id that is already trusted answers 409.",
  request: { body: { required: true, content: json(AddKeyBody) } },
  responses: {
    201: { description: "The trusted key", content: json(TrustedKey) },
    ...problems(400, 409),
  },
});

const show = createRoute({
  method: "get",
  path: "/{name}",
  tags,
  summary: "Show one trusted key",
  request: { params: NameParam },
  responses: {
    200: { description: "The key", content: json(TrustedKey) },
    ...problems(400, 404),
  },
});

const remove = createRoute({
  method: "delete",
  path: "/{name}",
  tags,
  summary: "Stop trusting a key (installed plugins stay installed)",
  request: { params: NameParam },
  responses: { 204: { description: "Removed" }, ...problems(400, 404) },
});

/** The keys router. */
export function keyRoutes(keys: KeyServiceApi) {
  const app = newRouter();
  app.openapi(list, async (c) => c.json({ items: await keys.list() }, 200));
  app.openapi(add, async (c) => {
    const key = await keys.add(c.req.valid("json"));
    c.header("Location", `/api/v1/keys/${key.name}`);
    return c.json(key, 201);
  });
  app.openapi(show, async (c) => c.json(await keys.get(c.req.valid("param").name), 200));
  app.openapi(remove, async (c) => {
    await keys.remove(c.req.valid("param").name);
    return c.body(null, 204);
  });
  return app;
}
