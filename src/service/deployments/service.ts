/**
 * Deployments as the API sees them: create, list, show, scale, update the
 * config (a new revision that rolls), roll back, delete. Every call checks
 * its input completely, writes the desired state in one transaction, and
 * wakes the controller; the controller does the work.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import { CreateVmBodySchema, type VmRecord } from "../../manifest/api.ts";
import {
  type CreateDeploymentBody,
  CreateDeploymentBodySchema,
  type DeploymentConfig,
  DeploymentEventData,
  type DeploymentEventType,
  type DeploymentRecord,
  type PatchDeploymentBody,
  PatchDeploymentBodySchema,
  StrategySchema,
} from "../../manifest/deployment.ts";
import { parseOrThrow } from "../../manifest/mod.ts";
import type { DeploymentServiceApi, EventBusApi } from "../contracts.ts";
import type { StateStore } from "../store_port.ts";
import type { DeploymentController } from "./controller.ts";
import type { ReplicaVms } from "./ports.ts";
import type { DeploymentRow } from "./repo_port.ts";
import { replicaBody, sameConfig } from "./replica_spec.ts";
import { deploymentRecord } from "./status.ts";

export interface DeploymentServiceDeps {
  store: StateStore;
  vms: ReplicaVms;
  events: Pick<EventBusApi, "publish">;
  controller: DeploymentController;
  now: () => Date;
}

export class DeploymentService implements DeploymentServiceApi {
  readonly #d: DeploymentServiceDeps;

  constructor(deps: DeploymentServiceDeps) {
    this.#d = deps;
  }

  get #repo() {
    return this.#d.store.deployments;
  }

  #row(name: string): DeploymentRow {
    const d = this.#repo.get(name);
    if (!d) throw new VolantError("not_found", `deployment ${name} not found`);
    return d;
  }

  async #record(d: DeploymentRow): Promise<DeploymentRecord> {
    const observed = await this.#d.controller.observeAll(d);
    const vms = new Map<string, VmRecord>();
    for (const o of observed) {
      const vm = this.#d.vms.find(o.name);
      if (vm) vms.set(o.name, vm);
    }
    return deploymentRecord(d, observed, vms);
  }

  #publish(type: DeploymentEventType, name: string, data: Record<string, unknown>): void {
    const parsed = DeploymentEventData[type].parse(data) as Record<string, unknown>;
    this.#d.events.publish(type, "deployment", name, parsed);
  }

  /** The plugin must be installed and enabled, and a replica's VM body must be valid. */
  #checkConfig(name: string, config: DeploymentConfig): void {
    const plugin = this.#d.store.plugins.get(config.plugin);
    if (!plugin) {
      throw new VolantError("not_found", `plugin ${config.plugin} is not installed`, {
        problems: [{ field: "config.plugin", message: `plugin ${config.plugin} is not installed` }],
      });
    }
    if (!plugin.enabled) {
      throw new VolantError("conflict", `plugin ${config.plugin} is disabled`, {
        problems: [{ field: "config.plugin", message: `plugin ${config.plugin} is disabled` }],
      });
    }
    if (config.env && !plugin.manifest.workload) {
      throw new VolantError(
        "invalid_input",
        `plugin ${config.plugin} has no workload to give env`,
        {
          problems: [{ field: "config.env", message: "the plugin has no workload" }],
        },
      );
    }
    const body = replicaBody(`${name}-1`, config);
    parseOrThrow(CreateVmBodySchema, body, "replica", "config");
  }

  /**
   * A new revision; replicas of an earlier revision with the same config
   * (a rollback, or an update back to an old config) count as current, so
   * they are kept rather than rolled.
   */
  #newRevision(name: string, config: DeploymentConfig, time: string): DeploymentRow {
    const d = this.#repo.newRevision(name, config, time);
    const same = this.#repo.revisions(name)
      .filter((r) => r.revision !== d.revision && sameConfig(r.config, config))
      .map((r) => r.revision);
    if (same.length > 0) this.#repo.relabelReplicas(d.id, same, d.revision);
    return d;
  }

  list(): Promise<DeploymentRecord[]> {
    return Promise.all(this.#repo.list().map((d) => this.#record(d)));
  }

  get(name: string): Promise<DeploymentRecord> {
    return this.#record(this.#row(name));
  }

  async create(input: CreateDeploymentBody): Promise<DeploymentRecord> {
    const body = parseOrThrow(CreateDeploymentBodySchema, input, "deployment");
    this.#checkConfig(body.name, body.config);
    const strategy = body.strategy ?? StrategySchema.parse({});
    const { store } = this.#d;
    const row = store.tx(() =>
      this.#repo.insert({
        name: body.name,
        replicas: body.replicas,
        config: body.config,
        strategy,
      }, this.#d.now().toISOString())
    );
    this.#publish("deployment.created", row.name, {
      replicas: row.replicas,
      plugin: row.config.plugin,
      revision: row.revision,
    });
    this.#d.controller.kick(row.name);
    return await this.#record(row);
  }

  async patch(name: string, input: PatchDeploymentBody): Promise<DeploymentRecord> {
    const body = parseOrThrow(PatchDeploymentBodySchema, input, "deployment change");
    const current = this.#row(name);
    if (current.deleting) {
      throw new VolantError("conflict", `deployment ${name} is being deleted`);
    }
    if (body.config) this.#checkConfig(name, body.config);
    const time = this.#d.now().toISOString();
    const { store } = this.#d;
    let configChanged = false;
    const row = store.tx(() => {
      let d = this.#row(name);
      if (body.replicas !== undefined || body.strategy) {
        d = this.#repo.update(name, { replicas: body.replicas, strategy: body.strategy }, time);
      }
      if (body.config && !sameConfig(body.config, d.config)) {
        d = this.#newRevision(name, body.config, time);
        configChanged = true;
      }
      return d;
    });
    if (body.replicas !== undefined && body.replicas !== current.replicas) {
      this.#publish("deployment.scaled", name, { from: current.replicas, to: body.replicas });
    }
    if (configChanged) {
      this.#publish("deployment.updated", name, {
        revision: row.revision,
        previous_revision: current.revision,
        rollback: false,
      });
    }
    this.#d.controller.kick(name);
    return await this.#record(row);
  }

  async rollback(name: string): Promise<DeploymentRecord> {
    const current = this.#row(name);
    if (current.deleting) throw new VolantError("conflict", `deployment ${name} is being deleted`);
    const previous = this.#repo.revisions(name).find((r) => !sameConfig(r.config, current.config));
    if (!previous) {
      throw new VolantError(
        "conflict",
        `deployment ${name} has no earlier config to roll back to (revision ${current.revision} is the only one)`,
      );
    }
    this.#checkConfig(name, previous.config);
    const row = this.#d.store.tx(() =>
      this.#newRevision(name, previous.config, this.#d.now().toISOString())
    );
    this.#publish("deployment.updated", name, {
      revision: row.revision,
      previous_revision: current.revision,
      rollback: true,
    });
    this.#d.controller.kick(name);
    return await this.#record(row);
  }

  async delete(name: string): Promise<DeploymentRecord> {
    this.#row(name);
    const row = this.#repo.update(name, { deleting: true }, this.#d.now().toISOString());
    this.#d.controller.kick(name);
    return await this.#record(row);
  }

  ownerOf(vm: string): string | undefined {
    return this.#repo.ownerOf(vm);
  }
}
