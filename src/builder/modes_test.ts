import assert from "node:assert/strict";
import { fileMode } from "./modes.ts";

Deno.test("modes: FHS rules on the guest path", () => {
  assert.equal(fileMode("/usr/bin/caddy", 0o644), 0o755);
  assert.equal(fileMode("/sbin/init-helper", 0o600), 0o755);
  assert.equal(fileMode("/usr/local/bin/x", 0o644), 0o755);
  assert.equal(fileMode("/usr/lib/x86_64-linux-gnu/libssl.so.3", 0o644), 0o755);
  assert.equal(fileMode("/lib/libfoo.so", 0o644), 0o755);
  assert.equal(fileMode("/usr/lib/python3/os.py", 0o644), 0o644);
  assert.equal(fileMode("/etc/caddy/Caddyfile", 0o644), 0o644);
  assert.equal(fileMode("/srv/libfoo.so", 0o644), 0o644, "a .so outside lib dirs");
  assert.equal(fileMode("/binary", 0o644), 0o644, "/binary is not under /bin/");
  assert.equal(fileMode("/init", 0o644), 0o644);
});

Deno.test("modes: host exec bits keep a file executable; other host bits are ignored", () => {
  assert.equal(fileMode("/init", 0o744), 0o755);
  assert.equal(fileMode("/opt/app/run", 0o700), 0o755);
  assert.equal(fileMode("/etc/x", 0o664), 0o644, "umask 002 checkouts give the same image");
  assert.equal(fileMode("/etc/x", 0o4755), 0o755, "setuid from the host is dropped");
});

Deno.test("modes: an explicit override wins over everything", () => {
  assert.equal(fileMode("/usr/bin/tool", 0o755, 0o750), 0o750);
  assert.equal(fileMode("/etc/secret", 0o644, 0o600), 0o600);
  assert.equal(fileMode("/usr/bin/su", 0o755, 0o4755), 0o4755);
});
