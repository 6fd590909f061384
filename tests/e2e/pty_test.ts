/**
 * Interactive exec on a real guest: the example plugin (examples/static-http)
 * boots under QEMU in a sandboxed volantd (its own network namespace), and
 * `volar vms shell` runs inside a real pseudo-terminal made by a tmux server
 * of this test's own (its own socket, killed at the end): a command's output,
 * a window resize seen by `stty size` in the guest, Ctrl-C interrupting a
 * running `sleep` while the shell lives on, `exit 3` as volar's exit code,
 * the terminal settings restored; then a second session is ended by closing
 * its window and nothing of either session is left in the guest (no
 * sleep, no helper, no zombie; checked with the non-interactive exec).
 * On failure the serial and daemon logs are kept in test-artifacts/e2e-pty/.
 * About 1-3 min on an idle machine (TCG).
 */
import assert from "node:assert/strict";
import { prepareHost } from "../../scripts/journey/prepare.ts";
import { Sandbox } from "../../scripts/journey/sandbox.ts";
import { REPO } from "../../scripts/_repo.ts";

const KEEP_LOGS = `${REPO}/test-artifacts/e2e-pty`;

async function run(cmd: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function must(cmd: string[]): Promise<string> {
  const r = await run(cmd);
  assert.equal(r.code, 0, `${cmd.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** Polls `probe` until it returns a value (the event has happened) or `ms` pass. */
async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 60_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A tmux server of this test's own: a real terminal for volar. */
class Tmux {
  constructor(readonly socket: string) {}
  cmd(...args: string[]): Promise<string> {
    return must(["tmux", "-S", this.socket, ...args]);
  }
  /** The pane's text (joined wrapped lines, with its history). */
  screen(target: string): Promise<string> {
    return this.cmd("capture-pane", "-p", "-J", "-S", "-200", "-t", target);
  }
  async type(target: string, text: string): Promise<void> {
    await this.cmd("send-keys", "-t", target, "-l", text);
    await this.cmd("send-keys", "-t", target, "Enter");
  }
  /** Waits until the pane's text after its `from`-th line matches `re`. */
  async waitFor(target: string, re: RegExp, fromLine = 0): Promise<string> {
    let s = "";
    try {
      return await until(`${re} in tmux ${target}`, async () => {
        s = (await this.screen(target)).split("\n").slice(fromLine).join("\n");
        return re.test(s) ? s : undefined;
      });
    } catch (e) {
      throw new Error(`${(e as Error).message}; the terminal shows:\n${s}`);
    }
  }
  async lines(target: string): Promise<number> {
    return (await this.screen(target)).trimEnd().split("\n").length;
  }
}

interface Vm {
  state: string;
  health: string;
}

/** The guest's processes as `pid (comm) state` lines, through the non-interactive exec. */
const PS = 'for f in /proc/[0-9]*/stat; do read -r l < "$f" 2>/dev/null && echo "$l"; done; true';

Deno.test({
  name: "pty: volar vms shell on a QEMU guest through a real terminal",
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  if (Deno.uid() !== 0) throw new Error("e2e tests need root (netns, TAP): run as root");
  const artifacts = await prepareHost();
  const sb = await Sandbox.create({ artifacts, prefix: "volant-pty" });
  const tmux = new Tmux(`${sb.dir}/tmux.sock`);
  let ok = false;
  try {
    await sb.startDaemon();
    await sb.installExample({ shim: artifacts.shim });
    const created = await sb.volar(["vms", "create", "web", "--plugin", "static-http"]);
    assert.equal(created.code, 0, created.stderr);
    await until("vm web healthy", async () => {
      const vm = await sb.volarJson<Vm>(["vms", "show", "web"]);
      assert.notEqual(vm.state, "crashed");
      return vm.state === "running" && vm.health === "healthy" ? vm : undefined;
    }, 300_000);

    const volar = `${sb.binDir}/volar --socket ${sb.socket}`;
    const d = sb.dir;
    // The pane records the terminal settings around volar and volar's exit code.
    // Each result file appears whole (written aside, then renamed): the test polls for them.
    const script = `stty -g > ${d}/before; ${volar} vms shell web; echo $? > ${d}/rc.tmp; ` +
      `stty -g > ${d}/after.tmp; mv ${d}/rc.tmp ${d}/rc; mv ${d}/after.tmp ${d}/after; ` +
      `exec sleep 600`;
    await tmux.cmd("new-session", "-d", "-s", "pty", "-x", "100", "-y", "30", script);

    await t.step("a command's output on the terminal", async () => {
      await tmux.waitFor("pty", /[#$] ?$/m);
      await tmux.type("pty", "echo $((6*7))");
      await tmux.waitFor("pty", /^42$/m);
    });

    await t.step("a resize reaches the guest's terminal", async () => {
      await tmux.cmd("resize-window", "-t", "pty", "-x", "120", "-y", "40");
      const from = await tmux.lines("pty");
      await tmux.type("pty", "stty size");
      await tmux.waitFor("pty", /^40 120$/m, from - 1);
    });

    await t.step("Ctrl-C interrupts the running job; the shell lives on", async () => {
      const from = await tmux.lines("pty");
      // The typed line shows "RE%sDY"; only the running command prints READY.
      await tmux.type("pty", "sh -c 'printf \"RE%sDY\\n\" A; exec sleep 100'");
      await tmux.waitFor("pty", /^READY$/m, from - 1);
      await tmux.cmd("send-keys", "-t", "pty", "C-c");
      await tmux.type("pty", "echo rc=$?");
      await tmux.waitFor("pty", /^rc=130$/m, from - 1);
    });

    await t.step("exit 3 is volar's exit code; the terminal is restored", async () => {
      await tmux.type("pty", "exit 3");
      const rc = await until("volar's exit code", () =>
        Deno.readTextFile(`${d}/after`).then(
          () => Deno.readTextFile(`${d}/rc`),
          () => undefined,
        ));
      assert.equal(rc.trim(), "3");
      assert.equal(
        await Deno.readTextFile(`${d}/after`),
        await Deno.readTextFile(`${d}/before`),
        "stty settings differ after volar",
      );
    });

    await t.step("-it without a terminal on stdin: one line, non-zero", async () => {
      const r = await sb.volar(["vms", "exec", "-it", "web", "--", "sh"]);
      assert.notEqual(r.code, 0);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /needs a terminal on stdin/);
    });

    await t.step("a session closed by its terminal leaves nothing in the guest", async () => {
      await tmux.cmd("new-window", "-d", "-t", "pty", "-n", "second", `${volar} vms shell web`);
      await tmux.waitFor("pty:second", /[#$] ?$/m);
      await tmux.type("pty:second", "sleep 300 & sleep 301");
      await until("the second session's sleeps", async () => {
        const ps = await sb.volar(["vms", "exec", "web", "--", "sh", "-c", PS]);
        return /\(sleep\)[\s\S]*\(sleep\)/.test(ps.stdout) ? ps.stdout : undefined;
      });
      // Closing the window hangs up volar's terminal: volar ends the session.
      await tmux.cmd("kill-window", "-t", "pty:second");
      let last = "";
      const left = await until("the guest to be clean", async () => {
        const ps = await sb.volar(["vms", "exec", "web", "--", "sh", "-c", PS]);
        assert.equal(ps.code, 0, ps.stderr);
        last = ps.stdout;
        return /\((sleep|volant-pty)\)| Z /.test(ps.stdout) ? undefined : ps.stdout;
      }).catch((e) => {
        throw new Error(`${e.message}; the guest runs:\n${last}`);
      });
      assert.match(left, /\(httpd\)/, "the listing is the guest's (its workload runs)");
    });
    ok = true;
  } finally {
    await run(["tmux", "-S", tmux.socket, "kill-server"]);
    if (!ok) {
      const kept = await sb.keepSerialLogs(KEEP_LOGS);
      console.error(`pty e2e: logs kept: ${kept.join(", ")}`);
    }
    await sb.close();
  }
});
