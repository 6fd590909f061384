import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { parseCpuKhz } from "./host.ts";

Deno.test("parseCpuKhz reads the first cpu MHz line", () => {
  assertEquals(parseCpuKhz("processor\t: 0\ncpu MHz\t\t: 2096.004\ncpu MHz : 1.0\n"), 2096004);
  assertEquals(parseCpuKhz("no frequency here"), null);
});
