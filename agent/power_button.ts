/**
 * The ACPI power button: QMP `system_powerdown` (and a host's ACPI shutdown)
 * only delivers a KEY_POWER press on an evdev device, so PID 1 reads every
 * /dev/input/event* and calls back on the first press.
 *
 * @module
 */

/** sizeof(struct input_event) on 64-bit: struct timeval (16) + type u16 + code u16 + value s32. */
export const INPUT_EVENT_SIZE = 24;
export const EV_KEY = 1;
export const KEY_POWER = 116;

/** True when `buf` holds (at `offset`) a KEY_POWER press. */
export function isPowerPress(buf: Uint8Array, offset = 0): boolean {
  const v = new DataView(buf.buffer, buf.byteOffset + offset, INPUT_EVENT_SIZE);
  return v.getUint16(16, true) === EV_KEY && v.getUint16(18, true) === KEY_POWER &&
    v.getInt32(20, true) === 1;
}

async function watchDevice(path: string, onPress: () => void): Promise<void> {
  using file = await Deno.open(path, { read: true });
  const buf = new Uint8Array(INPUT_EVENT_SIZE * 16);
  for (;;) {
    const n = await file.read(buf);
    if (n === null) return;
    for (let off = 0; off + INPUT_EVENT_SIZE <= n; off += INPUT_EVENT_SIZE) {
      if (isPowerPress(buf, off)) onPress();
    }
  }
}

/**
 * Watches every /dev/input/event* (in `dir`); returns the devices watched.
 * `onEnd` is told when a device's watch ends (EOF or error), for tests.
 */
export function watchPowerButton(
  onPress: () => void,
  onError: (message: string) => void,
  dir = "/dev/input",
  onEnd: (path: string) => void = () => {},
): string[] {
  const devices: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (e.name.startsWith("event")) devices.push(`${dir}/${e.name}`);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  for (const path of devices) {
    watchDevice(path, onPress)
      .catch((e) => onError(`${path}: ${(e as Error).message}`))
      .finally(() => onEnd(path));
  }
  return devices;
}
