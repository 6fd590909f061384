/**
 * Deployments over node:sqlite: the `deployments` row (desired state and the
 * controller's bookkeeping), its revision history, and the replica table.
 * One column list, used by every read.
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import { VolantError } from "../errors.ts";
import type { Condition, DeploymentConfig } from "../manifest/deployment.ts";
import type {
  DeploymentPatch,
  DeploymentRepo,
  DeploymentRow,
  ReplicaRow,
} from "../service/deployments/repo_port.ts";

type Row = Record<string, SQLInputValue>;

const COLUMNS = "id, name, replicas, config_json, revision, stable_revision, failed_revision, " +
  "max_unavailable, max_surge, deleting, conditions_json, created_at, updated_at";

function fromRow(r: Row): DeploymentRow {
  return {
    id: Number(r.id),
    name: String(r.name),
    replicas: Number(r.replicas),
    config: JSON.parse(String(r.config_json)) as DeploymentConfig,
    revision: Number(r.revision),
    stable_revision: Number(r.stable_revision),
    failed_revision: r.failed_revision === null ? null : Number(r.failed_revision),
    strategy: { max_unavailable: Number(r.max_unavailable), max_surge: Number(r.max_surge) },
    deleting: Number(r.deleting) === 1,
    conditions: JSON.parse(String(r.conditions_json)) as Condition[],
    created_at: String(r.created_at),
    updated_at: String(r.updated_at),
  };
}

function replicaFromRow(r: Row): ReplicaRow {
  return {
    vm: String(r.vm),
    deployment_id: Number(r.deployment_id),
    ordinal: Number(r.ordinal),
    revision: Number(r.revision),
    created_at: String(r.created_at),
  };
}

export class SqliteDeployments implements DeploymentRepo {
  readonly #db: DatabaseSync;
  readonly #cache = new Map<string, StatementSync>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  #st(sql: string): StatementSync {
    let s = this.#cache.get(sql);
    if (!s) this.#cache.set(sql, s = this.#db.prepare(sql));
    return s;
  }

  #must(name: string): DeploymentRow {
    const d = this.get(name);
    if (!d) throw new VolantError("not_found", `deployment ${name} not found`);
    return d;
  }

  insert(
    d: Parameters<DeploymentRepo["insert"]>[0],
    now: string,
  ): DeploymentRow {
    if (this.get(d.name)) {
      throw new VolantError("conflict", `deployment ${d.name} already exists`, {
        problems: [{ field: "name", message: `deployment ${d.name} already exists` }],
      });
    }
    const config = JSON.stringify(d.config);
    const r = this.#st(
      `INSERT INTO deployments (name, replicas, config_json, max_unavailable, max_surge,
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    ).get(
      d.name,
      d.replicas,
      config,
      d.strategy.max_unavailable,
      d.strategy.max_surge,
      now,
      now,
    ) as Row;
    this.#st(
      "INSERT INTO deployment_revisions (deployment_id, revision, config_json, created_at) VALUES (?, 1, ?, ?)",
    ).run(Number(r.id), config, now);
    return this.#must(d.name);
  }

  get(name: string): DeploymentRow | undefined {
    const r = this.#st(`SELECT ${COLUMNS} FROM deployments WHERE name = ?`).get(name) as
      | Row
      | undefined;
    return r ? fromRow(r) : undefined;
  }

  list(): DeploymentRow[] {
    return (this.#st(`SELECT ${COLUMNS} FROM deployments ORDER BY name`).all() as Row[])
      .map(fromRow);
  }

  update(name: string, patch: DeploymentPatch, now: string): DeploymentRow {
    const sets: string[] = [];
    const values: SQLInputValue[] = [];
    const set = (col: string, v: SQLInputValue) => {
      sets.push(`${col} = ?`);
      values.push(v);
    };
    if (patch.replicas !== undefined) set("replicas", patch.replicas);
    if (patch.strategy) {
      set("max_unavailable", patch.strategy.max_unavailable);
      set("max_surge", patch.strategy.max_surge);
    }
    if (patch.deleting !== undefined) set("deleting", patch.deleting ? 1 : 0);
    if (patch.conditions) set("conditions_json", JSON.stringify(patch.conditions));
    if (patch.stable_revision !== undefined) set("stable_revision", patch.stable_revision);
    if (patch.failed_revision !== undefined) set("failed_revision", patch.failed_revision);
    set("updated_at", now);
    const res = this.#st(`UPDATE deployments SET ${sets.join(", ")} WHERE name = ?`)
      .run(...values, name);
    if (Number(res.changes) === 0) {
      throw new VolantError("not_found", `deployment ${name} not found`);
    }
    return this.#must(name);
  }

  newRevision(name: string, config: DeploymentConfig, now: string): DeploymentRow {
    const d = this.#must(name);
    const revision = d.revision + 1;
    const json = JSON.stringify(config);
    this.#st(
      "INSERT INTO deployment_revisions (deployment_id, revision, config_json, created_at) VALUES (?, ?, ?, ?)",
    ).run(d.id, revision, json, now);
    this.#st(
      `UPDATE deployments SET revision = ?, config_json = ?, failed_revision = NULL, updated_at = ?
       WHERE id = ?`,
    ).run(revision, json, now, d.id);
    return this.#must(name);
  }

  revisions(name: string) {
    const d = this.#must(name);
    return (this.#st(
      `SELECT revision, config_json, created_at FROM deployment_revisions
       WHERE deployment_id = ? ORDER BY revision DESC`,
    ).all(d.id) as Row[]).map((r) => ({
      revision: Number(r.revision),
      config: JSON.parse(String(r.config_json)) as DeploymentConfig,
      created_at: String(r.created_at),
    }));
  }

  revisionConfig(deploymentId: number, revision: number): DeploymentConfig | undefined {
    const r = this.#st(
      "SELECT config_json FROM deployment_revisions WHERE deployment_id = ? AND revision = ?",
    ).get(deploymentId, revision) as Row | undefined;
    return r ? JSON.parse(String(r.config_json)) as DeploymentConfig : undefined;
  }

  delete(name: string): void {
    this.#st("DELETE FROM deployments WHERE name = ?").run(name);
  }

  replicas(deploymentId: number): ReplicaRow[] {
    return (this.#st(
      `SELECT vm, deployment_id, ordinal, revision, created_at FROM deployment_replicas
       WHERE deployment_id = ? ORDER BY ordinal`,
    ).all(deploymentId) as Row[]).map(replicaFromRow);
  }

  addReplica(r: Omit<ReplicaRow, "created_at">, now: string): void {
    try {
      this.#st(
        `INSERT INTO deployment_replicas (vm, deployment_id, ordinal, revision, created_at)
         VALUES (?, ?, ?, ?, ?)`,
      ).run(r.vm, r.deployment_id, r.ordinal, r.revision, now);
    } catch (error) {
      if (error instanceof Error && /constraint/i.test(error.message)) {
        throw new VolantError("conflict", `replica ${r.vm} is already recorded`, { cause: error });
      }
      throw error;
    }
  }

  removeReplica(vm: string): void {
    this.#st("DELETE FROM deployment_replicas WHERE vm = ?").run(vm);
  }

  relabelReplicas(deploymentId: number, from: readonly number[], to: number): void {
    const st = this.#st(
      "UPDATE deployment_replicas SET revision = ? WHERE deployment_id = ? AND revision = ?",
    );
    for (const r of from) st.run(to, deploymentId, r);
  }

  ownerOf(vm: string): string | undefined {
    const r = this.#st(
      `SELECT d.name AS name FROM deployment_replicas r JOIN deployments d ON d.id = r.deployment_id
       WHERE r.vm = ?`,
    ).get(vm) as Row | undefined;
    return r ? String(r.name) : undefined;
  }
}
