/**
 * A bounded fuzz of every route in the OpenAPI document against a real
 * volantd (child process, unix socket, SQLite) that runs in a network
 * namespace of its own (`unshare -n`: whatever the fuzzer names, no packet
 * leaves it). Fixed seed, 90 requests per operation (~4,000): half generated from the route's
 * schemas, half hostile mutations. It must see no 500, a problem+json body
 * with a code on every error (a JSON-RPC error from /mcp), no file created outside the daemon's dirs, and
 * bounded RSS growth. About 60 s.
 */
import assert from "node:assert/strict";
import { writePlugin } from "../../src/api/testing/fixtures.ts";
import { startDaemonProcess } from "../../src/daemon/testing/harness.ts";
import {
  BROKEN_BODIES,
  generate,
  HOSTILE_STRINGS,
  MARK,
  mutate,
  prng,
  type Rng,
  type Schema,
} from "../_helpers/api_fuzz.ts";

const SEED = 20261202;
const PER_OPERATION = 90;
const PATH_NAMES = ["web", "v1", "nope", MARK, "..", "%2e%2e", "a".repeat(300), "UPPER", "x%00y"];

interface Operation {
  method: string;
  path: string;
  op: Schema;
}

function operations(doc: Schema): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Schema>)) {
    for (const [method, op] of Object.entries(item)) out.push({ method, path, op });
  }
  return out;
}

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length)];
}

/** One request for `o`: generated from its schemas, hostile when `hostile`. */
function request(o: Operation, doc: Schema, rng: Rng, hostile: boolean) {
  const params: Schema[] = o.op.parameters ?? [];
  let path = o.path;
  const query = new URLSearchParams();
  for (const p of params) {
    if (p.in === "path") {
      const v = p.name === "name"
        ? pick(rng, PATH_NAMES)
        : hostile
        ? pick(rng, HOSTILE_STRINGS).slice(0, 200)
        : `${MARK}/x`;
      path = path.replace(`{${p.name}}`, encodeURIComponent(v).replace(/%2F/g, "/"));
    } else if (p.in === "query" && (p.required || rng() < 0.6)) {
      let v = generate(p.schema, rng, doc);
      if (hostile && rng() < 0.5) v = pick(rng, HOSTILE_STRINGS);
      if (p.name === "follow") v = "false"; // a stream would hold the request open
      query.set(p.name, (typeof v === "string" ? v : JSON.stringify(v)).slice(0, 2000));
    }
  }
  const schema = o.op.requestBody?.content?.["application/json"]?.schema;
  let body: string | undefined;
  if (schema || (hostile && o.method !== "get")) {
    const value = generate(schema, rng, doc);
    body = hostile
      ? rng() < 0.2 ? pick(rng, BROKEN_BODIES) : JSON.stringify(mutate(value, rng))
      : JSON.stringify(value);
  }
  const qs = query.toString();
  return { url: `${path}${qs ? `?${qs}` : ""}`, body };
}

/** Names containing the fuzz mark under `dir`, `depth` levels down. */
function marked(dir: string, depth: number, skip: string): string[] {
  const out: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied) return out;
    throw e;
  }
  for (const e of entries) {
    const p = `${dir}/${e.name}`;
    if (p === skip) continue;
    if (e.name.includes(MARK)) out.push(p);
    if (e.isDirectory && depth > 0) out.push(...marked(p, depth - 1, skip));
  }
  return out;
}

function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))![1]);
  return kb / 1024;
}

Deno.test("fuzz: every documented route, generated and hostile input, no 5xx", async () => {
  const d = await startDaemonProcess({ wrap: ["unshare", "-n"] });
  try {
    const path = await writePlugin(d.dir, "web");
    await (await d.fetch("/api/v1/plugins", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ path }),
    })).body?.cancel();
    await (await d.fetch("/api/v1/vms", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "v1", plugin: "web", start: false }),
    })).body?.cancel();
    const doc = await (await d.fetch("/api/v1/openapi.json")).json() as Schema;
    const ops = operations(doc);
    assert.ok(ops.length >= 30, `the document lists ${ops.length} operations`);
    const rng = prng(SEED);
    const rssBefore = rssMb(d.pid);
    const failures: string[] = [];
    let sent = 0;
    for (const o of ops) {
      for (let i = 0; i < PER_OPERATION; i++) {
        const { url, body } = request(o, doc, rng, i % 2 === 1);
        const res = await d.fetch(url, {
          method: o.method.toUpperCase(),
          headers: body !== undefined ? { "content-type": "application/json" } : {},
          body,
          signal: AbortSignal.timeout(10_000),
        });
        sent++;
        const type = res.headers.get("content-type") ?? "";
        const text = type.includes("event-stream")
          ? (await res.body?.cancel(), "")
          : await res.text();
        const where = `${o.method.toUpperCase()} ${url.slice(0, 120)} -> ${res.status}`;
        if (res.status >= 500 && res.status !== 501 && res.status !== 502 && res.status !== 503) {
          failures.push(`${where}: ${text.slice(0, 200)}`);
        } else if (res.status >= 400) {
          const body = JSON.parse(text);
          // /mcp speaks JSON-RPC: its errors are JSON-RPC error objects, not problem+json.
          const ok = o.path === "/mcp"
            ? body.jsonrpc === "2.0" && Number.isInteger(body.error?.code)
            : body.code && body.code !== "internal";
          if (!ok) failures.push(`${where}: ${text}`);
        }
      }
    }
    const rssAfter = rssMb(d.pid);
    console.log(
      `fuzz: ${sent} requests over ${ops.length} operations; RSS ${rssBefore.toFixed(0)} -> ${
        rssAfter.toFixed(0)
      } MB`,
    );
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} bad answers`);
    assert.ok(rssAfter - rssBefore < 150, `RSS grew ${(rssAfter - rssBefore).toFixed(0)} MB`);
    assert.ok(!/unhandled error/.test(d.stderr()), d.stderr().slice(-2000));
    const stray = [
      ...marked("/tmp", 3, d.dir),
      ...marked("/run/volant", 3, d.dir),
      ...marked("/var/lib/volant", 3, d.dir),
      ...marked(d.dir, 1, `${d.dir}/state`),
    ];
    assert.deepEqual(stray, [], "files outside the state dir");
  } finally {
    await d.stop();
    await d.cleanup();
  }
});
