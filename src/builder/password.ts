/**
 * Where fledge gets a secret key's password: `--password-file FILE` (its
 * first line), else `FLEDGE_KEY_PASSWORD`, else a prompt on the terminal
 * with echo off. Without a terminal and without either, a clear usage error.
 *
 * @module
 */
import { VolantError } from "../errors.ts";

const enc = new TextEncoder();

/** Reads one line from the terminal without echoing it. */
async function promptHidden(label: string): Promise<string> {
  Deno.stderr.writeSync(enc.encode(label));
  Deno.stdin.setRaw(true);
  const typed: number[] = [];
  const buf = new Uint8Array(64);
  try {
    while (true) {
      const n = await Deno.stdin.read(buf);
      if (n === null) break;
      for (const b of buf.subarray(0, n)) {
        if (b === 0x0d || b === 0x0a) return new TextDecoder().decode(Uint8Array.from(typed));
        if (b === 0x03) throw new VolantError("usage", "interrupted");
        if (b === 0x7f || b === 0x08) typed.pop();
        else typed.push(b);
      }
    }
    return new TextDecoder().decode(Uint8Array.from(typed));
  } finally {
    Deno.stdin.setRaw(false);
    Deno.stderr.writeSync(enc.encode("\n"));
  }
}

/** Options naming where a password may come from. */
export interface PasswordSource {
  passwordFile?: string;
  /** Ask twice when prompting (a new key). */
  confirm?: boolean;
  /** What the password is for, in messages (`--sign` key, new key). */
  purpose: string;
}

/** The password, or a usage error saying how to give one. */
export async function readPassword(src: PasswordSource): Promise<string> {
  if (src.passwordFile !== undefined) {
    let text: string;
    try {
      text = await Deno.readTextFile(src.passwordFile);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new VolantError("not_found", `--password-file: ${src.passwordFile} does not exist`);
    }
    const line = text.split(/\r?\n/)[0];
    if (line === "") {
      throw new VolantError("invalid_input", `--password-file: ${src.passwordFile} is empty`);
    }
    return line;
  }
  const env = Deno.env.get("FLEDGE_KEY_PASSWORD");
  if (env !== undefined && env !== "") return env;
  if (!Deno.stdin.isTerminal()) {
    throw new VolantError(
      "usage",
      `${src.purpose} needs a password: give --password-file FILE or FLEDGE_KEY_PASSWORD`,
    );
  }
  const first = await promptHidden("Password: ");
  if (src.confirm) {
    const second = await promptHidden("Password (one more time): ");
    if (first !== second) throw new VolantError("invalid_input", "passwords do not match");
    if (first === "") {
      throw new VolantError("invalid_input", "empty password (use -W for an unencrypted key)");
    }
  }
  return first;
}
