/**
 * The StateStore port over node:sqlite. One connection, prepared statements
 * cached per SQL text, `tx()` = BEGIN IMMEDIATE (outer) or a SAVEPOINT
 * (nested). Constraint violations surface as `conflict` errors.
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import { VolantError } from "../errors.ts";
import type {
  ArtifactRecord,
  PluginRecord,
  VmConfig,
  VmListQuery,
  VolantEvent,
} from "../manifest/api.ts";
import type { EventFilter } from "../service/contracts.ts";
import type {
  ConfigRepo,
  EventRepo,
  LeaseRepo,
  NewVmRow,
  PluginRepo,
  StateStore,
  VmPatch,
  VmRepo,
  VmRow,
} from "../service/store_port.ts";
import { openDatabase, type OpenOptions } from "./db.ts";
import { SqliteDeployments } from "./deployment_repo.ts";

type Row = Record<string, SQLInputValue>;

/** True for SQLite constraint errors (UNIQUE, FOREIGN KEY, CHECK). */
function isConstraint(error: unknown): boolean {
  return error instanceof Error && /constraint/i.test(error.message);
}

/** More distinct SQL texts than the store ever builds. */
const MAX_CACHED_STATEMENTS = 256;

class Statements {
  readonly #db: DatabaseSync;
  readonly #cache = new Map<string, StatementSync>();
  /** Bumped by every write that can change a VM listing (and by rollbacks). */
  generation = 0;
  /** Transaction depth of the store (reads inside a transaction are not cached). */
  depth = 0;
  constructor(db: DatabaseSync) {
    this.#db = db;
  }
  /** Changes when another connection commits (PRAGMA data_version). */
  dataVersion(): number {
    return Number((this.get("PRAGMA data_version").get() as Row).data_version);
  }
  get(sql: string): StatementSync {
    let s = this.#cache.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      // Every SQL text is one of a fixed few; the cap is a backstop against growth.
      if (this.#cache.size >= MAX_CACHED_STATEMENTS) this.#cache.clear();
      this.#cache.set(sql, s);
    }
    return s;
  }
}

export class SqliteStore implements StateStore {
  readonly path: string;
  readonly db: DatabaseSync;
  readonly plugins: PluginRepo;
  readonly vms: VmRepo;
  readonly leases: LeaseRepo;
  readonly configs: ConfigRepo;
  readonly events: EventRepo;
  readonly deployments: SqliteDeployments;
  readonly #st: Statements;

  constructor(path: string, opts: OpenOptions = {}) {
    this.path = path;
    this.db = openDatabase(path, opts);
    const st = this.#st = new Statements(this.db);
    this.plugins = new SqlitePlugins(st, this);
    this.vms = new SqliteVms(st);
    this.leases = new SqliteLeases(st);
    this.configs = new SqliteConfigs(st);
    this.events = new SqliteEvents(st);
    this.deployments = new SqliteDeployments(this.db);
  }

  tx<T>(fn: () => T): T {
    const st = this.#st;
    const outer = st.depth === 0;
    const savepoint = `sp${st.depth}`;
    this.db.exec(outer ? "BEGIN IMMEDIATE" : `SAVEPOINT ${savepoint}`);
    st.depth++;
    try {
      const result = fn();
      if (result instanceof Promise) {
        throw new Error("store.tx callback must be synchronous (it returned a Promise)");
      }
      st.depth--;
      this.db.exec(outer ? "COMMIT" : `RELEASE ${savepoint}`);
      return result;
    } catch (error) {
      st.depth--;
      st.generation++;
      this.db.exec(outer ? "ROLLBACK" : `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}`);
      throw error;
    }
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }
}

// ---------------------------------------------------------------- plugins

class SqlitePlugins implements PluginRepo {
  readonly #st: Statements;
  readonly #store: SqliteStore;
  constructor(st: Statements, store: SqliteStore) {
    this.#st = st;
    this.#store = store;
  }

