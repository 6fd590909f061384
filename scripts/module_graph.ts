/**
 * The static module graph of an entry point (`deno info --json`), for tests
 * that keep a start-up path free of npm packages and `node:` built-ins (volar's
 * start, kestrel's boot).
 *
 * @module
 */

interface InfoModule {
  specifier: string;
  dependencies?: { specifier: string; isDynamic?: boolean; code?: { specifier: string } }[];
}

/** Every module reachable from `entry`, by specifier. */
export async function moduleGraph(entry: string): Promise<Map<string, InfoModule>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: InfoModule[] };
  return new Map(info.modules.map((m) => [m.specifier, m]));
}

/** Static (non-`import()`, non-type) imports reachable from `root`, each with who imports it. */
export function staticClosure(graph: Map<string, InfoModule>, root: string): Map<string, string> {
  const from = new Map<string, string>([[root, ""]]);
  const todo = [root];
  while (todo.length > 0) {
    const s = todo.pop()!;
    for (const d of graph.get(s)?.dependencies ?? []) {
      const target = d.code?.specifier;
      if (d.isDynamic || target === undefined || from.has(target)) continue;
      from.set(target, s);
      todo.push(target);
    }
  }
  return from;
}

/** Each module outside the repo reachable from `root`, as "module <- importer <- ...". */
export function foreignChains(
  graph: Map<string, InfoModule>,
  root: string,
  repo: string,
): string[] {
  const from = staticClosure(graph, root);
  return [...from.keys()].filter((s) => !s.startsWith("file:")).map((s) => {
    const chain = [s];
    for (let at = from.get(s); at; at = from.get(at)) chain.push(at.replace(repo, ""));
    return chain.join(" <- ");
  });
}
