/**
 * Finds the agent channel's virtio-serial port (QEMU `virtserialport,
 * name=org.volant.agent`): /sys/class/virtio-ports/<vportNpM>/name, or a
 * virtio vsock device (Cloud Hypervisor: the channel over vsock). Kept tiny
 * and free of the mux so kestrel pays for the channel only when the port
 * exists (channel.ts is imported then).
 *
 * @module
 */
import { AGENT_PORT_NAME } from "../src/manifest/cmdline.ts";

export interface AgentPort {
  /** `/dev/vportNpM`. */
  path: string;
  major: number;
  minor: number;
}

/** The port, or null when the VMM offers none. */
export function findAgentPort(
  sysDir = "/sys/class/virtio-ports",
  devDir = "/dev",
): AgentPort | null {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(sysDir)];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  for (const e of entries) {
    let name: string;
    try {
      name = Deno.readTextFileSync(`${sysDir}/${e.name}/name`).trim();
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw err;
    }
    if (name !== AGENT_PORT_NAME) continue;
    const [major, minor] = Deno.readTextFileSync(`${sysDir}/${e.name}/dev`).trim().split(":")
      .map(Number);
    return { path: `${devDir}/${e.name}`, major, minor };
  }
  return null;
}

/** virtio device id of vsock (virtio spec 5.10). */
const VIRTIO_ID_VSOCK = 0x13;

/** True when the VMM gave the guest a virtio vsock device (/sys/bus/virtio/devices/x/device). */
export function hasVirtioVsock(sysDir = "/sys/bus/virtio/devices"): boolean {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(sysDir)];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
  return entries.some((e) => {
    try {
      return Number(Deno.readTextFileSync(`${sysDir}/${e.name}/device`).trim()) === VIRTIO_ID_VSOCK;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return false;
      throw err;
    }
  });
}
