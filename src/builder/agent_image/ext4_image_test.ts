import assert from "node:assert/strict";
import { debugfsTimeCommands, uuidFromKey } from "./ext4_image.ts";

Deno.test("uuidFromKey: a version-4, variant-1 UUID fixed by the key", () => {
  const u = uuidFromKey("0123456789abcdef");
  assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(uuidFromKey("0123456789abcdef"), u);
  assert.notEqual(uuidFromKey("fedcba9876543210"), u);
});

Deno.test("debugfsTimeCommands: four times for inode 1, the root, lost+found and each path", () => {
  const cmds = debugfsTimeCommands(["/bin", "/bin/deno"], 42);
  assert.equal(cmds.length, 5 * 4);
  assert.equal(cmds[0], "sif <1> atime 42");
  assert.equal(cmds[4], 'sif "/" atime 42');
  assert.equal(cmds.at(-1), 'sif "/bin/deno" crtime 42');
});
