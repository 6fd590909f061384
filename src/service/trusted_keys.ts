/**
 * Trusted minisign public keys, one JSON file per key under
 * `<state_dir>/trusted_keys/<name>.json` (mode 0644 in a 0700 directory):
 * readable and auditable by hand, written atomically (temp file + rename), so
 * a key is either fully there or absent. Files are re-read on every use, so a
 * key removed by hand is no longer trusted at the next install.
 *
 * @module
 */
import { join } from "node:path";
import { keyIdHex, parsePublicKey, publicKeyBase64 } from "../crypto/minisign.ts";
import { VolantError } from "../errors.ts";
import { type AddKeyBody, type TrustedKey, TrustedKeySchema } from "../manifest/signing.ts";

const SUFFIX = ".json";

export class TrustedKeyStore {
  readonly dir: string;
  /** Receives files that are not valid key records (they are skipped, never trusted). */
  readonly #onInvalid: (file: string, reason: string) => void;

  constructor(stateDir: string, onInvalid: (file: string, reason: string) => void = () => {}) {
    this.dir = join(stateDir, "trusted_keys");
    this.#onInvalid = onInvalid;
  }

  /** Every valid key, by name. A file whose key id does not match its key is skipped. */
  async list(): Promise<TrustedKey[]> {
    const out: TrustedKey[] = [];
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(this.dir));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return [];
      throw error;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (!e.isFile || !e.name.endsWith(SUFFIX)) continue;
      const key = await this.#read(join(this.dir, e.name), e.name.slice(0, -SUFFIX.length));
      if (key) out.push(key);
    }
    return out;
  }

  async #read(path: string, name: string): Promise<TrustedKey | undefined> {
    let data: unknown;
    try {
      data = JSON.parse(await Deno.readTextFile(path));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      if (!(error instanceof SyntaxError)) throw error;
      this.#onInvalid(path, "not JSON");
      return undefined;
    }
    const parsed = TrustedKeySchema.safeParse(data);
    if (!parsed.success) {
      this.#onInvalid(path, parsed.error.issues[0]?.message ?? "invalid");
      return undefined;
    }
    const key = parsed.data;
    if (key.name !== name) {
      this.#onInvalid(path, `name ${key.name} does not match the file name`);
      return undefined;
    }
    try {
      if (keyIdHex(parsePublicKey(key.public_key).keyId) !== key.key_id) {
        this.#onInvalid(path, "key_id does not match public_key");
        return undefined;
      }
    } catch (error) {
      if (!(error instanceof VolantError)) throw error;
      this.#onInvalid(path, error.message);
      return undefined;
    }
    return key;
  }

  async get(name: string): Promise<TrustedKey | undefined> {
    return await this.#read(join(this.dir, name + SUFFIX), name);
  }

  /** Adds a key; refuses a taken name or a key id already trusted under another name. */
  async add(body: AddKeyBody, now: string): Promise<TrustedKey> {
    const pub = parsePublicKey(body.public_key, "public_key");
    const key: TrustedKey = {
      name: body.name,
      key_id: keyIdHex(pub.keyId),
      public_key: publicKeyBase64(pub),
      comment: pub.comment,
      plugins: [...new Set(body.plugins ?? [])].sort(),
      added_at: now,
    };
    const existing = await this.list();
    const sameName = existing.find((k) => k.name === key.name);
    if (sameName) {
      throw new VolantError(
        "conflict",
        `key ${key.name} already exists (key id ${sameName.key_id})`,
        {
          problems: [{ field: "name", message: "already exists; remove it first" }],
        },
      );
    }
    const sameId = existing.find((k) => k.key_id === key.key_id);
    if (sameId) {
      throw new VolantError(
        "conflict",
        `key id ${key.key_id} is already trusted as ${sameId.name}`,
        { problems: [{ field: "public_key", message: `already trusted as ${sameId.name}` }] },
      );
    }
    await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, key.name + SUFFIX);
    const tmp = `${path}.tmp-${crypto.randomUUID()}`;
    try {
      await Deno.writeTextFile(tmp, JSON.stringify(key, null, 2) + "\n", { mode: 0o644 });
      await Deno.rename(tmp, path);
    } catch (error) {
      await Deno.remove(tmp).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
      throw error;
    }
    return key;
  }

  /** Removes a key; not_found when there is none. */
  async remove(name: string): Promise<TrustedKey> {
    const key = await this.get(name);
    if (!key) throw new VolantError("not_found", `key ${name} not found`);
    await Deno.remove(join(this.dir, name + SUFFIX));
    return key;
  }
}
