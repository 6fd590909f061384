import { assertEquals } from "./testdata/assert.ts";
import { VolantError } from "../errors.ts";
import { errnoName, errnoNumber, isErrno, NetError } from "./errno.ts";

Deno.test("NetError names the operation, the object and the errno, and maps to a code", () => {
  const e = new NetError("create bridge", "vbr0", 17);
  assertEquals(e instanceof VolantError, true);
  assertEquals(e.message, "create bridge vbr0: EEXIST (file exists)");
  assertEquals([e.code, e.errnoName, e.details.op, e.details.object], [
    "conflict",
    "EEXIST",
    "create bridge",
    "vbr0",
  ]);
  assertEquals(new NetError("x", "y", 19).code, "not_found");
  assertEquals(new NetError("x", "y", 16).code, "conflict");
  const perm = new NetError("socket", "netlink route", 1);
  assertEquals(perm.code, "forbidden");
  assertEquals(
    perm.message,
    "socket netlink route: EPERM (operation not permitted) (host networking needs root or CAP_NET_ADMIN)",
  );
  assertEquals(
    new NetError("add address", "vbr0", 17, "ipv4: Address already assigned").message,
    "add address vbr0: EEXIST (file exists): ipv4: Address already assigned",
  );
  assertEquals(isErrno(e, "EEXIST"), true);
  assertEquals([errnoName(4242), errnoNumber("ENODEV")], ["errno 4242", 19]);
});
