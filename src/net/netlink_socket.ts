/**
 * A NETLINK_ROUTE socket over the libc FFI: sends one request, reads its
 * replies (ACK, single answer or multi-part dump) and turns kernel errors into
 * NetErrors. Synchronous on purpose: errno must be read right after each call,
 * and rtnetlink answers in microseconds. A receive timeout bounds a bug.
 *
 * @module
 */
import * as libc from "./_libc.ts";
import { NetError } from "./errno.ts";
import { decodeError, type Message, NLM_F, NLMSG, splitMessages } from "../shared/rtnetlink.ts";

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const NETLINK_ROUTE = 0;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const EINTR = 4;
const EAGAIN = 11;
const MAX_DUMP_RETRIES = 3;

function int32(v: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return b;
}

export class NetlinkSocket {
  #fd: number;
  #seq: number;
  // A dump datagram is at most ~32 KiB (kernel NLMSG_GOODSIZE-based); 64 KiB leaves room.
  #buf = new Uint8Array(64 * 1024);

  private constructor(fd: number) {
    this.#fd = fd;
    this.#seq = Math.floor(Date.now() / 1000) >>> 0;
  }

  /** Opens and binds a route socket with extended ACKs (kernel error text) and capped ACKs. */
  static open(): NetlinkSocket {
    const fd = libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE, "netlink route");
    try {
      const addr = new Uint8Array(12); // sockaddr_nl: family, pad, pid 0 (kernel assigns), groups 0
      new DataView(addr.buffer).setUint16(0, AF_NETLINK, true);
      libc.bind(fd, addr, "netlink route");
      const tv = new Uint8Array(16); // struct timeval {sec, usec}: 5 s
      new DataView(tv.buffer).setBigInt64(0, 5n, true);
      libc.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, "netlink route");
      libc.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, int32(1), "netlink route");
      libc.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, int32(1), "netlink route");
    } catch (e) {
      libc.close(fd);
      throw e;
    }
    return new NetlinkSocket(fd);
  }

  close(): void {
    if (this.#fd >= 0) {
      libc.close(this.#fd);
      this.#fd = -1;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #next(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#seq;
  }

  #send(msg: Uint8Array<ArrayBuffer>, op: string, object: string): void {
    if (this.#fd < 0) throw new Error("netlink socket is closed");
    libc.send(this.#fd, msg, op, object);
  }

  /** Messages of one datagram that answer `seq` (stale replies of earlier requests are skipped). */
  #receive(seq: number, op: string, object: string): Message[] {
    for (;;) {
      let n: number;
      try {
        n = libc.recv(this.#fd, this.#buf, 0, op, object);
      } catch (e) {
        if (e instanceof NetError && e.errno === EINTR) continue;
        if (e instanceof NetError && e.errno === EAGAIN) {
          throw new NetError(op, object, e.errno, "no answer from the kernel within 5 s");
        }
        throw e;
      }
      // Copy: the buffer is reused by the next receive while callers keep the messages.
      const mine = splitMessages(this.#buf.slice(0, n)).filter((m) => m.seq === seq);
      if (mine.length > 0) return mine;
    }
  }

  /** Sends a request built with a fresh sequence number and waits for its ACK. */
  request(build: (seq: number) => Uint8Array<ArrayBuffer>, op: string, object: string): void {
    const seq = this.#next();
    this.#send(build(seq), op, object);
    for (;;) {
      for (const m of this.#receive(seq, op, object)) {
        if (m.type === NLMSG.ERROR) {
          const e = decodeError(m);
          if (e.errno !== 0) throw new NetError(op, object, e.errno, e.message);
          return;
        }
      }
    }
  }

  /** Sends a non-dump GET and returns its single answer. */
  get(build: (seq: number) => Uint8Array<ArrayBuffer>, op: string, object: string): Message {
    const seq = this.#next();
    this.#send(build(seq), op, object);
    for (;;) {
      for (const m of this.#receive(seq, op, object)) {
        if (m.type === NLMSG.ERROR) {
          const e = decodeError(m);
          if (e.errno !== 0) throw new NetError(op, object, e.errno, e.message);
          continue;
        }
        return m;
      }
    }
  }

  /** Runs a dump to NLMSG_DONE; retries when the kernel flags it inconsistent (DUMP_INTR). */
  dump(build: (seq: number) => Uint8Array<ArrayBuffer>, op: string, object: string): Message[] {
    for (let attempt = 0;; attempt++) {
      const seq = this.#next();
      this.#send(build(seq), op, object);
      const out: Message[] = [];
      let interrupted = false;
      let done = false;
      while (!done) {
        for (const m of this.#receive(seq, op, object)) {
          if (m.flags & NLM_F.DUMP_INTR) interrupted = true;
          if (m.type === NLMSG.DONE) {
            // NLMSG_DONE carries an int: 0, or a negative errno if the dump failed.
            const err = m.payload.byteLength >= 4
              ? -new DataView(m.payload.buffer, m.payload.byteOffset, 4).getInt32(0, true)
              : 0;
            if (err > 0) throw new NetError(op, object, err);
            done = true;
            break;
          }
          if (m.type === NLMSG.ERROR) {
            const e = decodeError(m);
            if (e.errno !== 0) throw new NetError(op, object, e.errno, e.message);
            continue;
          }
          out.push(m);
        }
      }
      if (!interrupted || attempt >= MAX_DUMP_RETRIES) return out;
    }
  }
}
