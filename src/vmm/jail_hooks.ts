/**
 * What a detached driver does for the VMM jail, shared by QEMU and Cloud
 * Hypervisor: grant the VM's files (prepare), build the spawn wrapper and
 * pass the TAP as fd 3 (spawn), mark an exit at the cgroup's memory limit
 * as `oom`, and remove the cgroup once the VMM is gone.
 *
 * @module
 */
import type { VmExit, VmProcess, VmSpec } from "../service/ports.ts";
import type { LaunchSpec } from "./launch_spec.ts";
import type { Jail } from "./jail.ts";
import type { SpawnExtras } from "./spawn.ts";
import { closeFd, openTapFd } from "./tap_fd.ts";

/** The fd a jailed VMM finds its TAP on. */
export const JAILED_TAP_FD = 3;

/** One driver's jail: the Jail and this daemon's parent cgroup. */
export class JailHooks {
  /** Exit promises with the cgroup's OOM verdict added, one per tracked VMM. */
  readonly #withOom = new WeakMap<Promise<VmExit>, Promise<VmExit>>();

  constructor(readonly jail: Jail, readonly cgroupParent: string) {}

  prepare(spec: VmSpec): Promise<void> {
    return this.jail.prepareVm(spec);
  }

  /** The wrapper (cgroup, mount namespace, setpriv) and the TAP fd for one boot. */
  async spawnExtras(
    spec: LaunchSpec,
    accel: "kvm" | "tcg",
  ): Promise<{ extras: SpawnExtras; release: () => void }> {
    // Only boot() launches a jailed VMM: its cgroup limits and files come from the whole spec.
    if (spec.cpus === undefined || spec.memoryMb === undefined) {
      throw new Error(`vm ${spec.name}: a jailed VMM launch needs cpus and memoryMb`);
    }
    const { wrapper } = await this.jail.spawnFor(
      {
        name: spec.name,
        cpus: spec.cpus,
        memoryMb: spec.memoryMb,
        runtimeDir: spec.runtimeDir,
        kernel: spec.kernel,
        initramfs: spec.initramfs,
        disks: spec.disks,
        vsock: spec.vsock,
        agentChannel: spec.agentChannel,
        ramImage: spec.ramImage,
      },
      this.cgroupParent,
      accel,
    );
    const fd = spec.net ? openTapFd(spec.net.tap) : undefined;
    return {
      extras: { wrapper, fds: fd === undefined ? [] : [fd] },
      release: () => fd !== undefined && closeFd(fd),
    };
  }

  /**
   * `base` (the driver's exit) marked `oom` when the kernel killed the VMM at
   * its cgroup's memory limit. The count is read before the cgroup goes:
   * release is chained on the promise this returns.
   */
  exited(proc: VmProcess, base: Promise<VmExit>): Promise<VmExit> {
    let p = this.#withOom.get(base);
    if (!p) {
      p = base.then(async (exit) => {
        if (exit.requested || exit.code === 0) return exit;
        const oom = await this.jail.oomKilled(proc.name, this.cgroupParent);
        return oom ? { ...exit, oom: true } : exit;
      });
      this.#withOom.set(base, p);
    }
    return p;
  }

  /** Removes the VM's cgroup once `exit` has settled. */
  releaseAt(name: string, exit: Promise<VmExit>): void {
    exit.then(() => this.jail.release(name, this.cgroupParent)).catch((e) => {
      // A cgroup left behind is reset at the next boot; nothing to undo here.
      console.error(`volant: cannot remove the cgroup of ${name}: ${(e as Error).message}`);
    });
  }

  release(name: string): Promise<void> {
    return this.jail.release(name, this.cgroupParent);
  }
}
