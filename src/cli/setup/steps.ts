/**
 * The steps of `volar setup` and of `volar setup --uninstall`. Host
 * bootstrap is the one place the CLI changes the host itself: bridge and NAT
 * go through the daemon's own network code (src/net), so setup and volantd
 * can never disagree about what "in place" means (docs/development.md).
 *
 * Every step records what it changed in the setup record as it goes.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { VolantError } from "../../errors.ts";
import {
  bridgeMac,
  currentMarks,
  deleteLink,
  ensureBridgeSync,
  ensureNftTable,
  getLink,
  IP_FORWARD_PATH,
  listAddresses,
  NetlinkSocket,
  parseCidr,
  removeNftTable,
  ruleCount,
  rulesetDigest,
} from "../../net/mod.ts";
import { guestPaths, type SetupOptions } from "./options.ts";
import type { Step } from "./plan.ts";
import { recordPath, type SetupRecord } from "./record.ts";
import { renderSysctl } from "./unit.ts";

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

async function readTextOrNull(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

async function removeIfPresent(path: string): Promise<void> {
  await Deno.remove(path).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

/** Writes text atomically (temp file + rename) with `mode`. */
async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.volant-new`;
  await Deno.writeTextFile(tmp, text, { mode });
  await Deno.chmod(tmp, mode);
  await Deno.rename(tmp, path);
}

const parentOf = (path: string) => path.replace(/\/[^/]+$/, "") || "/";

/** Missing directories of `path` (outermost first). */
async function missingDirs(path: string): Promise<string[]> {
  const missing: string[] = [];
  let p = path;
  while (p !== "/" && (await statOrNull(p)) === null) {
    missing.unshift(p);
    p = parentOf(p);
  }
  const st = await statOrNull(p);
  if (st && !st.isDirectory) {
    throw new VolantError("conflict", `${p} exists and is not a directory`);
  }
  return missing;
}

function dirsPlan(o: SetupOptions): { path: string; mode: number }[] {
  return [
    { path: o.workDir, mode: 0o755 },
    { path: `${o.workDir}/kernel`, mode: 0o755 },
    { path: `${o.workDir}/agent`, mode: 0o755 },
    { path: o.runtimeDir, mode: 0o755 },
    { path: o.logDir, mode: 0o750 },
  ];
}

/** State, runtime and log directories with their modes (only those it creates get the mode). */
export function dirsStep(o: SetupOptions, rec: SetupRecord): Step {
  const made: string[] = [];
  const wanted = dirsPlan(o);
  const missingAll = async () => {
    const out: { path: string; mode: number }[] = [];
    for (const w of wanted) {
      for (const m of await missingDirs(w.path)) {
        if (!out.some((x) => x.path === m)) {
          out.push({ path: m, mode: m === w.path ? w.mode : 0o755 });
        }
      }
    }
    return out;
  };
  return {
    title: `directories ${wanted.map((w) => w.path).join(", ")}`,
    async check() {
      const missing = await missingAll();
      return missing.length ? `create ${missing.map((m) => m.path).join(", ")}` : null;
    },
    async act() {
      for (const m of await missingAll()) {
        await Deno.mkdir(m.path, { mode: m.mode });
        await Deno.chmod(m.path, m.mode); // the umask must not decide
        made.push(m.path);
        rec.dirs.push(m.path);
      }
    },
    async verify() {
      for (const w of wanted) {
        if (!(await statOrNull(w.path))?.isDirectory) throw new Error(`${w.path} is missing`);
      }
    },
    async undo() {
      for (const d of made.reverse()) {
        // The record is saved after every step; it goes with the work dir it lives in.
        if (d === o.workDir) await removeIfPresent(recordPath(o.workDir));
        await Deno.remove(d).catch((e) => {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        });
        rec.dirs = rec.dirs.filter((x) => x !== d);
      }
      made.length = 0;
    },
  };
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  using f = await Deno.open(path);
  for await (const chunk of f.readable) hash.update(chunk);
  return hash.digest("hex");
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const [sa, sb] = [await statOrNull(a), await statOrNull(b)];
  if (!sa || !sb || sa.size !== sb.size) return false;
  return (await sha256File(a)) === (await sha256File(b));
}

/** Guest kernel, agent image and boot initramfs under <work-dir>, copied from sources if given. */
export function guestStep(o: SetupOptions, rec: SetupRecord): Step {
  const target = guestPaths(o.workDir);
  const keys = ["vmlinux", "bzImage", "agentImage", "bootInitramfs"] as const;
  const required = new Set(["vmlinux", "agentImage", "bootInitramfs"]);
  const flag = {
    vmlinux: "--vmlinux",
    bzImage: "--bzimage",
    agentImage: "--agent-image",
    bootInitramfs: "--boot-initramfs",
  };
  const written: { path: string; backup?: string }[] = [];
  const todo = async () => {
    const out: { key: typeof keys[number]; src: string; dest: string; exists: boolean }[] = [];
    for (const k of keys) {
      const src = o.sources[k];
      const dest = target[k];
      const exists = (await statOrNull(dest)) !== null;
      if (src !== undefined) {
        if (!(await statOrNull(src))?.isFile) {
          throw new VolantError("not_found", `${flag[k]}: ${src} is not a file`);
        }
        if (!exists || !(await sameFile(src, dest))) out.push({ key: k, src, dest, exists });
      } else if (!exists && required.has(k)) {
        throw new VolantError(
          "not_found",
          `no ${k} at ${dest}: install a release (install.sh) or pass ${flag[k]} PATH`,
        );
      }
    }
    return out;
  };
  return {
    title: `guest artifacts in ${o.workDir}/kernel and ${o.workDir}/agent`,
    async check() {
      const t = await todo();
      return t.length
        ? t.map((x) => `${x.exists ? "replace" : "copy"} ${x.dest}`).join(", ")
        : null;
    },
    async act() {
      for (const t of await todo()) {
        let backup: string | undefined;
        if (t.exists) {
          // Kept until the run succeeds, so a rollback can put the old bytes back.
          backup = `${t.dest}.volant-setup-old`;
          await Deno.rename(t.dest, backup);
        }
        await Deno.copyFile(t.src, `${t.dest}.volant-new`);
        await Deno.chmod(`${t.dest}.volant-new`, 0o644);
        await Deno.rename(`${t.dest}.volant-new`, t.dest);
        written.push({ path: t.dest, backup });
        rec.files = rec.files.filter((f) => f.path !== t.dest);
        rec.files.push(t.exists ? { path: t.dest, replaced: true } : { path: t.dest });
      }
    },
    async verify() {
      for (const k of keys) {
        const src = o.sources[k];
        if (src !== undefined && !(await sameFile(src, target[k]))) {
          throw new Error(`${target[k]} differs from ${src} after the copy`);
        }
      }
      for (const w of written) if (w.backup) await removeIfPresent(w.backup);
    },
    async undo() {
      for (const w of written.reverse()) {
        if (w.backup) await Deno.rename(w.backup, w.path);
        else await removeIfPresent(w.path);
        rec.files = rec.files.filter((f) => f.path !== w.path);
      }
      written.length = 0;
    },
  };
}

/** IPv4 forwarding: on now, and persisted in /etc/sysctl.d. */
export function ipForwardStep(o: SetupOptions, rec: SetupRecord, procPath = IP_FORWARD_PATH): Step {
  const want = renderSysctl();
  let wroteFile: { previous: string | null } | null = null;
  let procWas: string | null = null;
  return {
    title: `IPv4 forwarding on, persisted in ${o.sysctlFile}`,
    async check() {
      const need: string[] = [];
      if ((await readTextOrNull(o.sysctlFile)) !== want) need.push(`write ${o.sysctlFile}`);
      if ((await Deno.readTextFile(procPath)).trim() !== "1") need.push("set ip_forward=1");
      return need.length ? need.join(", ") : null;
    },
    async act() {
      const previous = await readTextOrNull(o.sysctlFile);
      if (previous !== want) {
        await writeAtomic(o.sysctlFile, want, 0o644);
        wroteFile = { previous };
        rec.files = rec.files.filter((f) => f.path !== o.sysctlFile);
        rec.files.push(
          previous === null ? { path: o.sysctlFile } : { path: o.sysctlFile, previous },
        );
      }
      const now = (await Deno.readTextFile(procPath)).trim();
      if (now !== "1") {
        await Deno.writeTextFile(procPath, "1\n");
        procWas = now;
        rec.ipForwardWas ??= now;
      }
    },
    async verify() {
      if ((await readTextOrNull(o.sysctlFile)) !== want) throw new Error(`${o.sysctlFile} differs`);
      if ((await Deno.readTextFile(procPath)).trim() !== "1") {
        throw new Error("ip_forward is not 1");
      }
    },
    async undo() {
      if (procWas !== null) {
        await Deno.writeTextFile(procPath, `${procWas}\n`);
        rec.ipForwardWas = undefined;
        procWas = null;
      }
      if (wroteFile) {
        if (wroteFile.previous === null) await removeIfPresent(o.sysctlFile);
        else await writeAtomic(o.sysctlFile, wroteFile.previous, 0o644);
        rec.files = rec.files.filter((f) => f.path !== o.sysctlFile);
        wroteFile = null;
      }
    },
  };
}

function withNetlink<T>(fn: (nl: NetlinkSocket) => T): T {
  const nl = NetlinkSocket.open();
  try {
    return fn(nl);
  } finally {
    nl.close();
  }
}

/** The bridge with its fixed MAC and gateway address, up (src/net's ensureBridge). */
export function bridgeStep(o: SetupOptions, rec: SetupRecord): Step {
  const gw = parseCidr(o.hostCidr, "--host-ip");
  let created = false;
  return {
    title: `bridge ${o.bridge} with ${o.hostCidr}, up`,
    check() {
      return Promise.resolve().then(() =>
        withNetlink((nl) => {
          const link = getLink(nl, o.bridge);
          if (!link) return `create ${o.bridge}`;
          if (link.kind !== "bridge") {
            throw new VolantError(
              "conflict",
              `${o.bridge} exists and is a ${link.kind ?? "non-bridge"} link, not a bridge`,
            );
          }
          const need: string[] = [];
          if (link.mac !== bridgeMac(o.bridge)) need.push("set its MAC");
          const addrs = listAddresses(nl, link.index);
          if (!addrs.some((a) => a.address === gw.address && a.prefixlen === gw.prefixlen)) {
            need.push(`add ${o.hostCidr}`);
          }
          if (!link.up) need.push("set it up");
          return need.length ? need.join(", ") : null;
        })
      );
    },
    act() {
      return Promise.resolve().then(() => {
        const existed = withNetlink((nl) => getLink(nl, o.bridge) !== null);
        ensureBridgeSync({ name: o.bridge, gatewayCidr: o.hostCidr });
        if (!existed) {
          created = true;
          rec.bridge = o.bridge;
        }
      });
    },
    async verify() {
      const left = await this.check();
      if (left !== null) throw new Error(`bridge ${o.bridge} still needs: ${left}`);
    },
    undo() {
      return Promise.resolve().then(() => {
        if (!created) return;
        withNetlink((nl) => deleteLink(nl, o.bridge));
        rec.bridge = undefined;
        created = false;
      });
    },
  };
}

/** The `inet volant` nftables table: masquerade out of the subnet, guests fenced from the host. */
export function natStep(o: SetupOptions, rec: SetupRecord, nft = "nft"): Step {
  // The same spec volantd applies at start (unix socket only: no TCP port to guard), so the
  // daemon finds it in place and leaves it alone.
  const spec = { bridge: o.bridge, subnet: o.subnet, guardHostPorts: [] };
  let applied = false;
  return {
    title: `NAT for ${o.subnet} out of ${o.bridge} (nft table inet volant)`,
    async check() {
      const cur = await currentMarks(nft);
      if (!cur) return "create table inet volant";
      if (!cur.marks.includes(rulesetDigest(spec)) || cur.rules !== ruleCount(spec)) {
        return "replace table inet volant";
      }
      return null;
    },
    async act() {
      await ensureNftTable(spec, nft);
      applied = true;
      rec.nat = true;
    },
    async verify() {
      const left = await this.check();
      if (left !== null) throw new Error(`nft: still needs: ${left}`);
    },
    async undo() {
      if (!applied) return;
      await removeNftTable(nft);
      rec.nat = undefined;
      applied = false;
    },
  };
}

/** A text file setup owns (the unit): written when it differs, restored on undo. */
export function fileStep(title: string, path: string, text: string, rec: SetupRecord): Step {
  let wrote: { previous: string | null } | null = null;
  return {
    title,
    async check() {
      const cur = await readTextOrNull(path);
      return cur === text ? null : cur === null ? `write ${path}` : `rewrite ${path}`;
    },
    async act() {
      const previous = await readTextOrNull(path);
      await writeAtomic(path, text, 0o644);
      wrote = { previous };
      const earlier = rec.files.find((f) => f.path === path);
      rec.files = rec.files.filter((f) => f.path !== path);
      // A rewrite of our own file keeps what was there before the first setup.
      rec.files.push(
        earlier ? earlier : previous === null ? { path } : { path, previous },
      );
    },
    async verify() {
      if ((await readTextOrNull(path)) !== text) throw new Error(`${path} differs after writing`);
    },
    async undo() {
      if (!wrote) return;
      if (wrote.previous === null) await removeIfPresent(path);
      else await writeAtomic(path, wrote.previous, 0o644);
      rec.files = rec.files.filter((f) => f.path !== path);
      wrote = null;
    },
  };
}

/** True when systemd is the init system here (sd_booted(3)). */
export async function systemdIsPid1(): Promise<boolean> {
  return (await statOrNull("/run/systemd/system"))?.isDirectory === true;
}

async function systemctl(args: string[]): Promise<{ ok: boolean; out: string }> {
  const r = await new Deno.Command("systemctl", {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { ok: r.success, out: (dec.decode(r.stdout) + dec.decode(r.stderr)).trim() };
}

/** volantd.service enabled and running (only where systemd is PID 1). */
export function serviceStep(unitName: string, rec: SetupRecord, unitChanged: () => boolean): Step {
  let started = false;
  const state = async () => ({
    enabled: (await systemctl(["is-enabled", unitName])).out === "enabled",
    active: (await systemctl(["is-active", unitName])).out === "active",
  });
  return {
    title: `${unitName} enabled and running`,
    async check() {
      const s = await state();
      const need = [
        ...(unitChanged() ? ["daemon-reload"] : []),
        ...(s.enabled ? [] : ["enable"]),
        ...(s.active ? (unitChanged() ? ["restart"] : []) : ["start"]),
      ];
      return need.length ? need.join(", ") : null;
    },
    async act() {
      const was = await state();
      for (
        const args of [
          ["daemon-reload"],
          ["enable", "--now", unitName],
          ...(was.active && unitChanged() ? [["restart", unitName]] : []),
        ]
      ) {
        const r = await systemctl(args);
        if (!r.ok) throw new Error(`systemctl ${args.join(" ")}: ${r.out}`);
      }
      started = !was.active || !was.enabled;
      if (started) rec.service = unitName;
    },
    async verify() {
      const s = await state();
      if (!s.enabled || !s.active) {
        throw new Error(
          `${unitName} is ${s.active ? "active" : "not active"}, ` +
            `${s.enabled ? "enabled" : "not enabled"}: see journalctl -u ${unitName}`,
        );
      }
    },
    async undo() {
      if (!started) return;
      await systemctl(["disable", "--now", unitName]);
      rec.service = undefined;
      started = false;
    },
  };
}

/** Steps of `volar setup --uninstall`: exactly what the record says setup did, newest first. */
export function uninstallSteps(
  o: SetupOptions,
  rec: SetupRecord,
  opts: { systemd: boolean; procPath?: string; nft?: string },
): Step[] {
  const noUndo = () => Promise.resolve();
  const steps: Step[] = [];
  const procPath = opts.procPath ?? IP_FORWARD_PATH;
  if (rec.service && opts.systemd) {
    const unit = rec.service;
    steps.push({
      title: `stop and disable ${unit}`,
      async check() {
        const s = await systemctl(["is-enabled", unit]);
        const a = await systemctl(["is-active", unit]);
        return s.out === "enabled" || a.out === "active" ? "disable --now" : null;
      },
      async act() {
        const r = await systemctl(["disable", "--now", unit]);
        if (!r.ok) throw new Error(`systemctl disable --now ${unit}: ${r.out}`);
      },
      verify: noUndo,
      undo: noUndo,
    });
  }
  const files = [...rec.files].reverse();
  for (const f of files) {
    if (f.replaced) continue; // old bytes gone: leave the file, say so below
    steps.push({
      title: f.previous === undefined ? `remove ${f.path}` : `restore ${f.path}`,
      async check() {
        if (f.previous === undefined) return (await statOrNull(f.path)) === null ? null : "remove";
        return (await readTextOrNull(f.path)) === f.previous ? null : "restore the earlier content";
      },
      async act() {
        if (f.previous === undefined) await removeIfPresent(f.path);
        else await writeAtomic(f.path, f.previous, 0o644);
      },
      verify: noUndo,
      undo: noUndo,
    });
  }
  if (rec.service && opts.systemd) {
    steps.push({
      title: "systemctl daemon-reload",
      check: () => Promise.resolve("reload"),
      async act() {
        await systemctl(["daemon-reload"]);
      },
      verify: noUndo,
      undo: noUndo,
    });
  }
  if (rec.nat) {
    steps.push({
      title: "remove nft table inet volant",
      async check() {
        return (await currentMarks(opts.nft ?? "nft")) === null ? null : "delete table";
      },
      act: () => removeNftTable(opts.nft ?? "nft"),
      verify: noUndo,
      undo: noUndo,
    });
  }
  if (rec.bridge) {
    const name = rec.bridge;
    steps.push({
      title: `remove bridge ${name}`,
      check() {
        return Promise.resolve().then(() =>
          withNetlink((nl) => {
            const l = getLink(nl, name);
            return l && l.kind === "bridge" ? "delete link" : null;
          })
        );
      },
      act() {
        return Promise.resolve().then(() => withNetlink((nl) => deleteLink(nl, name)));
      },
      verify: noUndo,
      undo: noUndo,
    });
  }
  if (rec.ipForwardWas !== undefined && rec.ipForwardWas !== "1") {
    const was = rec.ipForwardWas;
    steps.push({
      title: `ip_forward back to ${was}`,
      async check() {
        return (await Deno.readTextFile(procPath)).trim() === was ? null : `write ${was}`;
      },
      act: () => Deno.writeTextFile(procPath, `${was}\n`),
      verify: noUndo,
      undo: noUndo,
    });
  }
  const dirs = [...rec.dirs].reverse();
  if (dirs.length) {
    steps.push({
      title: `remove the directories setup created, if empty`,
      async check() {
        const present = [];
        for (const d of dirs) if (await statOrNull(d)) present.push(d);
        return present.length ? `rmdir ${present.join(", ")}` : null;
      },
      async act() {
        for (const d of dirs) {
          if (d === o.workDir) await removeIfPresent(recordPath(o.workDir));
          await Deno.remove(d).catch((e) => {
            // Not empty (state such as volant.db) or already gone: it stays / is fine.
            if (!(e instanceof Deno.errors.NotFound) && !isNotEmpty(e)) throw e;
          });
        }
      },
      verify: noUndo,
      undo: noUndo,
    });
  }
  return steps;
}

function isNotEmpty(e: unknown): boolean {
  return e instanceof Error && /not empty|ENOTEMPTY|Directory not empty/i.test(e.message);
}
