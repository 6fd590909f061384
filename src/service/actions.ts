/**
 * Plugin actions and the workload's OpenAPI document, both reached through
 * kestrel. An action is a manifest entry (method, path, timeout, payload
 * schema); invoking it sends the JSON payload to `/v1<path>` on the guest
 * agent, which forwards it to the workload. The VM's own config manifest is
 * the authority (it is what the guest booted with); the plugin route picks a
 * healthy running VM of the plugin.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { ActionPayload, ActionResult, VmRecord } from "../manifest/api.ts";
import type { PluginManifest } from "../manifest/plugin.ts";
import { checkPayload } from "./action_payload.ts";
import type { ActionServiceApi, PluginServiceApi, VmServiceApi } from "./contracts.ts";
import type { ServiceContext } from "./context.ts";
import type { GuestAgent, GuestResponse } from "./ports.ts";

/** kestrel's own proxy timeout when an action names none (agent/proxy.ts). */
const DEFAULT_ACTION_TIMEOUT_MS = 30_000;
/** Room for kestrel to answer its own 504 before the host gives up. */
const TIMEOUT_MARGIN_MS = 2_000;
const OPENAPI_TIMEOUT_MS = 10_000;

const decoder = new TextDecoder();

function isJson(contentType: string): boolean {
  return /^application\/([a-z0-9.+-]*\+)?json\b/i.test(contentType.trim());
}

/** The body as the client sees it: JSON when it says JSON (and parses), else text. */
function bodyOf(res: GuestResponse): unknown {
  const text = decoder.decode(res.body);
  if (isJson(res.contentType) && text.trim() !== "") {
    try {
      return JSON.parse(text);
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
    }
  }
  return text;
}

export class ActionService implements ActionServiceApi {
  readonly #ctx: ServiceContext;
  readonly #vms: VmServiceApi;
  readonly #plugins: PluginServiceApi;

  constructor(ctx: ServiceContext, vms: VmServiceApi, plugins: PluginServiceApi) {
    this.#ctx = ctx;
    this.#vms = vms;
    this.#plugins = plugins;
  }

