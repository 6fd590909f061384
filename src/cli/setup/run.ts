/**
 * `volar setup` and `volar setup --uninstall`: builds the plan from the
 * options and the setup record, runs it (or prints it with --dry-run) and
 * says whether anything changed.
 *
 * @module
 */
import { basename, dirname } from "node:path";
import { VolantError } from "../../errors.ts";
import type { Io } from "../io.ts";
import { resolveSetupOptions, type SetupOptions } from "./options.ts";
import { describePlan, runPlan, type Step } from "./plan.ts";
import { emptyRecord, loadRecord, recordPath, saveRecord } from "./record.ts";
import {
  bridgeStep,
  dirsStep,
  fileStep,
  guestStep,
  ipForwardStep,
  natStep,
  serviceStep,
  systemdIsPid1,
  uninstallSteps,
} from "./steps.ts";
import { renderUnit } from "./unit.ts";

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * The volantd the unit runs: --volantd, else the persona link beside this
 * program (VOLANT_PROGRAM from the bundle launcher, or the compiled binary),
 * else volantd on PATH.
 */
export async function findVolantd(o: SetupOptions, io: Io): Promise<string> {
  if (o.volantd) {
    if (!(await isFile(o.volantd))) {
      throw new VolantError("not_found", `--volantd: ${o.volantd} missing`);
    }
    return o.volantd;
  }
  const exe = Deno.execPath();
  const program = io.env("VOLANT_PROGRAM") ||
    (basename(exe).startsWith("deno") ? undefined : exe);
  const candidates = program ? [`${dirname(program)}/volantd`] : [];
  for (const dir of (io.env("PATH") ?? "").split(":").filter((d) => d.startsWith("/"))) {
    candidates.push(`${dir}/volantd`);
  }
  for (const c of candidates) if (await isFile(c)) return c;
  throw new VolantError(
    "not_found",
    "cannot find volantd (not beside this program, not on PATH): pass --volantd PATH",
  );
}

function applySteps(
  o: SetupOptions,
  rec: ReturnType<typeof emptyRecord>,
  unitText: string | null,
  systemd: boolean,
): Step[] {
  const steps: Step[] = [
    dirsStep(o, rec),
    guestStep(o, rec),
    ipForwardStep(o, rec),
    bridgeStep(o, rec),
    natStep(o, rec),
  ];
  if (unitText !== null) {
    const unit = fileStep(`systemd unit ${o.serviceFile}`, o.serviceFile, unitText, rec);
    let unitChanged = false;
    const act = unit.act.bind(unit);
    unit.act = async () => {
      await act();
      unitChanged = true;
    };
    steps.push(unit);
    if (systemd) steps.push(serviceStep(basename(o.serviceFile), rec, () => unitChanged));
  }
  return steps;
}

/** Runs setup with parsed flag values; returns the exit code. */
export async function runSetup(values: Record<string, unknown>, io: Io): Promise<number> {
  const o = resolveSetupOptions(values, io.env, io.cwd());
  if (!o.dryRun && Deno.uid() !== 0) {
    throw new VolantError("forbidden", "volar setup changes the host: run it as root (sudo)");
  }
  const systemd = await systemdIsPid1();
  if (o.uninstall) {
    const rec = await loadRecord(o.workDir);
    if (!rec) {
      io.out(`setup --uninstall: nothing to undo (no setup record at ${recordPath(o.workDir)})`);
      return 0;
    }
    const steps = uninstallSteps(o, rec, { systemd });
    if (o.dryRun) {
      io.out("volar setup --uninstall would:");
      for (const line of await describePlan(steps)) io.out(line);
      return 0;
    }
    await runPlan(steps, io.out, undefined, "nothing to do");
    await Deno.remove(recordPath(o.workDir)).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    for (const f of rec.files.filter((f) => f.replaced)) {
      io.out(`    left ${f.path}: setup replaced it and its earlier bytes are gone`);
    }
    io.out("setup --uninstall: done; what setup changed is reverted");
    return 0;
  }

  const rec = (await loadRecord(o.workDir)) ?? emptyRecord();
  let unitText: string | null = null;
  let startHint: string | undefined;
  if (o.serviceFile !== "") {
    const volantd = await findVolantd(o, io);
    const exe = Deno.execPath();
    const deno = basename(exe).startsWith("deno") ? exe : undefined;
    unitText = renderUnit({ options: o, volantd, deno });
    startHint = /^ExecStart=(.*)$/m.exec(unitText)?.[1];
  }
  const steps = applySteps(o, rec, unitText, systemd);
  if (o.dryRun) {
    io.out("volar setup would:");
    for (const line of await describePlan(steps)) io.out(line);
    return 0;
  }
  const result = await runPlan(steps, io.out, () => saveRecord(o.workDir, rec));
  if (unitText !== null && !systemd) {
    io.out("systemd is not PID 1 here: start the daemon yourself, for example:");
    io.out(`  ${startHint} &`);
  }
  io.out(
    result.changed.length === 0
      ? "setup: nothing changed (everything was already in place)"
      : `setup: done (${result.changed.length} of ${steps.length} steps changed something)`,
  );
  return 0;
}
