import {
  deepStrictEqual as assertEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import { buildWorkloadSpec, DEFAULT_PATH, lookPath } from "./workload_spec.ts";
import { resolveUser } from "./user.ts";
import { sampleManifest } from "./testdata/manifests.ts";
import type { PluginManifest } from "../src/manifest/plugin.ts";

async function etcDir(): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/passwd`,
    "root:x:0:0:root:/root:/bin/sh\nwww:x:33:34:www:/var/www:/bin/false\n",
  );
  await Deno.writeTextFile(`${dir}/group`, "root:x:0:\nweb:x:1000:\n");
  return dir;
}

Deno.test("user: names and numbers resolve through passwd and group", async () => {
  const etc = await etcDir();
  try {
    assertEquals(resolveUser("www", etc), { uid: 33, gid: 34, home: "/var/www", name: "www" });
    assertEquals(resolveUser("www:web", etc).gid, 1000);
    assertEquals(resolveUser("33", etc).name, "www");
    assertEquals(resolveUser("4242", etc), { uid: 4242, gid: 4242, home: "/", name: "4242" });
    assertEquals(resolveUser("4242:7", etc).gid, 7);
    assertThrows(() => resolveUser("nobody2", etc), /workload.user: user "nobody2"/);
    assertThrows(() => resolveUser("www:nogroup", etc), /group "nogroup"/);
  } finally {
    await Deno.remove(etc, { recursive: true });
  }
});

Deno.test("workload spec: PATH default, manifest env wins, user, workdir, restart default", async () => {
  const etc = await etcDir();
  try {
    const m = {
      ...sampleManifest,
      workload: {
        ...sampleManifest.workload,
        entrypoint: ["sh", "-c", "echo hi"],
        env: { GREETING: "hi", PATH: "/bin:/usr/bin" },
        workdir: "/tmp",
        user: "www",
      },
    } as PluginManifest;
    const s = buildWorkloadSpec(m, etc);
    assertEquals(s.command, "/bin/sh");
    assertEquals(s.args, ["-c", "echo hi"]);
    assertEquals(s.env.GREETING, "hi");
    assertEquals(s.env.PATH, "/bin:/usr/bin");
    assertEquals(s.env.HOME, "/var/www");
    assertEquals([s.uid, s.gid, s.cwd, s.restart], [33, 34, "/tmp", "on-failure"]);
    const plain = buildWorkloadSpec(
      { ...sampleManifest, workload: { ...sampleManifest.workload, entrypoint: ["sh"] } },
      etc,
    );
    assertEquals(plain.env.PATH, DEFAULT_PATH);
    assertEquals(plain.uid, undefined);
  } finally {
    await Deno.remove(etc, { recursive: true });
  }
});

Deno.test("lookPath: absolute names pass, missing names name the field", () => {
  assertEquals(lookPath("/x/y", "/bin"), "/x/y");
  assert(lookPath("sh", DEFAULT_PATH).endsWith("/sh"));
  assertThrows(() => lookPath("no-such-prog-kestrel", "/bin"), /workload.entrypoint/);
});

Deno.test("workload runs as the manifest's user (real spawn as root)", async () => {
  if (Deno.uid() !== 0) throw new Error("needs root (the test machine runs as root)");
  const out = await new Deno.Command("/bin/sh", {
    args: ["-c", "id -u; id -g"],
    uid: 65534,
    gid: 65534,
    clearEnv: true,
    env: { PATH: DEFAULT_PATH },
    stdout: "piped",
  }).output();
  assertEquals(new TextDecoder().decode(out.stdout), "65534\n65534\n");
});
