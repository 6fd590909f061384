/**
 * The SQLite state store: `<state>/volant.db` (WAL, foreign keys, busy
 * timeout), migrations applied at open.
 *
 * @example
 * ```ts
 * import { openStore } from "./mod.ts";
 * const store = openStore({ stateDir: "/var/lib/volant" });
 * store.tx(() => store.plugins.list());
 * store.close();
 * ```
 *
 * @module
 */
import { SqliteStore } from "./sqlite_store.ts";
import type { OpenOptions } from "./db.ts";

export { SqliteStore } from "./sqlite_store.ts";
export { migrate, openDatabase } from "./db.ts";
export { MIGRATIONS } from "./migrations/mod.ts";

/** The database file inside a state dir. */
export function databasePath(stateDir: string): string {
  return `${stateDir.replace(/\/+$/, "")}/volant.db`;
}

/** Opens (creating the state dir if needed) `<stateDir>/volant.db`, or an explicit `path`. */
export function openStore(
  where: { stateDir: string } | { path: string },
  opts: OpenOptions = {},
): SqliteStore {
  if ("stateDir" in where) {
    Deno.mkdirSync(where.stateDir, { recursive: true, mode: 0o700 });
    return new SqliteStore(databasePath(where.stateDir), opts);
  }
  return new SqliteStore(where.path, opts);
}
