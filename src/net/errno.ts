/**
 * The typed error every failing syscall or netlink request in src/net becomes
 * (errno names from the shared table, src/shared/errno.ts).
 *
 * @module
 */
import { type ErrorCode, VolantError } from "../errors.ts";
import { errnoDescription, errnoName, errnoNumber } from "../shared/errno.ts";

export { errnoName, errnoNumber };

function codeFor(errno: number): ErrorCode {
  switch (errnoName(errno)) {
    case "EEXIST":
    case "EBUSY":
    case "EADDRINUSE":
      return "conflict";
    case "ENODEV":
    case "ENOENT":
    case "ENXIO":
    case "EADDRNOTAVAIL":
      return "not_found";
    case "EPERM":
    case "EACCES":
      return "forbidden";
    case "EINVAL":
    case "ERANGE":
      return "invalid_input";
    default:
      return "internal";
  }
}

/** A failed syscall or netlink request: names the operation, the object and the errno. */
export class NetError extends VolantError {
  readonly op: string;
  readonly object: string;
  readonly errno: number;
  readonly errnoName: string;

  constructor(op: string, object: string, errno: number, kernelMessage?: string) {
    const name = errnoName(errno);
    const desc = errnoDescription(errno);
    const hint = name === "EPERM" || name === "EACCES"
      ? " (host networking needs root or CAP_NET_ADMIN)"
      : "";
    const extra = kernelMessage ? `: ${kernelMessage}` : "";
    super(codeFor(errno), `${op} ${object}: ${name} (${desc})${extra}${hint}`, {
      details: { op, object, errno, errnoName: name, ...(kernelMessage ? { kernelMessage } : {}) },
    });
    this.name = "NetError";
    this.op = op;
    this.object = object;
    this.errno = errno;
    this.errnoName = name;
  }
}

/** True when `error` is a NetError carrying errno `name` (`"EEXIST"`). */
export function isErrno(error: unknown, name: string): error is NetError {
  return error instanceof NetError && error.errnoName === name;
}