  #artifacts(plugin: string): ArtifactRecord[] {
    const rows = this.#st.get(
      "SELECT * FROM artifacts WHERE plugin = ? ORDER BY rowid",
    ).all(plugin) as Row[];
    return rows.map((r) => ({
      kind: r.kind as ArtifactRecord["kind"],
      name: String(r.name),
      url: String(r.url),
      sha256: String(r.sha256),
      verified: r.verified === 1,
      size: Number(r.size),
      path: String(r.path),
    }));
  }

  #record(r: Row): PluginRecord {
    return {
      name: String(r.name),
      version: String(r.version),
      runtime: String(r.runtime),
      enabled: r.enabled === 1,
      allow_unverified: r.allow_unverified === 1,
      source: String(r.source),
      manifest: JSON.parse(String(r.manifest_json)),
      artifacts: this.#artifacts(String(r.name)),
      signature: r.signature_json == null ? null : JSON.parse(String(r.signature_json)),
      installed_at: String(r.installed_at),
      updated_at: String(r.updated_at),
    };
  }

  get(name: string): PluginRecord | undefined {
    const r = this.#st.get("SELECT * FROM plugins WHERE name = ?").get(name) as Row | undefined;
    return r ? this.#record(r) : undefined;
  }

  list(): PluginRecord[] {
    return (this.#st.get("SELECT * FROM plugins ORDER BY name").all() as Row[]).map((r) =>
      this.#record(r)
    );
  }

  put(p: PluginRecord): void {
    this.#store.tx(() => {
      this.#st.get(
        `INSERT INTO plugins (name, version, runtime, enabled, allow_unverified, source,
           manifest_json, installed_at, updated_at, signature_json)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(name) DO UPDATE SET version = excluded.version, runtime = excluded.runtime,
           enabled = excluded.enabled, allow_unverified = excluded.allow_unverified,
           source = excluded.source, manifest_json = excluded.manifest_json,
           updated_at = excluded.updated_at, signature_json = excluded.signature_json`,
      ).run(
        p.name,
        p.version,
        p.runtime,
        p.enabled ? 1 : 0,
        p.allow_unverified ? 1 : 0,
        p.source,
        JSON.stringify(p.manifest),
        p.installed_at,
        p.updated_at,
        p.signature ? JSON.stringify(p.signature) : null,
      );
      this.#st.get("DELETE FROM artifacts WHERE plugin = ?").run(p.name);
      const insert = this.#st.get(
        `INSERT INTO artifacts (plugin, name, kind, url, sha256, verified, size, path)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const a of p.artifacts) {
        insert.run(p.name, a.name, a.kind, a.url, a.sha256, a.verified ? 1 : 0, a.size, a.path);
      }
    });
  }

  setEnabled(name: string, enabled: boolean, now: string): void {
    this.#st.get("UPDATE plugins SET enabled = ?, updated_at = ? WHERE name = ?").run(
      enabled ? 1 : 0,
      now,
      name,
    );
  }

  delete(name: string): void {
    this.#st.get("DELETE FROM plugins WHERE name = ?").run(name);
  }

  referencedArtifacts(): Set<string> {
    const rows = this.#st.get("SELECT DISTINCT path FROM artifacts").all() as Row[];
    return new Set(rows.map((r) => String(r.path)));
  }
}

// ---------------------------------------------------------------- VMs

const VM_SORT_SQL: Record<VmListQuery["sort"], string> = {
  name: "name",
  state: "state",
  created_at: "created_at",
  updated_at: "updated_at",
  ip: "(SELECT ip FROM ip_leases WHERE vm_id = vms.id)",
  id: "id",
};

function vmRow(r: Row): VmRow {
  const row: VmRow = {
    id: Number(r.id),
    name: String(r.name),
    state: r.state as VmRow["state"],
    desired: r.desired as VmRow["desired"],
    plugin: String(r.plugin),
    runtime: String(r.runtime),
    ip: String(r.ip),
    mac: String(r.mac),
    cpu_cores: Number(r.cpu_cores),
    memory_mb: Number(r.memory_mb),
    tap: String(r.tap),
    machine: r.machine as VmRow["machine"],
    restart_policy: r.restart_policy as VmRow["restart_policy"],
    health: r.health as VmRow["health"],
    kernel_cmdline: String(r.kernel_cmdline),
    restarts: Number(r.restarts),
    artifacts: JSON.parse(String(r.artifacts_json)),
    created_at: String(r.created_at),
    updated_at: String(r.updated_at),
  };
  if (r.pid !== null) row.pid = Number(r.pid);
  if (r.pid_start_time !== null) row.pid_start_time = String(r.pid_start_time);
  if (r.serial_socket !== null) row.serial_socket = String(r.serial_socket);
  if (r.last_error !== null) row.last_error = String(r.last_error);
  return row;
}

const PATCHABLE = new Set([
  "state",
  "pid",
  "pid_start_time",
  "health",
  "serial_socket",
  "restarts",
  "last_error",
  "cpu_cores",
  "memory_mb",
  "kernel_cmdline",
  "runtime",
  "machine",
  "restart_policy",
  "desired",
]);

class SqliteVms implements VmRepo {
  readonly #st: Statements;
  readonly #cache = new Map<string, { items: VmRow[]; total: number }>();
  #cacheGen = -1;
  #cacheDv = -1;
  constructor(st: Statements) {
    this.#st = st;
  }

  insert(v: NewVmRow, now: string): VmRow {
    this.#st.generation++;
    let id: number;
    try {
      const res = this.#st.get(
        `INSERT INTO vms (name, state, desired, plugin, runtime, ip, mac, cpu_cores, memory_mb, pid,
           pid_start_time, machine, restart_policy, health, kernel_cmdline, serial_socket,
           restarts, last_error, artifacts_json, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        v.name,
        v.state,
        v.desired,
        v.plugin,
        v.runtime,
        v.ip,
        v.mac,
        v.cpu_cores,
        v.memory_mb,
        v.pid ?? null,
        v.pid_start_time ?? null,
        v.machine,
        v.restart_policy,
        v.health,
        v.kernel_cmdline,
        v.serial_socket ?? null,
        v.restarts,
        v.last_error ?? null,
        JSON.stringify(v.artifacts),
        now,
        now,
      );
      id = Number(res.lastInsertRowid);
    } catch (cause) {
      if (isConstraint(cause) && /vms\.name/.test(String(cause))) {
        throw new VolantError("conflict", `vm ${v.name} already exists`, {
          problems: [{ field: "name", message: `vm ${v.name} already exists` }],
          cause,
        });
      }
      throw cause;
    }
    this.#st.get("UPDATE vms SET tap = ? WHERE id = ?").run(`vtap${id}`, id);
    return vmRow(this.#st.get("SELECT * FROM vms WHERE id = ?").get(id) as Row);
  }

  get(name: string): VmRow | undefined {
    const r = this.#st.get("SELECT * FROM vms WHERE name = ?").get(name) as Row | undefined;
    return r ? vmRow(r) : undefined;
  }

  update(name: string, patch: VmPatch, now: string): VmRow {
    this.#st.generation++;
    const keys = Object.keys(patch).filter((k) =>
      PATCHABLE.has(k) && (patch as Record<string, unknown>)[k] !== undefined
    );
    const sets = [...keys.map((k) => `${k} = ?`), "updated_at = ?"].join(", ");
    const values = keys.map((k) => (patch as Record<string, SQLInputValue>)[k] ?? null);
    const res = this.#st.get(`UPDATE vms SET ${sets} WHERE name = ?`).run(...values, now, name);
    if (Number(res.changes) === 0) throw new VolantError("not_found", `vm ${name} not found`);
    return this.get(name)!;
  }

  delete(name: string): void {
    this.#st.generation++;
    this.#st.get("DELETE FROM vms WHERE name = ?").run(name);
  }

  /**
   * Listing is the API's hottest read and node:sqlite's row objects are
   * costly, so results are cached until this connection writes a VM or lease
   * (generation) or another connection commits (data_version).
   */
  list(q: VmListQuery): { items: VmRow[]; total: number } {
    const st = this.#st;
    if (st.depth > 0) return this.#query(q);
    const dv = st.dataVersion();
    if (this.#cacheGen !== st.generation || this.#cacheDv !== dv) {
      this.#cache.clear();
      this.#cacheGen = st.generation;
      this.#cacheDv = dv;
    }
    const key = JSON.stringify([q.state, q.plugin, q.q, q.limit, q.offset, q.sort, q.order]);
    const hit = this.#cache.get(key);
    if (hit) return { items: hit.items.map((r) => ({ ...r })), total: hit.total };
    const result = this.#query(q);
    if (this.#cache.size >= 64) this.#cache.clear();
    this.#cache.set(key, result);
    return { items: result.items.map((r) => ({ ...r })), total: result.total };
  }

  #query(q: VmListQuery): { items: VmRow[]; total: number } {
    const where: string[] = [];
    const args: SQLInputValue[] = [];
    if (q.state) {
      // One SQL text whatever the list's length: the statement cache stays bounded.
      where.push("vms.state IN (SELECT value FROM json_each(?))");
      args.push(JSON.stringify([...new Set(q.state.split(","))]));
    }
    if (q.plugin) {
      where.push("plugin = ?");
      args.push(q.plugin);
    }
    if (q.q) {
      const like = `%${q.q.toLowerCase().replace(/[\\%_]/g, (c) => "\\" + c)}%`;
      where.push(
        "(lower(name) LIKE ? ESCAPE '\\' OR ip LIKE ? ESCAPE '\\' OR lower(plugin) LIKE ? ESCAPE '\\')",
      );
      args.push(like, like, like);
    }
    const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
    const total = Number(
      (this.#st.get(`SELECT COUNT(*) AS n FROM vms ${clause}`).get(...args) as Row).n,
    );
    const dir = q.order === "desc" ? "DESC" : "ASC";
    const rows = this.#st.get(
      `SELECT * FROM vms ${clause} ORDER BY ${
        VM_SORT_SQL[q.sort]
      } ${dir}, id ${dir} LIMIT ? OFFSET ?`,
    ).all(...args, q.limit, q.offset) as Row[];
    return { items: rows.map(vmRow), total };
  }

  inStates(states: readonly string[]): VmRow[] {
    if (states.length === 0) return [];
    const rows = this.#st.get(
      "SELECT * FROM vms WHERE vms.state IN (SELECT value FROM json_each(?)) ORDER BY id",
    ).all(JSON.stringify([...new Set(states)])) as Row[];
    return rows.map(vmRow);
  }

  countByPlugin(plugin: string): number {
    return Number(
      (this.#st.get("SELECT COUNT(*) AS n FROM vms WHERE plugin = ?").get(plugin) as Row).n,
    );
  }

  pinnedArtifacts(): Set<string> {
    const out = new Set<string>();
    const rows = this.#st.get("SELECT artifacts_json FROM vms WHERE artifacts_json != '[]'")
      .all() as Row[];
    for (const r of rows) {
      for (const a of JSON.parse(String(r.artifacts_json)) as { path: string }[]) out.add(a.path);
    }
    return out;
  }

  countByState(): Record<string, number> {
    const rows = this.#st.get("SELECT state, COUNT(*) AS n FROM vms GROUP BY state").all() as Row[];
    return Object.fromEntries(rows.map((r) => [String(r.state), Number(r.n)]));
  }
}

