/**
 * The agent image build's warm-up (`KESTREL_WARM_UP=1`,
 * src/builder/agent_image/warm_up.ts): loads the runtime modules Deno loads
 * lazily and kestrel uses at every boot (web streams, fetch and its
 * body types, `Deno.serve`, child processes), so their V8 code cache is made at
 * build time. Otherwise every guest compiles them under emulation and writes
 * their cache (~0.7 MiB) into its tmpfs DENO_DIR, which is RAM for the VM's
 * whole life. Runs in a network namespace without loopback: every network
 * call may fail, loading the module is all that counts.
 *
 * @module
 */

/** Touches each lazily loaded runtime part once; never throws. */
export async function warmUp(): Promise<void> {
  await new Response(new ReadableStream({ start: (c) => c.close() })).text();
  new Headers({ a: "b" });
  new Request("http://127.0.0.1/");
  await fetch("http://127.0.0.1:1/", { signal: AbortSignal.timeout(1000) }).catch(() => {});
  try {
    const server = Deno.serve({ hostname: "0.0.0.0", port: 0, onListen: () => {} }, () => {
      return new Response("ok");
    });
    await server.shutdown();
  } catch { /* no socket in this namespace: the module is loaded anyway */ }
  try {
    const child = new Deno.Command("/bin/true", { stdout: "piped", stderr: "piped" }).spawn();
    await child.output();
  } catch { /* no /bin/true in the build's chroot: the module is loaded anyway */ }
}
