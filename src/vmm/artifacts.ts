/**
 * Up-front checks of a VmSpec: every artifact exists and is a readable file,
 * numbers are sane, disk ids are safe. Runs before anything is created, so a
 * bad spec leaks nothing.
 *
 * @module
 */
import { type FieldProblem, VolantError } from "../errors.ts";
import type { VmSpec } from "../service/ports.ts";

/** Disk ids end up in file names and QEMU/CH option values. */
export const DISK_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/;

async function fileProblem(path: string | undefined, field: string): Promise<FieldProblem | null> {
  if (typeof path !== "string" || !path.startsWith("/")) {
    return { field, message: `must be an absolute path, got ${JSON.stringify(path)}` };
  }
  try {
    const st = await Deno.stat(path);
    if (!st.isFile) return { field, message: `not a regular file: ${path}` };
    const f = await Deno.open(path, { read: true });
    f.close();
    return null;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { field, message: `no such file: ${path}` };
    if (e instanceof Deno.errors.PermissionDenied) {
      return { field, message: `not readable: ${path}` };
    }
    throw e;
  }
}

/** Throws one VolantError listing every problem of the spec's values and artifacts. */
export async function checkSpec(spec: VmSpec): Promise<void> {
  const problems: FieldProblem[] = [];
  if (!Number.isInteger(spec.cpus) || spec.cpus < 1 || spec.cpus > 255) {
    problems.push({ field: "cpus", message: `must be an integer 1-255, got ${spec.cpus}` });
  }
  if (!Number.isInteger(spec.memoryMb) || spec.memoryMb < 32) {
    problems.push({ field: "memoryMb", message: `must be an integer >= 32, got ${spec.memoryMb}` });
  }
  if (typeof spec.cmdline !== "string" || spec.cmdline.includes("\n")) {
    problems.push({ field: "cmdline", message: "must be a single-line string" });
  }
  if (!Number.isInteger(spec.serialLogMaxBytes) || spec.serialLogMaxBytes < 4096) {
    problems.push({ field: "serialLogMaxBytes", message: "must be an integer >= 4096" });
  }
  if (spec.machine !== "microvm" && spec.machine !== "q35") {
    problems.push({ field: "machine", message: `must be microvm or q35, got ${spec.machine}` });
  }
  if (spec.net) {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(spec.net.tap)) {
      problems.push({ field: "net.tap", message: "must be an interface name of 1-15 characters" });
    }
    if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(spec.net.mac)) {
      problems.push({ field: "net.mac", message: `not a MAC address: ${spec.net.mac}` });
    }
  }
  if (spec.vsock && (!Number.isInteger(spec.vsock.cid) || spec.vsock.cid < 3)) {
    problems.push({ field: "vsock.cid", message: "must be an integer >= 3" });
  }
  const kernel = await fileProblem(spec.kernel, "kernel");
  if (kernel) problems.push(kernel);
  if (spec.initramfs !== undefined) {
    const p = await fileProblem(spec.initramfs, "initramfs");
    if (p) problems.push(p);
  }
  const ids = new Set<string>();
  for (const [i, d] of spec.disks.entries()) {
    if (!DISK_ID.test(d.id)) {
      problems.push({ field: `disks[${i}].id`, message: `must match ${DISK_ID}, got ${d.id}` });
    } else if (ids.has(d.id)) {
      problems.push({ field: `disks[${i}].id`, message: `duplicate disk id ${d.id}` });
    }
    ids.add(d.id);
    if (d.format !== "raw" && d.format !== "qcow2") {
      problems.push({ field: `disks[${i}].format`, message: "must be raw or qcow2" });
    }
    if (d.backingImage !== undefined) {
      // The overlay is ours to create; its backing image must exist.
      const p = await fileProblem(d.backingImage, `disks[${i}].backingImage`);
      if (p) problems.push(p);
      if (d.readonly) {
        problems.push({ field: `disks[${i}].readonly`, message: "an overlay disk is writable" });
      }
      if (d.format !== "qcow2") {
        problems.push({ field: `disks[${i}].format`, message: "an overlay disk is qcow2" });
      }
      if (!d.path.startsWith(spec.stateDir + "/")) {
        problems.push({
          field: `disks[${i}].path`,
          message: `an overlay must live in the VM's stateDir ${spec.stateDir}`,
        });
      }
    } else {
      const p = await fileProblem(d.path, `disks[${i}].path`);
      if (p) problems.push(p);
    }
  }
  if (problems.length > 0) {
    const missing = problems.some((p) => p.message.startsWith("no such file"));
    throw new VolantError(
      missing ? "not_found" : "invalid_input",
      `VM ${spec.name}: ` + problems.map((p) => `${p.field}: ${p.message}`).join("; "),
      { problems },
    );
  }
}

/** Where the service should put a disk's copy-on-write overlay. */
export function overlayPath(stateDir: string, diskId: string): string {
  return `${stateDir}/${diskId}.qcow2`;
}
