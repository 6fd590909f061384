/**
 * The SerialDialer adapter: a VM's serial console is a unix socket of its VMM
 * (QEMU's chardev, Cloud Hypervisor's `--serial socket=`).
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { ByteStream, SerialDialer } from "../service/ports.ts";

/** Dials serial console sockets with `Deno.connect` (a `Deno.UnixConn` is a ByteStream). */
export const unixSerialDialer: SerialDialer = {
  async open(socketPath: string): Promise<ByteStream> {
    try {
      return await Deno.connect({ transport: "unix", path: socketPath });
    } catch (error) {
      throw new VolantError("upstream", `cannot reach the serial console at ${socketPath}`, {
        cause: error,
      });
    }
  },
};
