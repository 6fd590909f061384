import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { argsMatch, isSameLiveProcess, parseStat, readCmdline, readStat } from "./proc.ts";

Deno.test("parseStat counts fields after the last ')' of the command name", () => {
  const tail = Array.from({ length: 50 }, (_, i) => String(i + 3)).join(" ");
  const fields = tail.split(" ");
  fields[0] = "S";
  const line = `1234 (we ird) (name)) ${fields.join(" ")}\n`;
  const s = parseStat(line);
  assertEquals(s.pid, 1234);
  assertEquals(s.state, "S");
  assertEquals(s.ppid, 4);
  assertEquals(s.startTime, "22");
});

Deno.test("parseStat rejects garbage", () => {
  assertThrows(() => parseStat("garbage"));
});

Deno.test("our own process is identified by start time and argv; a wrong start time is not", async () => {
  const stat = await readStat(Deno.pid);
  if (!stat) throw new Error("no /proc/self");
  const argv = await readCmdline(Deno.pid);
  assertEquals(
    await isSameLiveProcess({ pid: Deno.pid, startTime: stat.startTime, argv: argv! }),
    true,
  );
  assertEquals(await isSameLiveProcess({ pid: Deno.pid, startTime: "1" }), false);
  assertEquals(
    await isSameLiveProcess({ pid: Deno.pid, startTime: stat.startTime, argv: ["x", "nope"] }),
    false,
  );
});

Deno.test("a pid that does not exist is not alive", async () => {
  assertEquals(await readStat(2 ** 22 + 7), null);
  assertEquals(await isSameLiveProcess({ pid: 2 ** 22 + 7, startTime: "0" }), false);
});

Deno.test("argsMatch compares the arguments after argv[0], allowing an interpreter prefix", () => {
  assertEquals(argsMatch(["/usr/bin/q", "-a", "x"], ["/usr/bin/q", "-a", "x"]), true);
  assertEquals(argsMatch(["/bin/deno", "run", "f.ts", "-a", "x"], ["/tmp/ch", "-a", "x"]), true);
  assertEquals(argsMatch(["/usr/bin/q", "-a", "y"], ["/usr/bin/q", "-a", "x"]), false);
  assertEquals(argsMatch(["-a", "x"], ["/usr/bin/q", "-a", "x"]), false);
});
