/**
 * Host networking rows: /dev/net/tun, network namespaces with a bridge and a
 * TAP, nftables, ip_forward. The namespace tests run in a throwaway network
 * namespace (`unshare --net`) that vanishes with its process: the host's own
 * links, addresses and firewall are never touched. Without root they use a
 * user namespace as well, and say so when that is not allowed.
 *
 * @module
 */
import { type Check, type DoctorContext, firstLine, runCommand } from "./check.ts";

/** `unshare` prefix for a fresh network namespace as this user. */
function unshareNet(ctx: DoctorContext): string[] {
  return ctx.uid === 0 ? ["--net", "--"] : ["--user", "--map-root-user", "--net", "--"];
}

const AS_ROOT = "run volar doctor as root for the full check (volantd runs as root)";

export const tunCheck: Check = {
  id: "tun",
  title: "/dev/net/tun",
  critical: true,
  async run() {
    try {
      const f = await Deno.open("/dev/net/tun", { read: true, write: true });
      f.close();
      return { status: "ok", detail: "opens read-write (TAP devices can be made)" };
    } catch (error) {
      return {
        status: "fail",
        detail: `cannot open /dev/net/tun read-write: ${(error as Error).message}`,
        fix: "the host kernel needs CONFIG_TUN; in a container, pass the device " +
          "(--device /dev/net/tun)",
      };
    }
  },
};

export const netnsBridgeCheck: Check = {
  id: "bridge",
  title: "bridge, TAP and netns",
  critical: true,
  async run(ctx) {
    const script = "ip link add vdoctor0 type bridge && ip tuntap add vdoctap0 mode tap && " +
      "ip link set vdoctap0 master vdoctor0 && ip link set vdoctor0 up";
    const r = await runCommand("unshare", [...unshareNet(ctx), "sh", "-c", script]);
    if (r.code === 0) {
      return {
        status: "ok",
        detail: "made a bridge with a TAP port in a throwaway network namespace",
      };
    }
    const why = firstLine(r.stderr) || `exit ${r.code}`;
    if (r.code === 127 && /unshare/.test(why)) {
      return { status: "fail", detail: why, fix: "apt-get install util-linux iproute2" };
    }
    if (ctx.uid !== 0) {
      return { status: "warn", detail: `could not test as uid ${ctx.uid}: ${why}`, fix: AS_ROOT };
    }
    return {
      status: "fail",
      detail: `a bridge with a TAP port failed in a throwaway namespace: ${why}`,
      fix: "the host kernel needs CONFIG_BRIDGE, CONFIG_TUN and CONFIG_NET_NS; " +
        "apt-get install iproute2",
    };
  },
};

export const nftablesCheck: Check = {
  id: "nftables",
  title: "nftables",
  critical: true,
  async run(ctx) {
    const version = await runCommand("nft", ["--version"]);
    if (version.code !== 0) {
      return {
        status: "fail",
        detail: firstLine(version.stderr) || "nft does not run",
        fix: "apt-get install nftables (volantd's NAT for guests is an nftables table)",
      };
    }
    const r = await runCommand("unshare", [
      ...unshareNet(ctx),
      "nft",
      "add",
      "table",
      "inet",
      "volant_doctor",
    ]);
    if (r.code === 0) {
      return {
        status: "ok",
        detail: `${firstLine(version.stdout)}; made a table in a throwaway network namespace`,
      };
    }
    const why = firstLine(r.stderr) || `exit ${r.code}`;
    if (ctx.uid !== 0) {
      return {
        status: "warn",
        detail: `${firstLine(version.stdout)}; could not test as uid ${ctx.uid}: ${why}`,
        fix: AS_ROOT,
      };
    }
    return {
      status: "fail",
      detail: `nft cannot make a table: ${why}`,
      fix: "the host kernel needs CONFIG_NF_TABLES with inet and nat support",
    };
  },
};

export const ipForwardCheck: Check = {
  id: "ip_forward",
  title: "ip_forward",
  critical: false,
  async run() {
    const v = (await Deno.readTextFile("/proc/sys/net/ipv4/ip_forward")).trim();
    if (v === "1") return { status: "ok", detail: "net.ipv4.ip_forward = 1" };
    return {
      status: "warn",
      detail: `net.ipv4.ip_forward = ${v}: guests cannot reach outside the host yet`,
      fix: "volantd (as root) turns it on at start; or sysctl -w net.ipv4.ip_forward=1",
    };
  },
};
