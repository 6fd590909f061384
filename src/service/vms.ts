/**
 * VM lifecycle service (work in progress: signatures first).
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type {
  CreateVmBody,
  VersionedVmConfig,
  VmConfigHistoryEntry,
  VmConfigPatch,
  VmList,
  VmListQuery,
  VmRecord,
} from "../manifest/api.ts";
import type { VmConsoleTarget, VmServiceApi } from "./contracts.ts";
import type { ServiceContext } from "./context.ts";

const todo = (what: string) => new VolantError("not_implemented", `${what} is not implemented yet`);

export class VmService implements VmServiceApi {
  readonly #ctx: ServiceContext;
  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }
  list(query: VmListQuery): VmList {
    const { items, total } = this.#ctx.store.vms.list(query);
    return { items, total, limit: query.limit, offset: query.offset };
  }
  get(name: string): VmRecord {
    const vm = this.#ctx.store.vms.get(name);
    if (!vm) throw new VolantError("not_found", `vm ${name} not found`);
    return vm;
  }
  create(_body: CreateVmBody): Promise<VmRecord> {
    return Promise.reject(todo("vm create"));
  }
  start(_name: string): Promise<VmRecord> {
    return Promise.reject(todo("vm start"));
  }
  stop(_name: string, _opts?: { graceMs?: number }): Promise<VmRecord> {
    return Promise.reject(todo("vm stop"));
  }
  restart(_name: string, _opts?: { graceMs?: number }): Promise<VmRecord> {
    return Promise.reject(todo("vm restart"));
  }
  delete(_name: string, _opts?: { graceMs?: number }): Promise<void> {
    return Promise.reject(todo("vm delete"));
  }
  getConfig(_name: string): VersionedVmConfig {
    throw todo("vm config");
  }
  patchConfig(_name: string, _patch: VmConfigPatch): VersionedVmConfig {
    throw todo("vm config patch");
  }
  configHistory(_name: string, _limit?: number): VmConfigHistoryEntry[] {
    throw todo("vm config history");
  }
  console(_name: string): VmConsoleTarget {
    throw todo("vm console");
  }
}
