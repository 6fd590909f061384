/**
 * Per-mode launchers of the fake QEMU (testdata/fake_qemu.sh, whose header
 * says why it is a fake), so each test names its mode in the binary path
 * instead of changing this process's environment.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("./fake_qemu.sh", import.meta.url));

/** A temp dir holding `qemu-system-x86_64` that plays `mode`; remove `dir` when done. */
export async function fakeQemu(
  mode: "hang" | "partial" | "abort",
): Promise<{ dir: string; bin: string }> {
  const dir = await Deno.makeTempDir({ prefix: `volant-fake-qemu-${mode}-` });
  const bin = `${dir}/qemu-system-x86_64`;
  await Deno.writeTextFile(bin, `#!/bin/sh\nFAKE_QEMU_MODE=${mode} exec sh '${SCRIPT}' "$@"\n`, {
    mode: 0o755,
  });
  return { dir, bin };
}
