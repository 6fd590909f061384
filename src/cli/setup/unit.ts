/**
 * The systemd unit `volar setup` writes for volantd. Pure and deterministic,
 * so a second setup sees the same bytes and changes nothing.
 *
 * Hardening keeps what volantd needs: root with CAP_NET_ADMIN (bridge, TAPs,
 * nftables), /dev/kvm and /dev/net/tun (so no PrivateDevices), spawning VMMs
 * (no MemoryDenyWriteExecute: V8 and QEMU's TCG generate code), and writes
 * only to its state, runtime, log and cache dirs.
 *
 * @module
 */
import { guestPaths, SETUP_DEFAULTS, type SetupOptions } from "./options.ts";

/** First line of every unit setup writes: marks the file as ours. */
export const UNIT_MARKER = "# Written by `volar setup`; `volar setup --uninstall` removes it.";

export interface UnitInput {
  options: SetupOptions;
  /** Absolute path of volantd (a persona link). */
  volantd: string;
  /** The deno binary, for a bundle-shape install (VOLANT_DENO); undefined when compiled. */
  deno?: string;
}

/** The unit's text. */
export function renderUnit(u: UnitInput): string {
  const o = u.options;
  const g = guestPaths(o.workDir);
  const exec = [
    u.volantd,
    `--state-dir ${o.workDir}`,
    `--runtime-dir ${o.runtimeDir}`,
    `--bridge ${o.bridge}`,
    `--subnet ${o.subnet}`,
    `--kernel ${g.vmlinux}`,
    `--agent-image ${g.agentImage}`,
    `--boot-initramfs ${g.bootInitramfs}`,
  ].join(" ");
  const env = [
    `DENO_DIR=${SETUP_DEFAULTS.cacheDir}/deno`,
    "DENO_NO_UPDATE_CHECK=1",
    ...(u.deno ? [`VOLANT_DENO=${u.deno}`] : []),
  ];
  const writable = [o.workDir, SETUP_DEFAULTS.socketDir, o.runtimeDir, o.logDir].filter((
    p,
    i,
    all,
  ) => all.indexOf(p) === i).map((p) => `-${p}`);
  const log = `${o.logDir}/volantd.log`;
  return [
    UNIT_MARKER,
    "[Unit]",
    "Description=Volant control plane (volantd)",
    "Documentation=https://github.com/volantvm/volant/blob/main/docs/install.md",
    "After=network-online.target nftables.service",
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${exec}`,
    `WorkingDirectory=${o.workDir}`,
    ...env.map((e) => `Environment=${e}`),
    "Restart=on-failure",
    "RestartSec=2",
    "# VMMs run in sessions of their own: stopping or restarting volantd leaves VMs",
    "# running, and the restarted daemon adopts them.",
    "KillMode=process",
    `StandardOutput=append:${log}`,
    `StandardError=append:${log}`,
    "# /run/volant holds the API socket and per-VM runtime dirs: kept across restarts.",
    "RuntimeDirectory=volant",
    "RuntimeDirectoryMode=0755",
    "RuntimeDirectoryPreserve=yes",
    "# /var/cache/volant (DENO_DIR of a bundle install): made and kept writable by systemd.",
    "CacheDirectory=volant",
    "LimitNOFILE=1048576",
    "TasksMax=infinity",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    `ReadWritePaths=${writable.join(" ")}`,
    // A Deno or volantd under /root or /home (a user install) must stay reachable.
    `ProtectHome=${
      [u.volantd, u.deno ?? ""].some((p) => /^\/(root|home)\//.test(p)) ? "read-only" : "yes"
    }`,
    "PrivateTmp=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "RestrictRealtime=yes",
    "RestrictSUIDSGID=yes",
    "LockPersonality=yes",
    "SystemCallArchitectures=native",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_VSOCK",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** The sysctl.d file: forwarding for the guests' NAT, persisted across reboots. */
export function renderSysctl(): string {
  return [
    "# Written by `volar setup`; `volar setup --uninstall` removes it.",
    "# IPv4 forwarding for Volant's guest NAT (bridge -> uplink).",
    "net.ipv4.ip_forward = 1",
    "",
  ].join("\n");
}
