/**
 * Regenerates netlink_fixtures.json: runs iproute2 under `strace -e read=3
 * -e write=3` inside a throwaway network namespace and records the exact bytes
 * it sent to and received from the kernel. The fixtures are an independent
 * encoder (iproute2) and real kernel replies for netlink_test.ts.
 *
 * Run as root: deno run -A src/net/testdata/capture_fixtures.ts && deno fmt src/net/testdata
 *
 * @module
 */
const ns = `vcap${Deno.pid}`;

async function run(cmd: string[]): Promise<string> {
  const out = await new Deno.Command(cmd[0], { args: cmd.slice(1), stderr: "piped" }).output();
  if (!out.success && !cmd.includes("strace")) {
    throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

interface Io {
  call: string;
  hex: string;
}

/** Runs `ip ...` in the netns under strace; returns each sendmsg/recvmsg with its bytes. */
async function capture(ipArgs: string[]): Promise<Io[]> {
  const log = await Deno.makeTempFile();
  try {
    await run([
      "ip",
      "netns",
      "exec",
      ns,
      "strace",
      "-o",
      log,
      "-e",
      "trace=sendmsg,recvmsg",
      "-e",
      "read=3",
      "-e",
      "write=3",
      "ip",
      ...ipArgs,
    ]);
    const ios: Io[] = [];
    for (const line of (await Deno.readTextFile(log)).split("\n")) {
      const call = /^(sendmsg|recvmsg)\(/.exec(line);
      if (call) ios.push({ call: call[1], hex: "" });
      const dump = /^ \| [0-9a-f]{5} {2}((?:[0-9a-f]{2} {1,2}){1,16})/.exec(line);
      if (dump && ios.length) ios[ios.length - 1].hex += dump[1].replace(/\s+/g, "");
    }
    return ios.filter((io) => io.hex.length > 0);
  } finally {
    await Deno.remove(log);
  }
}

await run(["ip", "netns", "add", ns]);
try {
  const f: Record<string, { command: string; io: Io[] }> = {};
  const cap = async (key: string, args: string[]) => {
    f[key] = { command: `ip ${args.join(" ")}`, io: await capture(args) };
  };
  await cap("create_bridge", [
    "link",
    "add",
    "vbr0",
    "address",
    "02:11:22:33:44:55",
    "mtu",
    "1400",
    "type",
    "bridge",
  ]);
  await cap("create_bridge_again", ["link", "add", "vbr0", "type", "bridge"]);
  await run([
    "ip",
    "netns",
    "exec",
    ns,
    "ip",
    "tuntap",
    "add",
    "vtap1",
    "mode",
    "tap",
    "vnet_hdr",
    "user",
    "1000",
  ]);
  await run(["ip", "netns", "exec", ns, "ip", "link", "set", "vtap1", "master", "vbr0"]);
  await run(["ip", "netns", "exec", ns, "ip", "link", "set", "vbr0", "up"]);
  await cap("add_address", ["addr", "add", "192.168.127.1/24", "dev", "vbr0"]);
  await cap("add_address_again", ["addr", "add", "192.168.127.1/24", "dev", "vbr0"]);
  await cap("link_dump", ["link", "show"]);
  await cap("addr_dump", ["-4", "addr", "show"]);
  await cap("delete_link", ["link", "del", "vtap1"]);
  for (const tap of ["vtap2", "vtap3"]) {
    await run(["ip", "netns", "exec", ns, "ip", "tuntap", "add", tap, "mode", "tap"]);
    await run(["ip", "netns", "exec", ns, "ip", "link", "set", tap, "group", "4242"]);
  }
  await cap("delete_group", ["link", "del", "group", "4242"]);
  const path = new URL("./netlink_fixtures.json", import.meta.url);
  await Deno.writeTextFile(path, JSON.stringify(f, null, 1) + "\n");
  console.log(`wrote ${path.pathname}`);
} finally {
  await run(["ip", "netns", "del", ns]);
}
