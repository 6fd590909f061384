import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { findAgentPort, hasVirtioVsock } from "./channel_port.ts";

Deno.test("the agent port is found by name in a sysfs tree; other ports and no tree are none", () => {
  const sys = Deno.makeTempDirSync();
  try {
    assertEquals(findAgentPort(`${sys}/absent`), null);
    for (
      const [port, name, dev] of [["vport1p1", "other", "250:1"], [
        "vport2p1",
        "org.volant.agent",
        "249:1",
      ]]
    ) {
      Deno.mkdirSync(`${sys}/${port}`);
      Deno.writeTextFileSync(`${sys}/${port}/name`, `${name}\n`);
      Deno.writeTextFileSync(`${sys}/${port}/dev`, `${dev}\n`);
    }
    assertEquals(findAgentPort(sys, "/dev"), { path: "/dev/vport2p1", major: 249, minor: 1 });
  } finally {
    Deno.removeSync(sys, { recursive: true });
  }
});

Deno.test("a virtio vsock device (id 0x0013) is seen among virtio devices", () => {
  const sys = Deno.makeTempDirSync();
  try {
    assertEquals(hasVirtioVsock(`${sys}/absent`), false);
    Deno.mkdirSync(`${sys}/virtio0`);
    Deno.writeTextFileSync(`${sys}/virtio0/device`, "0x0002\n");
    assertEquals(hasVirtioVsock(sys), false);
    Deno.mkdirSync(`${sys}/virtio1`);
    Deno.writeTextFileSync(`${sys}/virtio1/device`, "0x0013\n");
    assertEquals(hasVirtioVsock(sys), true);
  } finally {
    Deno.removeSync(sys, { recursive: true });
  }
});
