/**
 * Power-button detection: the event layout, and the watcher reading a real
 * FIFO named like an evdev node (the kernel's /dev/input/event* cannot be
 * created on the host; the read path is the same file read).
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { INPUT_EVENT_SIZE, isPowerPress, watchPowerButton } from "./power_button.ts";

function event(type: number, code: number, value: number): Uint8Array {
  const b = new Uint8Array(INPUT_EVENT_SIZE);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, 1234n, true); // tv_sec
  v.setUint16(16, type, true);
  v.setUint16(18, code, true);
  v.setInt32(20, value, true);
  return b;
}

Deno.test("isPowerPress: only EV_KEY/KEY_POWER/value 1", () => {
  assert(isPowerPress(event(1, 116, 1)));
  assert(!isPowerPress(event(1, 116, 0)), "release");
  assert(!isPowerPress(event(1, 30, 1)), "another key");
  assert(!isPowerPress(event(0, 0, 0)), "EV_SYN");
});

Deno.test("watchPowerButton: calls back on a press read from an event device", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kestrel-input-" });
  try {
    const fifo = `${dir}/event0`;
    const mk = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert(mk.success, "mkfifo (coreutils) is needed");
    await Deno.writeTextFile(`${dir}/mouse0`, "not an event device");
    let presses = 0;
    const errors: string[] = [];
    const pressed = Promise.withResolvers<void>();
    const ended = Promise.withResolvers<void>();
    const devices = watchPowerButton(
      () => {
        presses++;
        pressed.resolve();
      },
      (m) => errors.push(m),
      dir,
      () => ended.resolve(),
    );
    assertEquals(devices, [fifo]);
    const w = await Deno.open(fifo, { write: true });
    const batch = new Uint8Array(INPUT_EVENT_SIZE * 3);
    batch.set(event(1, 30, 1), 0);
    batch.set(event(1, 116, 1), INPUT_EVENT_SIZE);
    batch.set(event(0, 0, 0), INPUT_EVENT_SIZE * 2);
    await w.write(batch);
    await pressed.promise;
    w.close(); // EOF ends the watcher
    await ended.promise; // every byte read: a second press would have been counted by now
    assertEquals(presses, 1);
    assertEquals(errors, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
