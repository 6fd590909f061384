/**
 * Is volantd there, and which one: its version against volar's, its uptime,
 * the accelerator it chose. The only row that needs the daemon; the rest of
 * the doctor works without one.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { Check } from "./check.ts";

export const daemonCheck: Check = {
  id: "daemon",
  title: "volantd",
  critical: true,
  async run(ctx) {
    try {
      const info = await ctx.daemonInfo();
      const accel = info.hypervisor.accel ? `, accel ${info.hypervisor.accel.accel}` : "";
      const detail = `volantd ${info.version}, up ${Math.round(info.uptime_s)} s, ` +
        `${info.hypervisor.kind}${info.hypervisor.available ? "" : " (unavailable)"}${accel}`;
      if (info.version !== ctx.version) {
        return {
          status: "warn",
          detail: `${detail}; volar is ${ctx.version}`,
          fix: "run the same version of volar and volantd",
        };
      }
      if (!info.hypervisor.available) {
        return {
          status: "fail",
          detail: `${detail}: ${info.hypervisor.reason ?? "hypervisor unavailable"}`,
          fix: "see the qemu and accelerator rows; restart volantd after fixing",
        };
      }
      return { status: "ok", detail };
    } catch (error) {
      if (!(error instanceof VolantError)) throw error;
      const notRunning = /socket does not exist|connection refused/i.test(error.message);
      return {
        status: "fail",
        detail: notRunning
          ? `volantd is not running (${error.message})`
          : `volantd is not reachable: ${error.message}`,
        fix: "start it: volantd (as root); see docs/install.md",
      };
    }
  },
};
