import assert from "node:assert/strict";
import { VolantError } from "../errors.ts";
import { resolveInTree } from "./resolve.ts";
import { ImageTree } from "./tree.ts";

const data = new TextEncoder().encode("x");

Deno.test("tree: parents are created 0755; later mappings may replace built-in files only", () => {
  const t = new ImageTree();
  t.put("/bin/sh", { type: "symlink", target: "busybox", origin: "busybox" });
  assert.equal(t.get("/bin")?.type, "dir");
  t.put("/bin/sh", { type: "file", mode: 0o755, data, origin: "mappings.sh" }, "builtin");
  assert.equal(t.get("/bin/sh")?.type, "file");
  assert.throws(
    () =>
      t.put("/bin/sh", { type: "file", mode: 0o755, data, origin: "mappings.other" }, "builtin"),
    (e) => e instanceof VolantError && /already provided by mappings\.sh/.test(e.message),
  );
  assert.throws(
    () => t.put("/bin/sh/x", { type: "file", mode: 0o644, data, origin: "mappings.x" }),
    /\/bin\/sh must be a directory, but mappings\.sh put a file there/,
  );
});

Deno.test("tree: resolution follows the image's own symlinks, never the host's", () => {
  const t = new ImageTree();
  t.put("/bin/busybox", { type: "file", mode: 0o755, data, origin: "busybox" });
  t.put("/bin/sh", { type: "symlink", target: "busybox", origin: "busybox" });
  t.put("/usr/bin/env", { type: "symlink", target: "../../bin/sh", origin: "m" });
  t.put("/sbin/init", { type: "symlink", target: "/usr/bin/env", origin: "m" });
  t.put("/loop", { type: "symlink", target: "/loop", origin: "m" });
  t.put("/etc/localtime", { type: "symlink", target: "/usr/share/zoneinfo/UTC", origin: "m" });
  assert.equal(resolveInTree(t, "/sbin/init"), t.get("/bin/busybox"));
  assert.equal(resolveInTree(t, "/loop"), null);
  assert.equal(resolveInTree(t, "/etc/localtime"), null, "dangling in the image");
});
