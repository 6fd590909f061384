/**
 * The dependency rules of docs/development.md, checked on every import in
 * src/, agent/ and tests/ (and scripts/, bench/ for cycles and FFI): no cycle;
 * adapters (src/store, src/vmm, src/net) never import each other; src/service
 * sees ports only (no Hono, SQLite, FFI or concrete driver); src/cli acts
 * through src/client (with the documented doctor/setup exceptions); src/manifest
 * imports only zod and src/errors.ts; src/shared imports only itself and
 * src/errors.ts; agent/ imports only src/manifest, src/errors.ts, src/shared and
 * itself; at most one file per program calls Deno.dlopen. Reads source text
 * only: about a second.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  findCycles,
  type Import,
  listModules,
  type ModuleInfo,
  readModules,
} from "./architecture/imports.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const modules = await readModules(
  ROOT,
  await listModules(ROOT, ["src", "agent", "tests", "scripts", "bench"]),
);
const byPath = new Map(modules.map((m) => [m.path, m]));

const isLocal = (i: Import) => byPath.has(i.target);
const isTest = (path: string) => /_test\.ts$/.test(path) || /(^|\/)(testing|testdata)\//.test(path);
const under = (path: string, ...prefixes: string[]) =>
  prefixes.some((p) => p.endsWith(".ts") ? path === p : path.startsWith(p));
const ADAPTERS = ["src/store/", "src/vmm/", "src/net/"];
const adapterOf = (path: string) => ADAPTERS.find((a) => path.startsWith(a));

/** Cycles being removed on another branch, one line each naming the branch (none today). */
const TEMPORARY_CYCLES = new Set<string>([]);

/** `file imports target` lines for every import of `mods` that `bad` flags. */
function violations(
  mods: ModuleInfo[],
  bad: (m: ModuleInfo, i: Import) => boolean,
): string[] {
  return mods.flatMap((m) =>
    m.imports.filter((i) => bad(m, i)).map((i) => `${m.path} imports ${i.target}`)
  );
}

Deno.test("architecture: the import reader sees the repository", () => {
  assert.ok(modules.length > 300, `only ${modules.length} modules read`);
  assert.ok(byPath.get("src/main.ts")?.imports.length, "src/main.ts has imports");
});

Deno.test("architecture: no import cycle (type-only imports count, dynamic ones do not)", () => {
  const edges = new Map(
    modules.map((
      m,
    ) => [m.path, m.imports.filter((i) => !i.dynamic && isLocal(i)).map((i) => i.target)]),
  );
  const cycles = findCycles(edges).map((c) => c.join(" -> "));
  assert.deepEqual(cycles.filter((c) => !TEMPORARY_CYCLES.has(c)), []);
});

Deno.test("architecture: adapters (src/store, src/vmm, src/net) never import each other", () => {
  const found = violations(modules, (m, i) => {
    const from = adapterOf(m.path);
    const to = adapterOf(i.target);
    return from !== undefined && to !== undefined && from !== to;
  });
  assert.deepEqual(found, []);
});

Deno.test("architecture: src/service sees ports, never Hono, SQLite, FFI or a driver", () => {
  const service = modules.filter((m) => under(m.path, "src/service/") && !isTest(m.path));
  const found = violations(
    service,
    (_m, i) =>
      /^(npm:)?(hono|@hono\/)/.test(i.target) || i.target === "node:sqlite" ||
      under(i.target, "src/ffi/", "src/api/", "src/daemon/", "src/cli/", ...ADAPTERS),
  );
  found.push(...service.filter((m) => m.dlopen).map((m) => `${m.path} calls Deno.dlopen`));
  assert.deepEqual(found, []);
});

Deno.test("architecture: src/cli acts only through src/client (doctor and setup excepted)", () => {
  const allowed = [
    "src/cli/",
    "src/client/",
    "src/manifest/",
    "src/shared/",
    "src/errors.ts",
    "src/version.ts",
  ];
  const exceptions: Record<string, string[]> = {
    // `volar doctor` reads the host itself, at the paths volantd's config gives (rule 4).
    "src/cli/cmd_doctor.ts": ["src/doctor/", "src/config/"],
    // `volar setup` bootstraps the host's network before there is a daemon (rule 4).
    "src/cli/setup/": ["src/net/"],
  };
  const cli = modules.filter((m) => under(m.path, "src/cli/") && !isTest(m.path));
  const found = violations(cli, (m, i) => {
    if (!isLocal(i) || under(i.target, ...allowed)) return false;
    const extra = Object.entries(exceptions).filter(([p]) => under(m.path, p)).flatMap(([, t]) =>
      t
    );
    return !under(i.target, ...extra);
  });
  assert.deepEqual(found, []);
});

Deno.test("architecture: src/manifest imports only zod and src/errors.ts", () => {
  const manifest = modules.filter((m) => under(m.path, "src/manifest/") && !isTest(m.path));
  const found = violations(
    manifest,
    (_m, i) =>
      !(i.target === "zod" || i.target === "src/errors.ts" || under(i.target, "src/manifest/")),
  );
  assert.deepEqual(found, []);
});

Deno.test("architecture: src/shared is pure: only itself and src/errors.ts, no FFI", () => {
  const shared = modules.filter((m) => under(m.path, "src/shared/") && !isTest(m.path));
  const found = violations(
    shared,
    (_m, i) => !(i.target === "src/errors.ts" || under(i.target, "src/shared/")),
  );
  found.push(...shared.filter((m) => m.dlopen).map((m) => `${m.path} calls Deno.dlopen`));
  assert.deepEqual(found, []);
});

Deno.test("architecture: agent/ imports only src/manifest, src/errors.ts, src/shared and itself", () => {
  const agent = modules.filter((m) => under(m.path, "agent/") && !isTest(m.path));
  const found = violations(
    agent,
    (_m, i) =>
      isLocal(i) && !under(i.target, "agent/", "src/manifest/", "src/shared/", "src/errors.ts"),
  );
  found.push(
    ...violations(agent, (_m, i) => !isLocal(i) && !/^(node:|zod$)/.test(i.target)),
  );
  assert.deepEqual(found, []);
});

Deno.test("architecture: one Deno.dlopen per program (volantd/volar/fledge and kestrel)", () => {
  const reach = (entry: string) => {
    const seen = new Set<string>();
    const todo = [entry];
    while (todo.length > 0) {
      const path = todo.pop()!;
      if (seen.has(path)) continue;
      seen.add(path);
      for (const i of byPath.get(path)?.imports ?? []) if (isLocal(i)) todo.push(i.target);
    }
    return [...seen].filter((p) => byPath.get(p)?.dlopen).sort();
  };
  assert.deepEqual(reach("src/main.ts"), ["src/ffi/libc.ts"]);
  assert.deepEqual(reach("agent/main.ts"), ["agent/_libc.ts"]);
  const elsewhere = modules.filter((m) =>
    m.dlopen && m.path !== "src/ffi/libc.ts" && m.path !== "agent/_libc.ts"
  );
  assert.deepEqual(elsewhere.map((m) => m.path), []);
});
