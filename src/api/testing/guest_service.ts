/**
 * A real GuestService over a stub VmServiceApi, for route tests: the agent is
 * reached through the GuestAgent port (a real GuestClient pointed at a local
 * server, by default) and the serial console through the SerialDialer port
 * (whatever the test hands in: a unix socket or an in-memory stream).
 *
 * @module
 */
import { GuestClient } from "../../guest/client.ts";
import type { VmServiceApi } from "../../service/contracts.ts";
import type { ServiceContext } from "../../service/context.ts";
import { GuestService } from "../../service/guest_service.ts";
import type { GuestAgent, SerialDialer } from "../../service/ports.ts";

export interface TestGuestOptions {
  /** Port of the local "agent" server (GuestClient on 127.0.0.1). */
  agentPort?: number;
  guest?: GuestAgent;
  serial?: SerialDialer;
  /** Where `<name>/agent.key` files are looked for (default: a dir with none). */
  runtimeDir?: string;
}

export function testGuestService(vms: VmServiceApi, o: TestGuestOptions = {}): GuestService {
  const ctx = {
    guest: o.guest ?? new GuestClient({ port: o.agentPort }),
    serial: o.serial,
    options: { runtimeDir: o.runtimeDir ?? "/nonexistent/volant-test-runtime" },
  } as unknown as ServiceContext;
  return new GuestService(ctx, vms);
}
