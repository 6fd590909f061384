import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { renderHosts, renderResolvConf, writeEtcFile } from "./etc_files.ts";
import { deriveNetwork } from "./boot_config.ts";

Deno.test("resolv.conf and hosts content", () => {
  assertEquals(
    renderResolvConf(["1.1.1.1"]),
    "# written by kestrel from volant.dns\nnameserver 1.1.1.1\n",
  );
  const hosts = renderHosts("web", deriveNetwork("10.0.0.2/24"));
  assertEquals(hosts.split("\n").at(-2), "10.0.0.2\tweb");
  assertEquals(renderHosts(undefined, null).includes("127.0.0.1\tlocalhost"), true);
});

Deno.test("writeEtcFile replaces a symlink instead of writing through it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/elsewhere`, "stub");
    await Deno.symlink(`${dir}/elsewhere`, `${dir}/resolv.conf`);
    const r = writeEtcFile(`${dir}/resolv.conf`, "nameserver 1.1.1.1\n", `${dir}/run`);
    assertEquals(r.how, "written");
    assertEquals((await Deno.lstat(`${dir}/resolv.conf`)).isSymlink, false);
    assertEquals(await Deno.readTextFile(`${dir}/elsewhere`), "stub");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeEtcFile on a read-only /etc binds a file over the target, or says why not", async () => {
  const dir = await Deno.makeTempDir();
  const etc = `${dir}/etc`;
  await Deno.mkdir(etc);
  await Deno.writeTextFile(`${etc}/hosts`, "old\n");
  // A real read-only mount needs a mount namespace: unshare -m, bind /etc read-only, then try.
  const script = `
    mount --bind ${etc} ${etc} && mount -o remount,bind,ro ${etc} &&
    ${Deno.execPath()} eval '
      import { writeEtcFile } from "${new URL("./etc_files.ts", import.meta.url)}";
      const binds = [];
      const a = writeEtcFile("${etc}/hosts", "new\\n", "${dir}/run", (f, t) => binds.push([f, t]));
      const b = writeEtcFile("${etc}/resolv.conf", "x\\n", "${dir}/run", () => {});
      console.log(JSON.stringify({ a, b, binds }));
    '`;
  try {
    const out = await new Deno.Command("unshare", {
      args: ["-m", "sh", "-c", script],
      stdout: "piped",
    })
      .output();
    assertEquals(out.success, true);
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    assertEquals(r.a, { path: `${etc}/hosts`, how: "bind", from: `${dir}/run/hosts` });
    assertEquals(r.binds, [[`${dir}/run/hosts`, `${etc}/hosts`]]);
    assertEquals(r.b.how, "skipped");
    assertEquals(await Deno.readTextFile(`${dir}/run/hosts`), "new\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
