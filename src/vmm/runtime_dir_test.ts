import { deepStrictEqual as assertEquals, rejects, throws } from "node:assert/strict";
import { isVolantError } from "../errors.ts";
import {
  clearBootFiles,
  type IdentityRecord,
  markStopRequested,
  readIdentity,
  stopWasRequested,
  validateSpecDirs,
  validateVmDir,
  validateVmName,
  writeIdentity,
} from "./runtime_dir.ts";

Deno.test("VM names must be DNS labels; the error names the field", () => {
  validateVmName("web-1");
  for (const bad of ["", "Web", "-a", "a-", "a_b", "a/b", "..", "x".repeat(64)]) {
    throws(() => validateVmName(bad), (e) => {
      return isVolantError(e, "invalid_input") && e.problems[0].field === "name";
    });
  }
});

Deno.test("per-VM dirs must be exactly <root>/<name>: no escape, no other VM's dir", () => {
  assertEquals(
    validateVmDir("web", "/run/volant/vms/web/", "/run/volant/vms", "runtimeDir"),
    "/run/volant/vms/web",
  );
  for (
    const bad of [
      "/run/volant/vms/../web",
      "/run/volant/vms/db",
      "run/volant/vms/web",
      "/tmp/web",
      "/run/volant/vms/web/../../x",
    ]
  ) {
    throws(() => validateVmDir("web", bad, "/run/volant/vms", "runtimeDir"), (e) => {
      return isVolantError(e, "invalid_input") && e.problems[0].field === "runtimeDir";
    });
  }
  throws(
    () =>
      validateSpecDirs(
        { name: "web", runtimeDir: "/run/volant/vms/web", stateDir: "/var/lib/other/web" },
        { runtimeRoot: "/run/volant/vms", stateRoot: "/var/lib/volant/vms" },
      ),
    (e) => isVolantError(e) && e.problems[0].field === "stateDir",
  );
});

Deno.test("identity record round trip, stop marker, and clearing boot files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assertEquals(await readIdentity(dir), null);
    const rec: IdentityRecord = {
      kind: "qemu",
      name: "web",
      pid: 42,
      startTime: "123456",
      argv: ["/usr/bin/qemu-system-x86_64", "-M", "microvm"],
      controlSocket: `${dir}/qmp.sock`,
      serialSocket: `${dir}/serial.sock`,
      serialLog: `${dir}/serial.log`,
      serialLogMaxBytes: 65536,
      bootedAt: "2026-01-01T00:00:00.000Z",
    };
    await writeIdentity(dir, rec);
    assertEquals(await readIdentity(dir), rec);
    assertEquals((await Deno.readTextFile(`${dir}/pid`)).trim(), "42");
    assertEquals((await Deno.stat(`${dir}/vmm.json`)).mode! & 0o777, 0o600);
    assertEquals(await stopWasRequested(dir), false);
    await markStopRequested(dir);
    assertEquals(await stopWasRequested(dir), true);
    await Deno.writeTextFile(`${dir}/serial.log`, "kept\n");
    await clearBootFiles(dir);
    assertEquals(await readIdentity(dir), null);
    assertEquals(await stopWasRequested(dir), false);
    assertEquals(await Deno.readTextFile(`${dir}/serial.log`), "kept\n", "logs survive a reboot");
    await Deno.writeTextFile(`${dir}/vmm.json`, "{not json");
    await rejects(readIdentity(dir), (e) => isVolantError(e, "internal"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