  #guest(): GuestAgent & Required<Pick<GuestAgent, "request">> {
    const g = this.#ctx.guest;
    if (!g?.request) throw new VolantError("unavailable", "no guest agent client is configured");
    return g as GuestAgent & Required<Pick<GuestAgent, "request">>;
  }

  #running(vm: VmRecord): VmRecord {
    if (vm.state !== "running") {
      throw new VolantError("conflict", `vm ${vm.name} is ${vm.state}, not running`, {
        problems: [{ field: "vm", message: `is ${vm.state}, not running` }],
      });
    }
    if (!vm.ip) throw new VolantError("upstream", `vm ${vm.name} has no IP address`);
    return vm;
  }

  #manifestOf(vm: string): PluginManifest {
    return this.#vms.getConfig(vm).config.manifest;
  }

  async invokeOnVm(
    vmName: string,
    action: string,
    payload: ActionPayload,
    opts: { plugin?: string; signal?: AbortSignal } = {},
  ): Promise<ActionResult> {
    const vm = this.#vms.get(vmName);
    if (opts.plugin !== undefined && opts.plugin !== vm.plugin) {
      throw new VolantError(
        "conflict",
        `vm ${vm.name} runs plugin ${vm.plugin}, not ${opts.plugin}`,
        { problems: [{ field: "plugin", message: `vm ${vm.name} runs plugin ${vm.plugin}` }] },
      );
    }
    return await this.#invoke(vm, this.#manifestOf(vm.name), action, payload, opts.signal);
  }

  async invokeOnPlugin(
    plugin: string,
    action: string,
    payload: ActionPayload,
    opts: { signal?: AbortSignal } = {},
  ): Promise<ActionResult> {
    const record = this.#plugins.get(plugin);
    // Checked against the installed manifest first: an unknown action is a 404 even with no VM.
    this.#action(record.manifest, action, plugin);
    const candidates = this.#vms.list({
      plugin,
      state: "running",
      limit: 1000,
      offset: 0,
      sort: "name",
      order: "asc",
    }).items.filter((vm) => vm.health === "healthy");
    const vm = candidates[0];
    if (!vm) {
      throw new VolantError("conflict", `no healthy running VM of plugin ${plugin}`, {
        problems: [{ field: "plugin", message: "no healthy running VM of this plugin" }],
      });
    }
    return await this.#invoke(vm, this.#manifestOf(vm.name), action, payload, opts.signal);
  }

  #action(manifest: PluginManifest, action: string, where: string) {
    const a = Object.hasOwn(manifest.actions ?? {}, action) ? manifest.actions![action] : undefined;
    if (!a) {
      const known = Object.keys(manifest.actions ?? {}).sort();
      throw new VolantError(
        "not_found",
        `${where}: plugin ${manifest.name} has no action ${action}` +
          (known.length ? ` (actions: ${known.join(", ")})` : " (it declares no actions)"),
        { problems: [{ field: "action", message: `no such action in plugin ${manifest.name}` }] },
      );
    }
    return a;
  }

  async #invoke(
    vm: VmRecord,
    manifest: PluginManifest,
    action: string,
    payload: ActionPayload,
    signal?: AbortSignal,
  ): Promise<ActionResult> {
    const where = `action ${action} on vm ${vm.name}`;
    const a = this.#action(manifest, action, `vm ${vm.name}`);
    checkPayload(a.payload_schema, payload, where);
    this.#running(vm);
    const method = a.method.toUpperCase();
    const withBody = method !== "GET" && method !== "HEAD";
    let path = `/v1${a.path}`;
    if (!withBody && Object.keys(payload).length > 0) {
      // A GET action carries its payload in the query string (scalars only).
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(payload)) {
        q.set(k, typeof v === "object" && v !== null ? JSON.stringify(v) : String(v));
      }
      path += (path.includes("?") ? "&" : "?") + q.toString();
    }
    const timeoutMs = (a.timeout_ms ?? DEFAULT_ACTION_TIMEOUT_MS) + TIMEOUT_MARGIN_MS;
    const started = performance.now();
    const res = await this.#guest().request(vm.ip, {
      method,
      path,
      body: withBody ? JSON.stringify(payload) : undefined,
      contentType: withBody ? "application/json" : undefined,
      timeoutMs,
      signal,
    });
    const body = bodyOf(res);
    if (res.status < 200 || res.status > 299) {
      const text = typeof body === "string" ? body : JSON.stringify(body);
      throw new VolantError(
        "upstream",
        `${where}: the workload answered HTTP ${res.status}: ${text.slice(0, 300)}`,
        { details: { upstream_status: res.status, upstream_body: body } },
      );
    }
    return {
      vm: vm.name,
      plugin: vm.plugin,
      action,
      status: res.status,
      content_type: res.contentType,
      body,
      duration_ms: Math.round(performance.now() - started),
    };
  }

  async openapi(
    vmName: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ contentType: string; body: Uint8Array }> {
    const vm = this.#vms.get(vmName);
    const ref = this.#manifestOf(vm.name).openapi;
    if (ref === undefined) {
      throw new VolantError("not_found", `plugin ${vm.plugin} declares no openapi document`, {
        problems: [{ field: "openapi", message: "the manifest has no openapi path" }],
      });
    }
    this.#running(vm);
    const res = await this.#guest().request(vm.ip, {
      method: "GET",
      path: `/v1${ref}`,
      timeoutMs: OPENAPI_TIMEOUT_MS,
      signal: opts.signal,
    });
    if (res.status !== 200) {
      throw new VolantError(
        "upstream",
        `vm ${vm.name}: GET ${ref} on the workload answered HTTP ${res.status}`,
        { details: { upstream_status: res.status } },
      );
    }
    const text = decoder.decode(res.body).trimStart();
    // Workloads often serve files as text/plain or octet-stream: name the real type.
    const contentType = isJson(res.contentType) || /yaml/i.test(res.contentType)
      ? res.contentType
      : text.startsWith("{") || text.startsWith("[")
      ? "application/json"
      : "application/yaml";
    return { contentType, body: res.body };
  }
}
