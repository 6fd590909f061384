/**
 * File copy through the agent API on a real socket, checked against GNU tar
 * (the host's `tar`): our archives extract with it, its archives extract with
 * ours, modes and symlinks survive, and a root cannot be escaped.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { createApiHandler } from "./api.ts";
import { ChildTracker } from "./child_tracker.ts";
import { newState } from "./state.ts";

async function sh(script: string, cwd?: string): Promise<string> {
  const out = await new Deno.Command("sh", {
    args: ["-c", script],
    cwd,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) throw new Error(`${script}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** Path, type, mode and content digest of every member under `dir`, sorted. */
function listing(dir: string): Promise<string> {
  return sh(
    `cd "${dir}" && find . -printf '%p %y %m %l\\n' | sort && find . -type f -exec sha256sum {} + | sort -k2`,
  );
}

function serve() {
  const handler = createApiHandler(newState("t", "host"), {
    exec: { tracker: new ChildTracker() },
  });
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
}

Deno.test("agent files: a tree round-trips with modes and symlinks, both ways against GNU tar", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-files-" });
  const server = serve();
  const base = `http://127.0.0.1:${server.addr.port}/agent/v1/files`;
  try {
    await sh(
      `mkdir -p src/tree/sub/deep src/tree/ro && echo hi > src/tree/a.txt && chmod 640 src/tree/a.txt &&
       head -c 300000 /dev/urandom > src/tree/sub/blob && chmod 755 src/tree/sub/blob &&
       ln -s ../a.txt src/tree/sub/link && touch src/tree/ro/f && chmod 555 src/tree/ro &&
       mkdir -p "src/tree/$(printf 'n%.0s' $(seq 1 120))" && echo long > "src/tree/$(printf 'n%.0s' $(seq 1 120))/f"`,
      dir,
    );
    // GET: our archive, extracted by GNU tar.
    const res = await fetch(`${base}?path=${dir}/src/tree`);
    assertEquals(res.status, 200);
    await Deno.writeFile(`${dir}/ours.tar`, new Uint8Array(await res.arrayBuffer()));
    await sh(`mkdir gnu && tar -C gnu -xf ours.tar`, dir);
    assertEquals(await listing(`${dir}/gnu/tree`), await listing(`${dir}/src/tree`));

    // PUT: GNU tar's archive (pax for the long name), extracted by us.
    await sh(`tar -C src --format=gnu -cf gnu.tar tree`, dir);
    const put = await fetch(`${base}?path=${dir}/dest/into`, {
      method: "PUT",
      body: await Deno.readFile(`${dir}/gnu.tar`),
    });
    assertEquals(put.status, 200, await put.clone().text());
    const result = await put.json();
    assert(result.entries >= 9, JSON.stringify(result));
    assertEquals(await listing(`${dir}/dest/into/tree`), await listing(`${dir}/src/tree`));
    await sh(`chmod -R u+w src gnu dest`, dir);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent files: no escape through symlinks under a root, nor out of the destination", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-files-" });
  const server = serve();
  const base = `http://127.0.0.1:${server.addr.port}/agent/v1/files`;
  try {
    await sh(
      `mkdir -p root/data outside && echo secret > outside/s && ln -s ${dir}/outside root/data/out &&
       ln -s /etc root/etc`,
      dir,
    );
    const get = await fetch(`${base}?root=${dir}/root&path=/data/out/s`);
    assertEquals(get.status, 400);
    assertEquals((await get.json()).problems[0].field, "path");
    const getLink = await fetch(`${base}?root=${dir}/root&path=/etc`);
    assertEquals(getLink.status, 400);
    await getLink.body?.cancel();
    const dots = await fetch(`${base}?root=${dir}/root&path=/../outside`);
    assertEquals(dots.status, 400);
    await dots.body?.cancel();
    // Inside the root, the tree is archived with its symlink as a symlink (not followed).
    const ok = await fetch(`${base}?root=${dir}/root&path=/data`);
    await Deno.writeFile(`${dir}/data.tar`, new Uint8Array(await ok.arrayBuffer()));
    assertEquals((await sh(`tar -tvf data.tar`, dir)).includes("data/out -> "), true);

    const putInto = await fetch(`${base}?root=${dir}/root&path=/data/out`, {
      method: "PUT",
      body: await Deno.readFile(`${dir}/data.tar`),
    });
    assertEquals(putInto.status, 400);
    await putInto.body?.cancel();

    // An archive whose first member is a symlink out, the second a file through it.
    await sh(
      `mkdir evil && ln -s ${dir}/outside evil/link && mkdir -p evil2/link &&
      echo pwned > evil2/link/s && tar -C evil -cf evil.tar link && tar -C evil2 -rf evil.tar link/s`,
      dir,
    );
    const put = await fetch(`${base}?path=${dir}/dest`, {
      method: "PUT",
      body: await Deno.readFile(`${dir}/evil.tar`),
    });
    assertEquals(put.status, 400);
    assertEquals((await put.json()).problems[0].field, "archive");
    assertEquals(await Deno.readTextFile(`${dir}/outside/s`), "secret\n");
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent files: a cut-off upload is refused as a bad archive, naming the body", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-files-" });
  const server = serve();
  const base = `http://127.0.0.1:${server.addr.port}/agent/v1/files`;
  try {
    await sh(`mkdir src && head -c 3000 /dev/urandom > src/f && tar -cf whole.tar src`, dir);
    const whole = await Deno.readFile(`${dir}/whole.tar`);
    for (const cut of [1536, 2048]) { // inside a member's data; at a block boundary before the end
      const res = await fetch(`${base}?path=${dir}/dest${cut}`, {
        method: "PUT",
        body: whole.subarray(0, cut),
      });
      assertEquals(res.status, 400, `cut at ${cut}`);
      const body = await res.json();
      assertEquals(body.problems[0].field, "body");
      assert(/truncated/.test(body.detail ?? body.problems[0].message ?? JSON.stringify(body)));
    }
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
