/**
 * Boots one VM through a driver and exits: the conformance suite's stand-in
 * for "the daemon booted it, then died". Run as
 * `deno run -A boot_detached.ts '<json {driver, options, spec}>'`; prints the
 * VmProcess as JSON.
 *
 * @module
 */
import type { Hypervisor, VmSpec } from "../../service/ports.ts";
import { QemuDriver, type QemuDriverOptions } from "../qemu/driver.ts";

/** What the helper receives. */
export interface BootRequest {
  driver: "qemu" | "cloud-hypervisor";
  options: Record<string, unknown>;
  spec: VmSpec;
}

async function makeDriver(req: BootRequest): Promise<Hypervisor> {
  if (req.driver === "qemu") return new QemuDriver(req.options as QemuDriverOptions);
  const { CloudHypervisorDriver } = await import("../cloud_hypervisor/driver.ts");
  return new CloudHypervisorDriver(req.options);
}

/** Runs the helper in a child process and waits for it to exit. */
export async function bootInChildProcess(req: BootRequest): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", import.meta.filename!, JSON.stringify(req)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `boot_detached failed: ${new TextDecoder().decode(out.stderr)}${
        new TextDecoder().decode(out.stdout)
      }`,
    );
  }
}

if (import.meta.main) {
  const req = JSON.parse(Deno.args[0]) as BootRequest;
  const driver = await makeDriver(req);
  const proc = await driver.boot(req.spec);
  console.log(JSON.stringify(proc));
  // Exit at once, leaving the VMM running in its own session.
  Deno.exit(0);
}
