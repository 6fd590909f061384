/**
 * Per-key validation of configuration values, shared by every source
 * (flags, env, file). Values from flags and env arrive as strings and are
 * coerced here; values from TOML arrive typed.
 *
 * @module
 */
import { z } from "zod";
import type { ConfigKey } from "./defaults.ts";

const absPath = z.string().regex(/^\//, "must be an absolute path");
const optionalAbsPath = z.union([z.literal(""), absPath]);
const ipv4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const optionalIpv4 = z.union([z.literal(""), z.string().regex(ipv4, "must be an IPv4 address")]);

/** `HOST:PORT` with a port in 1..65535, or empty. */
const listen = z.union([
  z.literal(""),
  z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/, "must be HOST:PORT")
    .refine((v) => {
      const port = Number(v.slice(v.lastIndexOf(":") + 1));
      return port >= 1 && port <= 65535;
    }, "port must be 1-65535"),
]);

/** IPv4 CIDR with a prefix that leaves room for a gateway and at least one VM. */
const subnet = z.string().regex(
  /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/,
  "must be an IPv4 CIDR such as 192.168.127.0/24",
).refine((v) => {
  const [addr, prefix] = v.split("/");
  return ipv4.test(addr) && Number(prefix) >= 8 && Number(prefix) <= 30;
}, "must be an IPv4 CIDR with a prefix from /8 to /30");

/** A boolean: typed in TOML; `true|false|1|0` from flags and env (a bare flag is `true`). */
const bool = z.union([
  z.boolean(),
  z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1"),
], { error: "must be true or false" });

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** The schema of each key. */
export const KEY_SCHEMAS: Record<ConfigKey, z.ZodType> = {
  state_dir: absPath,
  socket: absPath,
  listen,
  bridge: z.string().regex(
    /^[A-Za-z0-9_.-]{1,15}$/,
    "must be an interface name of 1-15 letters, digits, '_', '.', '-'",
  ),
  subnet,
  pool_start: optionalIpv4,
  pool_end: optionalIpv4,
  dns: z.union([
    z.literal(""),
    z.literal("none"),
    z.string().refine(
      (v) => v.split(",").every((s) => ipv4.test(s.trim())),
      'must be a comma-separated list of IPv4 addresses, "none", or empty (the host\'s resolvers)',
    ),
  ]),
  mtu: int(576, 65535),
  hypervisor: z.enum(["qemu", "cloud-hypervisor"]),
  accel: z.enum(["auto", "kvm", "tcg"]),
  machine: z.enum(["microvm", "q35"]),
  runtime_dir: absPath,
  cache_dir: absPath,
  kernel: optionalAbsPath,
  agent_image: optionalAbsPath,
  boot_initramfs: optionalAbsPath,
  serial_log_max_bytes: int(64 * 1024, 1024 * 1024 * 1024),
  stop_grace_seconds: int(0, 3600),
  log_level: z.enum(["debug", "info", "warn", "error"]),
  allow_private_sources: bool,
  download_max_bytes: int(1024 * 1024, 1024 ** 4),
  download_timeout_seconds: int(1, 3600),
  require_signatures: bool,
  warm_start: bool,
  jail: bool,
  vmm_memory_overhead_mb: int(16, 65536),
  vmm_user: z.string().regex(
    /^([a-z_][a-z0-9_-]{0,31}|\d+:\d+)$/,
    "must be a user name or UID:GID",
  ),
};
