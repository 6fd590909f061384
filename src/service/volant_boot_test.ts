import assert from "node:assert/strict";
import type { PluginManifest } from "../manifest/mod.ts";
import { kernelIpArg, workloadHealthUrl } from "./volant_boot.ts";

Deno.test("kernel ip= in Volant's form", () => {
  assert.equal(
    kernelIpArg("192.168.127.100", "192.168.127.1", 24, "web"),
    "ip=192.168.127.100::192.168.127.1:255.255.255.0:web:eth0:off",
  );
  assert.equal(
    kernelIpArg("10.0.0.5", "10.0.0.1", 16, "a"),
    "ip=10.0.0.5::10.0.0.1:255.255.0.0:a:eth0:off",
  );
});

Deno.test("health URL: base_url at the VM's address, with the endpoint", () => {
  const m = (base_url: string, endpoint?: string) =>
    ({
      workload: { base_url },
      health_check: endpoint === undefined ? undefined : { endpoint },
    }) as unknown as PluginManifest;
  assert.equal(workloadHealthUrl(m("http://127.0.0.1:80", "/"), "10.0.0.5"), "http://10.0.0.5/");
  assert.equal(
    workloadHealthUrl(m("http://localhost:8080/api/", "/health"), "10.0.0.5"),
    "http://10.0.0.5:8080/api/health",
  );
  assert.equal(workloadHealthUrl(m("http://0.0.0.0:9000"), "10.0.0.5"), "http://10.0.0.5:9000/");
  assert.equal(workloadHealthUrl(m("http://127.0.0.1:80", ""), "10.0.0.5"), "http://10.0.0.5/");
});