// ---------------------------------------------------------------- leases

class SqliteLeases implements LeaseRepo {
  readonly #st: Statements;
  constructor(st: Statements) {
    this.#st = st;
  }
  leased(): number[] {
    return (this.#st.get("SELECT ip FROM ip_leases ORDER BY ip").all() as Row[]).map((r) =>
      Number(r.ip)
    );
  }
  lowestFree(start: number, end: number): number | null {
    // The first address of the range, or the first address after a lease whose successor is
    // free: one indexed query instead of reading every lease into JS.
    const row = this.#st.get(
      `SELECT ip FROM (
         SELECT ?1 AS ip WHERE NOT EXISTS (SELECT 1 FROM ip_leases WHERE ip = ?1)
         UNION ALL
         SELECT l.ip + 1 FROM ip_leases l
          WHERE l.ip >= ?1 AND l.ip < ?2
            AND NOT EXISTS (SELECT 1 FROM ip_leases n WHERE n.ip = l.ip + 1)
       ) ORDER BY ip LIMIT 1`,
    ).get(start, end) as Row | undefined;
    return row ? Number(row.ip) : null;
  }

  insert(ip: number, vmId: number, now: string): void {
    this.#st.generation++;
    try {
      this.#st.get("INSERT INTO ip_leases (ip, vm_id, leased_at) VALUES (?, ?, ?)").run(
        ip,
        vmId,
        now,
      );
    } catch (cause) {
      if (isConstraint(cause)) {
        throw new VolantError("conflict", `address or VM ${vmId} already has a lease`, { cause });
      }
      throw cause;
    }
  }
  releaseVm(vmId: number): void {
    this.#st.generation++;
    this.#st.get("DELETE FROM ip_leases WHERE vm_id = ?").run(vmId);
  }
  count(): number {
    return Number((this.#st.get("SELECT COUNT(*) AS n FROM ip_leases").get() as Row).n);
  }
}

// ---------------------------------------------------------------- configs

class SqliteConfigs implements ConfigRepo {
  readonly #st: Statements;
  constructor(st: Statements) {
    this.#st = st;
  }
  get(vmId: number) {
    const r = this.#st.get("SELECT * FROM vm_configs WHERE vm_id = ?").get(vmId) as
      | Row
      | undefined;
    if (!r) return undefined;
    return {
      version: Number(r.version),
      updated_at: String(r.updated_at),
      config: JSON.parse(String(r.config_json)) as VmConfig,
    };
  }
  put(vmId: number, config: VmConfig, now: string): number {
    const prev = this.#st.get("SELECT version FROM vm_configs WHERE vm_id = ?").get(vmId) as
      | Row
      | undefined;
    const version = prev ? Number(prev.version) + 1 : 1;
    const json = JSON.stringify(config);
    this.#st.get(
      `INSERT INTO vm_configs (vm_id, version, config_json, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT(vm_id) DO UPDATE SET version = excluded.version,
         config_json = excluded.config_json, updated_at = excluded.updated_at`,
    ).run(vmId, version, json, now);
    this.#st.get(
      "INSERT INTO vm_config_history (vm_id, version, config_json, updated_at) VALUES (?, ?, ?, ?)",
    ).run(vmId, version, json, now);
    return version;
  }
  history(vmId: number, limit?: number) {
    const rows = this.#st.get(
      "SELECT * FROM vm_config_history WHERE vm_id = ? ORDER BY version DESC LIMIT ?",
    ).all(vmId, limit ?? -1) as Row[];
    return rows.map((r) => ({
      id: Number(r.id),
      version: Number(r.version),
      updated_at: String(r.updated_at),
      config: JSON.parse(String(r.config_json)) as VmConfig,
    }));
  }
}

