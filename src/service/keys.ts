/**
 * Trusted signing keys: list, show, add, remove (over the file store in
 * trusted_keys.ts). Adding or removing a key publishes `key.added` /
 * `key.removed` so trust changes show up in the event log.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { AddKeyBody, TrustedKey } from "../manifest/signing.ts";
import type { ServiceContext } from "./context.ts";
import type { KeyServiceApi } from "./contracts.ts";
import { KeyedMutex } from "./locks.ts";
import { TrustedKeyStore } from "./trusted_keys.ts";

export class KeyService implements KeyServiceApi {
  readonly #ctx: ServiceContext;
  readonly #lock = new KeyedMutex();
  readonly store: TrustedKeyStore;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
    this.store = new TrustedKeyStore(ctx.options.stateDir, (file, reason) => {
      ctx.log.warn("ignoring invalid trusted key file", { file, reason });
    });
  }

  list(): Promise<TrustedKey[]> {
    return this.store.list();
  }

  async get(name: string): Promise<TrustedKey> {
    const key = await this.store.get(name);
    if (!key) throw new VolantError("not_found", `key ${name} not found`);
    return key;
  }

  add(body: AddKeyBody): Promise<TrustedKey> {
    // One writer at a time, so two adds cannot both pass the duplicate checks.
    return this.#lock.run("keys", async () => {
      const key = await this.store.add(body, this.#ctx.now().toISOString());
      this.#ctx.events.publish("key.added", "key", key.name, {
        key_id: key.key_id,
        plugins: key.plugins,
      });
      return key;
    });
  }

  remove(name: string): Promise<void> {
    return this.#lock.run("keys", async () => {
      const key = await this.store.remove(name);
      this.#ctx.events.publish("key.removed", "key", key.name, { key_id: key.key_id });
    });
  }
}
