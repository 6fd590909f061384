/**
 * Only the host may talk to kestrel: every API request must carry the VM's
 * agent key (`volant.agent_key` on the kernel command line, header
 * `x-volant-agent-key`). A bridge peer (another guest) does not know it and
 * gets 401 for every path, /healthz included; each refusal is logged on the
 * console, at most {@linkcode LOG_BURST} lines per {@linkcode LOG_WINDOW_MS}
 * so a flood cannot fill the serial log.
 *
 * @module
 */
import { AGENT_KEY_HEADER } from "../src/manifest/cmdline.ts";
import { problem } from "./problem.ts";

const LOG_BURST = 10;
const LOG_WINDOW_MS = 10_000;

/** Compares two strings in time independent of where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ (y[i % Math.max(y.length, 1)] ?? 0);
  return diff === 0;
}

/** Checks requests against `key`; returns the 401 to send, or null when the request may pass. */
export type AgentGate = (req: Request, peer: string) => Response | null;

/**
 * The key to check now: a string; `undefined` = none (every request passes);
 * `null` = one is expected but not yet known (the agent channel's hello
 * brings it): every request is refused until then.
 */
export type KeySource = () => string | null | undefined;

/**
 * The gate for `key`. Without a key (a guest booted by hand, host-mode tests)
 * every request passes; kestrel says so on the console at start.
 */
export function agentGate(
  keyOrSource: string | undefined | KeySource,
  log: (line: string) => void,
): AgentGate {
  // A source: the key arrives over the channel, and a restored clone's is replaced (identity.ts).
  const current: KeySource = typeof keyOrSource === "function" ? keyOrSource : () => keyOrSource;
  let windowStart = 0;
  let logged = 0;
  let suppressed = 0;
  return (req, peer) => {
    const key = current();
    if (key === undefined) return null;
    const given = req.headers.get(AGENT_KEY_HEADER);
    if (given !== null && key !== null && sameSecret(given, key)) return null;
    const now = Date.now();
    if (now - windowStart >= LOG_WINDOW_MS) {
      if (suppressed > 0) log(`api: ${suppressed} more unauthenticated requests refused`);
      windowStart = now;
      logged = 0;
      suppressed = 0;
    }
    const path = new URL(req.url).pathname;
    if (logged++ < LOG_BURST) {
      log(
        `api: refused ${req.method} ${path} from ${peer}: ` +
          (key === null
            ? "no key from the host yet"
            : given === null
            ? "no agent key"
            : "wrong agent key"),
      );
    } else suppressed++;
    const res = problem(401, "unauthorized", "this API answers only the VM's host");
    res.headers.set("www-authenticate", 'VolantAgentKey realm="kestrel"');
    return res;
  };
}