// ---------------------------------------------------------------- events

/** SQL for an event filter; `vm.*` matches a family. */
function eventWhere(filter: EventFilter | undefined): { sql: string; args: SQLInputValue[] } {
  const parts: string[] = [];
  const args: SQLInputValue[] = [];
  if (filter?.types && filter.types.length > 0) {
    // Two JSON-array parameters instead of one placeholder per entry: one SQL
    // text for any list, so neither the statement cache nor the expression tree grows.
    const exact = new Set<string>();
    const prefixes = new Set<string>();
    for (const t of filter.types) {
      if (t.endsWith(".*")) prefixes.add(t.slice(0, -1));
      else exact.add(t);
    }
    parts.push(
      "(events.type IN (SELECT value FROM json_each(?)) OR EXISTS (SELECT 1 FROM json_each(?) AS p WHERE substr(events.type, 1, length(p.value)) = p.value))",
    );
    args.push(JSON.stringify([...exact]), JSON.stringify([...prefixes]));
  }
  if (filter?.resource) {
    parts.push("resource = ?");
    args.push(filter.resource);
  }
  if (filter?.resourceType) {
    parts.push("resource_type = ?");
    args.push(filter.resourceType);
  }
  return { sql: parts.map((p) => ` AND ${p}`).join(""), args };
}

