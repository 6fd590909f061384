/**
 * GET /api/v1/system/info and GET /healthz.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import type { SystemServiceApi } from "../../service/contracts.ts";
import { json, newRouter } from "../router.ts";
import { Health, PciList, SystemInfo } from "../schemas.ts";

const info = createRoute({
  method: "get",
  path: "/info",
  tags: ["system"],
  summary: "Daemon version, hypervisor, network and counts",
  responses: { 200: { description: "System info", content: json(SystemInfo) } },
});

const pci = createRoute({
  method: "get",
  path: "/pci",
  tags: ["system"],
  summary: "Host PCI devices a VM could be given (VFIO), and whether this host can pass any",
  responses: {
    200: { description: "Candidate devices with their IOMMU groups", content: json(PciList) },
  },
});

const health = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["system"],
  summary: "Liveness probe",
  responses: { 200: { description: "The daemon answers", content: json(Health) } },
});

/** /api/v1/system router. */
export function systemRoutes(system: SystemServiceApi) {
  const app = newRouter();
  app.openapi(info, async (c) => c.json(await system.info(), 200));
  app.openapi(pci, async (c) =>
    c.json(
      system.pci
        ? await system.pci()
        : { available: false, reason: "PCI passthrough is not set up in volantd", items: [] },
      200,
    ));
  return app;
}

/** Root router holding /healthz. */
export function healthRoutes() {
  const app = newRouter();
  app.openapi(health, (c) => c.json({ status: "ok" as const }, 200));
  return app;
}
