/**
 * The deployments part of the typed client: `client.deployments.list()`,
 * `.get()`, `.create()`, `.patch()` (scale / config / strategy),
 * `.rollback()`, `.delete()`; every answer checked against the shared schemas.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type {
  CreateDeploymentBody,
  DeploymentRecord,
  PatchDeploymentBody,
} from "../manifest/deployment.ts";
import { checkResponse } from "./check.ts";
import type { BufferedResponse, Transport } from "./transport.ts";

async function body(res: BufferedResponse): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new VolantError(
      "upstream",
      `volantd sent a deployment that is not JSON: ${text.slice(0, 80)}`,
    );
  }
}

const at = (name: string) => `/api/v1/deployments/${encodeURIComponent(name)}`;

export class DeploymentClient {
  readonly #t: Transport;

  constructor(transport: Transport) {
    this.#t = transport;
  }

  async #one(method: string, path: string, payload?: unknown): Promise<DeploymentRecord> {
    const res = await this.#t.request({ method, path, body: payload, buffered: true });
    return checkResponse("DeploymentRecord", await body(res), "deployment");
  }

  async list(): Promise<DeploymentRecord[]> {
    const res = await this.#t.request({ path: "/api/v1/deployments", buffered: true });
    return (await checkResponse("DeploymentList", await body(res), "deployment list")).items;
  }

  get(name: string): Promise<DeploymentRecord> {
    return this.#one("GET", at(name));
  }

  create(payload: CreateDeploymentBody): Promise<DeploymentRecord> {
    return this.#one("POST", "/api/v1/deployments", payload);
  }

  patch(name: string, payload: PatchDeploymentBody): Promise<DeploymentRecord> {
    return this.#one("PATCH", at(name), payload);
  }

  rollback(name: string): Promise<DeploymentRecord> {
    return this.#one("POST", `${at(name)}/rollback`);
  }

  delete(name: string): Promise<DeploymentRecord> {
    return this.#one("DELETE", at(name));
  }
}
