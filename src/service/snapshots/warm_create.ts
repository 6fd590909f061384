/**
 * The VM service as the API and the deployment controller see it: the same
 * calls, but `create` goes through warm start (SnapshotService.createVm).
 *
 * @module
 */
import type { SnapshotServiceApi, VmServiceApi } from "../contracts.ts";

/** `vms` with `create` replaced by the warm-start create of `snapshots`. */
export function warmCreating(vms: VmServiceApi, snapshots: SnapshotServiceApi): VmServiceApi {
  return new Proxy(vms, {
    get(target, key) {
      if (key === "create") {
        return (body: Parameters<VmServiceApi["create"]>[0]) => snapshots.createVm(body);
      }
      const v = Reflect.get(target, key, target);
      // Methods keep the real service as `this` (its private fields need it).
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
