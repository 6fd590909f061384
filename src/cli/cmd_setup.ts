/**
 * `volar setup`: host bootstrap (bridge, NAT, forwarding, directories, guest
 * artifacts, systemd unit). Its code (src/cli/setup/, which uses src/net
 * directly) loads only when the command runs, so other commands never pay
 * for it.
 *
 * @module
 */
import type { Command } from "./command.ts";

export const setup: Command = {
  path: ["setup"],
  summary: "prepare this host for volantd: bridge, NAT, dirs, systemd unit (root)",
  args: "",
  description: "Idempotent: each step checks, acts and verifies, and a failing step rolls back\n" +
    "what this run changed; a second run changes nothing and says so. --dry-run prints the\n" +
    "numbered plan. --uninstall reverts exactly what setup did (from <work-dir>/setup.json).\n" +
    "Where systemd is not PID 1 it prints the command that starts the daemon.",
  example: "sudo volar setup --dry-run",
  options: {
    bridge: { type: "string", value: "NAME", help: "bridge (env VOLANT_BRIDGE, default vbr0)" },
    subnet: {
      type: "string",
      value: "CIDR",
      help: "guest subnet (env VOLANT_SUBNET, default 192.168.127.0/24)",
    },
    "host-ip": {
      type: "string",
      value: "IP",
      help: "bridge address: the subnet's first (env VOLANT_HOST_IP, default 192.168.127.1)",
    },
    "dry-run": { type: "boolean", help: "print the plan as numbered steps, change nothing" },
    "runtime-dir": {
      type: "string",
      value: "DIR",
      help: "per-VM runtime dirs (env VOLANT_RUNTIME_DIR, default /run/volant/vms)",
    },
    "log-dir": {
      type: "string",
      value: "DIR",
      help: "volantd.log goes here (env VOLANT_LOG_DIR, default /var/log/volant)",
    },
    "service-file": {
      type: "string",
      value: "PATH",
      help: "systemd unit (default /etc/systemd/system/volantd.service; '' = none)",
    },
    "work-dir": {
      type: "string",
      value: "DIR",
      help: "state dir and guest artifacts (env VOLANT_WORK_DIR, default /var/lib/volant)",
    },
    bzimage: { type: "string", value: "PATH", help: "copy this bzImage into <work-dir>/kernel" },
    vmlinux: { type: "string", value: "PATH", help: "copy this vmlinux into <work-dir>/kernel" },
    "agent-image": {
      type: "string",
      value: "PATH",
      help: "copy this agent image into <work-dir>/agent",
    },
    "boot-initramfs": {
      type: "string",
      value: "PATH",
      help: "copy this boot initramfs into <work-dir>/agent",
    },
    volantd: {
      type: "string",
      value: "PATH",
      help: "volantd for the unit (default: beside this program, else on PATH)",
    },
    uninstall: { type: "boolean", help: "revert what setup did (unit, sysctl, bridge, NAT)" },
  },
  arity: [0, 0],
  async run(ctx) {
    const { runSetup } = await import("./setup/run.ts");
    return await runSetup(ctx.values, ctx.io);
  },
};