class SqliteEvents implements EventRepo {
  readonly #st: Statements;
  constructor(st: Statements) {
    this.#st = st;
  }
  append(e: Parameters<EventRepo["append"]>[0]): number {
    const res = this.#st.get(
      "INSERT INTO events (type, resource_type, resource, time, data_json) VALUES (?, ?, ?, ?, ?)",
    ).run(e.type, e.resource_type, e.resource, e.time, JSON.stringify(e.data ?? {}));
    return Number(res.lastInsertRowid);
  }
  after(id: number, filter: EventFilter | undefined, limit: number): VolantEvent[] {
    const w = eventWhere(filter);
    const rows = this.#st.get(
      `SELECT * FROM events WHERE id > ?${w.sql} ORDER BY id LIMIT ?`,
    ).all(id, ...w.args, limit) as Row[];
    return rows.map((r) => ({
      id: Number(r.id),
      type: r.type as VolantEvent["type"],
      resource_type: r.resource_type as VolantEvent["resource_type"],
      resource: String(r.resource),
      time: String(r.time),
      data: JSON.parse(String(r.data_json)),
    }));
  }
  lastId(): number {
    const r = this.#st.get("SELECT MAX(id) AS id FROM events").get() as Row;
    return r.id === null ? 0 : Number(r.id);
  }
  prune(keep: number): number {
    // AUTOINCREMENT keeps ids increasing after deletes, so resume ids stay valid.
    const res = this.#st.get("DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?")
      .run(keep);
    return Number(res.changes);
  }
}
