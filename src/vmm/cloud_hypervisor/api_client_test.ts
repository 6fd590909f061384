/**
 * The REST client against the CONTRACT FAKE of Cloud Hypervisor's API
 * (src/vmm/testing/fake_ch_api.ts, which mirrors upstream v53.0 and names the
 * lines) over a real unix socket: endpoints, bodies, status codes, state
 * transitions, snapshot/restore preconditions, and how errors surface.
 */
import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { isVolantError } from "../../errors.ts";
import { ChApiClient } from "./api_client.ts";
import { FakeChApi, serveFakeChApi } from "../testing/fake_ch_api.ts";

async function withFake(
  fn: (client: ChApiClient, api: FakeChApi, dir: string, events: string[]) => Promise<void>,
  boot = true,
) {
  const dir = await Deno.makeTempDir({ prefix: "volant-ch-api-" });
  const events: string[] = [];
  const api = new FakeChApi({
    onPowerButton: () => events.push("power-button"),
    onVmmShutdown: () => events.push("vmm-shutdown"),
  });
  if (boot) api.createAndBoot({ cpus: { boot_vcpus: 1 } });
  const server = serveFakeChApi(`${dir}/api.sock`, api);
  try {
    await fn(new ChApiClient(`${dir}/api.sock`), api, dir, events);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

async function raw(socket: string, method: string, endpoint: string): Promise<Response> {
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  try {
    const res = await fetch(`http://localhost/api/v1/${endpoint}`, { method, client });
    await res.body?.cancel();
    return res;
  } finally {
    client.close();
  }
}

Deno.test("CH API: ping, info, pause, snapshot, resume, power button, shutdowns", async () => {
  await withFake(async (c, api, dir, events) => {
    assertEquals((await c.ping()).version, "53.0.0");
    const info = await c.vmInfo();
    assertEquals(info.state, "Running");
    assertEquals(info.config, { cpus: { boot_vcpus: 1 } });
    await c.pause();
    assertEquals((await c.vmInfo()).state, "Paused");
    await Deno.mkdir(`${dir}/snap`);
    await c.snapshot(`file://${dir}/snap`);
    assertEquals(api.snapshots, [`file://${dir}/snap`]);
    for (const f of ["config.json", "state.json", "memory-ranges"]) {
      ok((await Deno.stat(`${dir}/snap/${f}`)).isFile, f);
    }
    await c.resume();
    assertEquals((await c.vmInfo()).state, "Running");
    await c.powerButton();
    await c.shutdownVm();
    // After vm.shutdown the VM object is gone and the config stays: Created, not Shutdown.
    assertEquals((await c.vmInfo()).state, "Created");
    await c.shutdownVmm(); // 200 with no body; the VMM exits right after answering
    await new Promise((r) => setTimeout(r, 50));
    assertEquals(events, ["power-button", "vmm-shutdown"]);
    assertEquals(api.calls.at(-1), "PUT vmm.shutdown");
  });
});

Deno.test("CH API: status codes as upstream: 404 no VM, 400 wrong method, 404 path, 200 vmm.shutdown", async () => {
  await withFake(async (c, _api, dir) => {
    const sock = `${dir}/api.sock`;
    assertEquals((await raw(sock, "GET", "vm.info")).status, 404);
    assertEquals((await raw(sock, "PUT", "vm.info")).status, 400);
    assertEquals((await raw(sock, "GET", "vm.pause")).status, 400);
    assertEquals((await raw(sock, "GET", "vm.nonsense")).status, 404);
    assertEquals((await raw(sock, "PUT", "vm.pause")).status, 500); // VmNotRunning
    await rejects(c.vmInfo(), (e) => isVolantError(e, "upstream") && e.details.status === 404);
    assertEquals((await raw(sock, "PUT", "vmm.shutdown")).status, 200);
  }, false);
});

Deno.test("CH API: an invalid transition is a 500 upstream error carrying CH's message", async () => {
  await withFake(async (c) => {
    await rejects(c.resume(), (e) => {
      return isVolantError(e, "upstream") &&
        /InvalidStateTransition\(Running, Running\)/.test(e.message) &&
        e.details.status === 500;
    });
  });
});

Deno.test("CH API: snapshot needs a paused VM and an existing, fresh directory", async () => {
  await withFake(async (c, _api, dir) => {
    await Deno.mkdir(`${dir}/snap`);
    await rejects(c.snapshot(`file://${dir}/snap`), /not paused/); // running
    await c.pause();
    await rejects(c.snapshot(`file://${dir}/missing`), /Destination is not a directory/);
    await rejects(c.snapshot(`${dir}/snap`), /Could not extract path from URL/);
    await c.snapshot(`file://${dir}/snap`);
    await rejects(c.snapshot(`file://${dir}/snap`), /File exists/); // no overwrite
  });
});

Deno.test("CH API: restore only on an empty VMM, then paused until resumed", async () => {
  await withFake(async (c, api, dir) => {
    await Deno.mkdir(`${dir}/snap`);
    await Deno.writeTextFile(
      `${dir}/snap/config.json`,
      JSON.stringify({ cpus: { boot_vcpus: 2 } }),
    );
    await Deno.writeTextFile(`${dir}/snap/state.json`, "{}");
    await rejects(c.vmInfo(), (e) => isVolantError(e, "upstream"));
    await c.restore(`file://${dir}/snap`, { prefault: true });
    assertEquals(api.restoredFrom, `file://${dir}/snap`);
    assertEquals((await c.vmInfo()).state, "Paused");
    await c.resume();
    assertEquals((await c.vmInfo()).state, "Running");
    // A VMM that has a VM refuses a second restore.
    await rejects(c.restore(`file://${dir}/snap`), /VmAlreadyCreated/);
  }, false);
});

Deno.test("CH API: restore on a VMM started with a kernel is VmAlreadyCreated", async () => {
  await withFake(async (c, _api, dir) => {
    await Deno.mkdir(`${dir}/snap`);
    await rejects(c.restore(`file://${dir}/snap`), (e) => {
      return isVolantError(e, "upstream") && /VmAlreadyCreated/.test(e.message);
    });
  });
});

Deno.test("CH API: a missing socket is `unavailable`", async () => {
  await rejects(new ChApiClient("/nonexistent/api.sock").ping(), (e) => {
    return isVolantError(e, "unavailable");
  });
});
