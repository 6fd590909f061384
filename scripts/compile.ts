/**
 * `deno task compile`: builds `dist/volant` (all personas) and, separately,
 * `dist/kestrel` (the guest agent) with `deno compile`.
 *
 * `deno compile` needs denort, which only downloads from the internet. This
 * uses DENORT_BIN when set, or the denort Deno cached earlier; otherwise it
 * stops with one line saying denort cannot be had (use `deno task bundle`).
 *
 * @module
 */
import { REPO, run } from "./_repo.ts";

/** Where `deno compile` caches denort for this Deno version. */
export function cachedDenortPath(denoDir: string, version = Deno.version.deno): string {
  return `${denoDir}/dl/release/v${version}/denort-x86_64-unknown-linux-gnu.zip`;
}

async function denoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Finds denort: DENORT_BIN, else the cache; null when it cannot be had. */
export async function findDenort(): Promise<{ env: Record<string, string> } | null> {
  const bin = Deno.env.get("DENORT_BIN");
  if (bin) return (await isFile(bin)) ? { env: { DENORT_BIN: bin } } : null;
  return (await isFile(cachedDenortPath(await denoDir()))) ? { env: {} } : null;
}

if (import.meta.main) {
  const denort = await findDenort();
  if (!denort) {
    console.error(
      "compile: denort cannot be had (DENORT_BIN unset or missing, and no cached denort for deno " +
        `${Deno.version.deno}); it downloads only from the internet: use \`deno task bundle\` here`,
    );
    Deno.exit(1);
  }
  await Deno.mkdir(`${REPO}/dist`, { recursive: true });
  const common = ["compile", "-A", "--no-check", "--include", `${REPO}/src`];
  await run(
    Deno.execPath(),
    [...common, "--output", `${REPO}/dist/volant`, `${REPO}/src/main.ts`],
    denort.env,
  );
  await run(Deno.execPath(), [
    "compile",
    "-A",
    "--no-check",
    "--output",
    `${REPO}/dist/kestrel`,
    `${REPO}/agent/main.ts`,
  ], denort.env);
  console.log(`${REPO}/dist/volant`);
  console.log(`${REPO}/dist/kestrel`);
}
