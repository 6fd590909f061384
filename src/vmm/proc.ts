/**
 * Reads process facts from /proc: the start time (stat field 22) and argv,
 * which together identify a process even after its pid is recycled.
 *
 * @module
 */

/** Parsed parts of /proc/<pid>/stat that we use. */
export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  /** Field 22: start time in clock ticks since boot, as a string. */
  startTime: string;
}

/**
 * Parses one /proc/<pid>/stat line. The command name (field 2) may hold spaces
 * and parentheses, so fields are counted after its last ')'.
 */
export function parseStat(line: string): ProcStat {
  const close = line.lastIndexOf(")");
  if (close < 0) throw new Error(`unparsable /proc stat line: ${line.slice(0, 80)}`);
  const pid = Number(line.slice(0, line.indexOf(" ")));
  // After ") " come fields 3.. : state(3) ppid(4) ... starttime(22).
  const rest = line.slice(close + 2).trim().split(" ");
  const startTime = rest[22 - 3];
  if (startTime === undefined) throw new Error(`short /proc stat line: ${line.slice(0, 80)}`);
  return { pid, state: rest[0], ppid: Number(rest[1]), startTime };
}

/** The stat of `pid`, or null when there is no such process. */
export async function readStat(pid: number): Promise<ProcStat | null> {
  try {
    return parseStat(await Deno.readTextFile(`/proc/${pid}/stat`));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** argv of `pid` from /proc/<pid>/cmdline, or null when gone. */
export async function readCmdline(pid: number): Promise<string[] | null> {
  try {
    const raw = await Deno.readTextFile(`/proc/${pid}/cmdline`);
    const parts = raw.split("\0");
    if (parts.at(-1) === "") parts.pop();
    return parts;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** The identity of a process as recorded at spawn. */
export interface ProcIdentity {
  pid: number;
  startTime: string;
  /**
   * When given, /proc/<pid>/cmdline must end with argv[1..]. argv[0] is not
   * compared: a script VMM (or a wrapper that execs) shows its interpreter there.
   */
  argv?: string[];
}

/**
 * True when `pid` is alive (not a zombie) and is the process we recorded:
 * same start time and, when given, the same argv.
 */
export async function isSameLiveProcess(id: ProcIdentity): Promise<boolean> {
  const stat = await readStat(id.pid);
  if (!stat || stat.state === "Z" || stat.state === "X") return false;
  if (stat.startTime !== id.startTime) return false;
  if (id.argv) {
    const argv = await readCmdline(id.pid);
    if (!argv || !argsMatch(argv, id.argv)) return false;
  }
  return true;
}

/** True when `actual` ends with `expected[1..]` (argv[0] is where wrappers differ). */
export function argsMatch(actual: string[], expected: string[]): boolean {
  const want = expected.slice(1);
  if (actual.length < want.length + 1) return false;
  const tail = actual.slice(actual.length - want.length);
  return tail.every((a, i) => a === want[i]);
}

/**
 * Live processes whose argv names a path under `dir` and holds an argument
 * whose base name is `binaryName` (argv[0], or the script a wrapper runs).
 */
export async function processesNaming(
  dir: string,
  binaryName: string,
): Promise<ProcIdentity[]> {
  const under = `${dir.replace(/\/+$/, "")}/`;
  const found: ProcIdentity[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    const pid = Number(e.name);
    const argv = await readCmdline(pid);
    if (!argv?.some((a) => a.includes(under))) continue;
    if (!argv.some((a) => a.slice(a.lastIndexOf("/") + 1) === binaryName)) continue;
    const stat = await readStat(pid);
    if (stat && stat.state !== "Z" && stat.state !== "X") {
      found.push({ pid, startTime: stat.startTime });
    }
  }
  return found;
}
