/**
 * `volar doctor`: checks this host for what VMs need (src/doctor) and prints
 * one row per check, or `-o json`. Works without a running daemon (its row
 * says so). Exits 1 when a check a VM needs to boot fails.
 *
 * @module
 */
import { createClient } from "../client/mod.ts";
import type { ConfigKey } from "../config/mod.ts";
import { VERSION } from "../version.ts";
import { stringFlag } from "./args.ts";
import type { Command } from "./command.ts";
import { json, table } from "./format.ts";

/** Exit status when a check needed to boot a VM failed. */
export const DOCTOR_FAILED_EXIT = 1;

export const doctor: Command = {
  path: ["doctor"],
  summary: "check this host for what VMs need (works without volantd)",
  args: "",
  description: [
    "Checks /dev/net/tun, bridge/TAP/netns and nftables (in a throwaway network namespace),",
    "ip_forward, QEMU and its microvm machine, the accelerator (the same KVM probe volantd",
    "runs: a bounded boot of the guest kernel under KVM), the VMM jail's prerequisites",
    "(root, setpriv, cgroups, mount namespaces), the guest kernel, agent image and",
    "boot initramfs against their SHA256SUMS, the state and runtime dirs, free disk space,",
    "volantd and the API socket. Paths come from volantd's config (the config file and",
    "VOLANT_* env, as volantd would resolve them); --config names another file.",
    "Exit status 1 when a check needed to boot a VM fails (critical), else 0.",
  ].join("\n"),
  example: "volar doctor -o json",
  options: {
    config: {
      type: "string",
      value: "FILE",
      help: "volantd's TOML config (default $VOLANT_CONFIG, else /etc/volant/volantd.toml)",
    },
  },
  arity: [0, 0],
  async run(ctx) {
    // The checks and the config schema load only when doctor runs (fast CLI start).
    const { DEFAULTS, envName, loadConfig } = await import("../config/mod.ts");
    const { bootBlocked, DEFAULT_CHECKS, runChecks } = await import("../doctor/mod.ts");
    // The VOLANT_* variables volantd's config reads, through volar's env lookup.
    const names = ["VOLANT_CONFIG", ...(Object.keys(DEFAULTS) as ConfigKey[]).map(envName)];
    const env = Object.fromEntries(names.map((k) => [k, ctx.io.env(k)]));
    const config = await loadConfig({ configPath: stringFlag(ctx.values, "config") }, env);
    const explicit = stringFlag(ctx.values, "socket") ?? stringFlag(ctx.values, "api") ??
      ctx.io.env("VOLANT_SOCKET") ?? ctx.io.env("VOLANT_API");
    const socket = stringFlag(ctx.values, "socket") ?? ctx.io.env("VOLANT_SOCKET") ??
      config.socket;
    // Without a flag or env, talk to the socket volantd's own config names.
    const own = explicit === undefined ? createClient({ socket }) : undefined;
    try {
      const reports = await runChecks(DEFAULT_CHECKS, {
        config,
        socket,
        uid: Deno.uid(),
        version: VERSION,
        daemonInfo: () => (own ?? ctx.client()).systemInfo(),
      });
      const failed = bootBlocked(reports);
      if (ctx.output === "json") {
        ctx.io.out(json({ ok: !failed, checks: reports }));
      } else {
        ctx.io.out(table(
          ["CHECK", "STATUS", "DETAIL", "FIX"],
          reports.map((r) => [
            r.title,
            r.status === "fail" && !r.critical ? "fail (non-critical)" : r.status,
            r.detail,
            r.fix,
          ]),
        ));
        ctx.io.out(
          failed
            ? "\nA check VMs need failed: fix the rows marked fail (docs/troubleshooting.md)."
            : "\nNothing blocks VMs from booting here.",
        );
      }
      return failed ? DOCTOR_FAILED_EXIT : 0;
    } finally {
      own?.close();
    }
  },
};
