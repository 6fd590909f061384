/**
 * Installs what the tests and the demo need on a fresh Debian machine:
 * the apt packages in scripts/apt-packages.txt (only the missing ones; needs
 * root). Idempotent; prints one line per action.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

const LIST = fileURLToPath(new URL("./apt-packages.txt", import.meta.url));

/** Package names from the list file (comments and blanks dropped). */
export async function aptPackages(): Promise<string[]> {
  const text = await Deno.readTextFile(LIST);
  return text.split("\n").map((l) => l.replace(/#.*/, "").trim()).filter((l) => l.length > 0);
}

async function installed(pkg: string): Promise<boolean> {
  const out = await new Deno.Command("dpkg-query", {
    args: ["-W", "-f=${Status}", pkg],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).includes("install ok installed");
}

async function run(cmd: string, args: string[]): Promise<void> {
  const status = await new Deno.Command(cmd, {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!status.success) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${status.code})`);
}

/** Installs missing apt packages; throws with the install command when not root. */
export async function ensureAptPackages(): Promise<void> {
  const missing: string[] = [];
  for (const pkg of await aptPackages()) if (!(await installed(pkg))) missing.push(pkg);
  if (missing.length === 0) return;
  if (Deno.uid() !== 0) {
    throw new Error(`missing packages; run as root: apt-get install -y ${missing.join(" ")}`);
  }
  console.error(`prereqs: installing ${missing.join(" ")}`);
  await run("apt-get", ["update", "-qq"]);
  await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing]);
}

if (import.meta.main) {
  await ensureAptPackages();
}
