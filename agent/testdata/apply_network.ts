/**
 * Test helper run by network_test.ts INSIDE a test-made network namespace and
 * a private UTS namespace (`ip netns exec <ns> unshare -u ...`): applies a
 * cmdline's network configuration with kestrel's own netlink code, writing
 * the /etc files into the directory given, and prints the result as JSON.
 */
import { parseBootConfig } from "../boot_config.ts";
import { configureNetwork } from "../network.ts";

const [cmdline, etcDir] = Deno.args;
const status = await configureNetwork(parseBootConfig(cmdline), { etcDir, waitMs: 2_000 });
console.log(JSON.stringify({ status, hostname: Deno.hostname() }));
