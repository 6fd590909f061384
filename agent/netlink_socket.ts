/**
 * An rtnetlink socket that sends one request at a time and reads its ACK.
 * rtnetlink handles a request inside sendto(2), so the ACK is already queued
 * when sendto returns: the receive is non-blocking and never waits.
 *
 * @module
 */
import * as libc from "./_libc.ts";
import { NETLINK_ROUTE, parseAcks } from "./netlink.ts";

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const MSG_DONTWAIT = 0x40;

/** A netlink request the kernel refused: `what` plus the errno from its ACK. */
export class NetlinkError extends libc.SyscallError {}

export class NetlinkSocket {
  #fd: number;
  #seq = 1;

  constructor() {
    this.#fd = libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE, "netlink");
    const addr = new Uint8Array(12); // sockaddr_nl: family, pad, pid 0 (kernel assigns), groups 0
    new DataView(addr.buffer).setUint16(0, AF_NETLINK, true);
    try {
      libc.bind(this.#fd, addr, "netlink");
    } catch (e) {
      libc.close(this.#fd);
      throw e;
    }
  }

  /** Next sequence number for a message. */
  nextSeq(): number {
    return this.#seq++;
  }

  /**
   * Sends `msg` (built with sequence `seq`) and checks its ACK. `allow` lists
   * errnos that count as success (EEXIST for an address already present).
   */
  request(msg: Uint8Array, seq: number, what: string, allow: number[] = []): void {
    libc.send(this.#fd, new Uint8Array(msg), what);
    const buf = new Uint8Array(8192);
    const n = libc.recv(this.#fd, buf, MSG_DONTWAIT, what);
    const ack = parseAcks(buf.subarray(0, n)).find((a) => a.seq === seq);
    if (!ack) throw new NetlinkError("netlink", `${what}: no ACK`, libc.Errno.EINVAL);
    if (ack.errno !== 0 && !allow.includes(ack.errno)) {
      throw new NetlinkError("netlink", what, ack.errno);
    }
  }

  close(): void {
    libc.close(this.#fd);
  }
}
