/**
 * Opens the SQLite file with the pragmas Volant relies on and applies pending
 * migrations, each in its own transaction, recorded in schema_migrations.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { VolantError } from "../errors.ts";
import { type Migration, MIGRATIONS } from "./migrations/mod.ts";

export interface OpenOptions {
  /** Milliseconds a writer waits for a lock held by another connection (default 5000). */
  busyTimeoutMs?: number;
  /** Override for tests. */
  migrations?: readonly Migration[];
}

export function openDatabase(path: string, opts: OpenOptions = {}): DatabaseSync {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
  } catch (cause) {
    throw new VolantError("unavailable", `cannot open state database ${path}: ${String(cause)}`, {
      cause,
    });
  }
  try {
    db.exec(`PRAGMA busy_timeout = ${Math.trunc(opts.busyTimeoutMs ?? 5000)}`);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA foreign_keys = ON");
    migrate(db, opts.migrations ?? MIGRATIONS);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** Applies migrations newer than the recorded version; returns the versions applied. */
export function migrate(db: DatabaseSync, migrations: readonly Migration[]): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const row = db.prepare("SELECT MAX(version) AS v FROM schema_migrations").get() as
    | { v: number | null }
    | undefined;
  const current = row?.v ?? 0;
  const known = migrations.at(-1)?.version ?? 0;
  if (current > known) {
    throw new VolantError(
      "unavailable",
      `state database schema is version ${current}, newer than this volantd knows (${known}); upgrade volantd`,
    );
  }
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(m.sql);
      db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
        .run(m.version, m.name, new Date().toISOString());
      db.exec("COMMIT");
    } catch (cause) {
      db.exec("ROLLBACK");
      throw new VolantError(
        "internal",
        `migration ${String(m.version).padStart(4, "0")}_${m.name} failed: ${String(cause)}`,
        { cause },
      );
    }
    applied.push(m.version);
  }
  return applied;
}
