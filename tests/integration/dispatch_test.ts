import assert from "node:assert/strict";
import { REPO } from "../../scripts/_repo.ts";
import { link } from "../../scripts/link.ts";

const MAIN = `${REPO}/src/main.ts`;
const DENO = Deno.execPath();
const PERSONAS = ["volantd", "volar", "fledge"];

async function sh(script: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command("bash", {
    args: ["-c", script],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

for (const name of PERSONAS) {
  Deno.test(`dispatch by invoked name: exec -a ${name}`, async () => {
    const version = await sh(`exec -a ${name} ${DENO} run -A ${MAIN} --version`);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, new RegExp(`^${name} \\d+\\.\\d+\\.\\d+`));
    const help = await sh(`exec -a ${name} ${DENO} run -A ${MAIN} --help`);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, new RegExp(name));
  });

  Deno.test(`dispatch by argument: volant ${name} --version`, async () => {
    const r = await sh(`exec -a volant ${DENO} run -A ${MAIN} ${name} --version`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${name} `));
  });
}

Deno.test("an unknown persona prints usage listing the personas and exits 2", async () => {
  for (
    const script of [
      `exec -a volant ${DENO} run -A ${MAIN} nosuch`,
      `exec -a volant ${DENO} run -A ${MAIN}`,
    ]
  ) {
    const r = await sh(script);
    assert.equal(r.code, 2);
    for (const name of PERSONAS) assert.match(r.stderr, new RegExp(`\\b${name}\\b`));
  }
});

Deno.test("volant --version and --help answer without a persona", async () => {
  const v = await sh(`exec -a volant ${DENO} run -A ${MAIN} --version`);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^volant \d/);
  const h = await sh(`exec -a volant ${DENO} run -A ${MAIN} --help`);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /Personas:/);
});

Deno.test("deno task link installs launchers whose names select the persona", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const made = await link(dir);
    assert.deepEqual(made.map((p) => p.slice(dir.length + 1)), ["volant", ...PERSONAS]);
    for (const name of PERSONAS) {
      const r = await sh(`${dir}/${name} --version`);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^${name} `));
      const viaPath = await sh(`${name} --version`, { PATH: `${dir}:${Deno.env.get("PATH")}` });
      assert.match(viaPath.stdout, new RegExp(`^${name} `));
    }
    const r = await sh(`${dir}/volant volar --version`);
    assert.match(r.stdout, /^volar /);
    // Linking again over existing links is fine.
    await link(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
