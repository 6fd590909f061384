/**
 * The REST client against the CONTRACT FAKE of Cloud Hypervisor's API
 * (fake_api.ts) over a real unix socket: the documented endpoints, bodies and
 * state transitions, and how errors surface.
 */
import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import { isVolantError } from "../../errors.ts";
import { ChApiClient } from "./api_client.ts";
import { FakeChApi, serveFakeChApi } from "./fake_api.ts";

async function withFake(
  fn: (client: ChApiClient, api: FakeChApi, events: string[]) => Promise<void>,
  initial: "Running" | null = "Running",
) {
  const dir = await Deno.makeTempDir({ prefix: "volant-ch-api-" });
  const events: string[] = [];
  const api = new FakeChApi({ cpus: { boot_vcpus: 1 } }, {
    onPowerButton: () => events.push("power-button"),
    onVmmShutdown: () => events.push("vmm-shutdown"),
  }, initial);
  const server = serveFakeChApi(`${dir}/api.sock`, api);
  try {
    await fn(new ChApiClient(`${dir}/api.sock`), api, events);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("CH API: ping, info, pause, snapshot, resume, power button, shutdowns", async () => {
  await withFake(async (c, api, events) => {
    assertEquals((await c.ping()).version, "v51.0-contract-fake");
    const info = await c.vmInfo();
    assertEquals(info.state, "Running");
    assertEquals(info.config, { cpus: { boot_vcpus: 1 } });
    await c.pause();
    assertEquals((await c.vmInfo()).state, "Paused");
    await c.snapshot("file:///var/lib/volant/snapshots/web");
    assertEquals(api.snapshots, ["file:///var/lib/volant/snapshots/web"]);
    await c.resume();
    assertEquals((await c.vmInfo()).state, "Running");
    await c.powerButton();
    await c.shutdownVm();
    assertEquals((await c.vmInfo()).state, "Shutdown");
    await c.shutdownVmm();
    await new Promise((r) => setTimeout(r, 10));
    assertEquals(events, ["power-button", "vmm-shutdown"]);
    assertEquals(api.calls, [
      "GET vmm.ping",
      "GET vm.info",
      "PUT vm.pause",
      "GET vm.info",
      "PUT vm.snapshot",
      "PUT vm.resume",
      "GET vm.info",
      "PUT vm.power-button",
      "PUT vm.shutdown",
      "GET vm.info",
      "PUT vmm.shutdown",
    ]);
  });
});

Deno.test("CH API: an invalid transition is an upstream error carrying CH's message", async () => {
  await withFake(async (c) => {
    await rejects(c.resume(), (e) => {
      return isVolantError(e, "upstream") && /InvalidStateTransition/.test(e.message) &&
        e.details.status === 500;
    });
    await rejects(c.snapshot("file:///x"), (e) => isVolantError(e, "upstream"));
  });
});

Deno.test("CH API: restore on an empty VMM leaves the VM paused", async () => {
  await withFake(async (c, api) => {
    await rejects(c.vmInfo(), (e) => isVolantError(e, "upstream"));
    await c.restore("file:///var/lib/volant/snapshots/web", { prefault: true });
    assertEquals(api.restoredFrom, "file:///var/lib/volant/snapshots/web");
    assertEquals((await c.vmInfo()).state, "Paused");
    await c.resume();
    assertEquals((await c.vmInfo()).state, "Running");
  }, null);
});

Deno.test("CH API: a missing socket is `unavailable`", async () => {
  await rejects(new ChApiClient("/nonexistent/api.sock").ping(), (e) => {
    return isVolantError(e, "unavailable");
  });
});
