/**
 * Resolves the manifest's `workload.user` (`uid[:gid]` or names from the
 * guest's /etc/passwd and /etc/group) to numeric ids, plus the user's home.
 *
 * @module
 */
import { VolantError } from "../src/errors.ts";

export interface ResolvedUser {
  uid: number;
  gid: number;
  home: string;
  name: string;
}

const FIELD = "workload.user";

function readLines(path: string): string[][] {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return text.split("\n").filter((l) => l.length > 0 && !l.startsWith("#")).map((l) =>
    l.split(":")
  );
}

function bad(message: string): VolantError {
  return new VolantError("invalid_input", `${FIELD}: ${message}`, {
    problems: [{ field: FIELD, message }],
  });
}

/** Resolves `spec` against `<etc>/passwd` and `<etc>/group`. */
export function resolveUser(spec: string, etc = "/etc"): ResolvedUser {
  const [userPart, groupPart] = spec.split(":", 2);
  const passwd = readLines(`${etc}/passwd`);
  let uid: number;
  let gid: number | undefined;
  let home = "/";
  let name = userPart;
  if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    const entry = passwd.find((f) => f[2] === userPart);
    if (entry) {
      gid = Number(entry[3]);
      home = entry[5] || "/";
      name = entry[0];
    }
  } else {
    const entry = passwd.find((f) => f[0] === userPart);
    if (!entry) throw bad(`user "${userPart}" is not in ${etc}/passwd`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
    home = entry[5] || "/";
  }
  if (groupPart !== undefined) {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const entry = readLines(`${etc}/group`).find((f) => f[0] === groupPart);
      if (!entry) throw bad(`group "${groupPart}" is not in ${etc}/group`);
      gid = Number(entry[2]);
    }
  }
  // A bare uid with no passwd entry: its primary group is the same number (as runuser does).
  gid ??= uid;
  if (!Number.isSafeInteger(uid) || !Number.isSafeInteger(gid) || uid > 0xfffffffe) {
    throw bad(`"${spec}" does not resolve to numeric ids`);
  }
  return { uid, gid, home, name };
}
