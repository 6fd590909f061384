/**
 * Real registries for tests: Debian's `docker-registry` (CNCF distribution)
 * on loopback inside a network namespace the test creates, twice over one
 * storage directory: plain HTTP on 127.0.0.1:5000 (tests push there with
 * skopeo) and HTTPS with token auth on 127.0.0.1:5443 (a test CA; tokens from
 * oci_token_server.ts on 127.0.0.1:5001). Also a port that accepts
 * connections and never answers (127.0.0.1:5009, socat) for timeout tests.
 * Everything runs inside the namespace and is stopped by PID in `stop()`.
 *
 * @module
 */
import { join } from "node:path";
import { createNetns, type Netns, requireCommands, run, type RunOptions } from "./netns.ts";

export interface TestRegistries {
  ns: Netns;
  dir: string;
  plain: string;
  tls: string;
  stall: string;
  caFile: string;
  user: string;
  password: string;
  /** skopeo copy from an OCI layout (`DIR:tag`) to `<plain>/<repo>` (`--all` keeps indexes). */
  push(layoutImage: string, repoTag: string, all?: boolean): Promise<void>;
  /** The registry's file for a blob (to corrupt it on purpose). */
  blobData(digest: string): string;
  stop(): Promise<void>;
}

async function must(cmd: string[]): Promise<string> {
  const r = await run(cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

async function certs(dir: string) {
  const o = (f: string) => join(dir, f);
  await must([
    "openssl",
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=volant-test-ca",
    "-keyout",
    o("ca.key"),
    "-out",
    o("ca.crt"),
  ]);
  await must([
    "openssl",
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=127.0.0.1",
    "-keyout",
    o("server.key"),
    "-out",
    o("server.csr"),
  ]);
  Deno.writeTextFileSync(o("san.ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
  await must([
    "openssl",
    "x509",
    "-req",
    "-in",
    o("server.csr"),
    "-CA",
    o("ca.crt"),
    "-CAkey",
    o("ca.key"),
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    o("san.ext"),
    "-out",
    o("server.crt"),
  ]);
  await must([
    "openssl",
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=volant-test-token",
    "-keyout",
    o("token.key"),
    "-out",
    o("token.crt"),
  ]);
}

/** A namespace made by someone else (a journey Sandbox): used, never deleted here. */
function borrowedNetns(name: string): Netns {
  const inNs = (cmd: string[], opts: RunOptions = {}) =>
    run(["ip", "netns", "exec", name, ...cmd], opts);
  return {
    name,
    run: inNs,
    async check(cmd, opts) {
      const r = await inNs(cmd, opts);
      if (r.code !== 0) throw new Error(`${cmd.join(" ")} in ${name}: exit ${r.code}: ${r.stderr}`);
      return r.stdout;
    },
    async json<T>(cmd: string[]) {
      return JSON.parse((await inNs(cmd)).stdout) as T;
    },
    deno() {
      throw new Error("not available on a borrowed namespace");
    },
    async delete() {},
  };
}

/**
 * Starts the registries in a new namespace (or in `opts.netns`, which must
 * exist and have lo up); always call `stop()` in a finally.
 */
export async function startRegistries(opts: { netns?: string } = {}): Promise<TestRegistries> {
  await requireCommands("docker-registry", "skopeo", "umoci", "openssl", "socat", "curl");
  const dir = Deno.makeTempDirSync({ prefix: "oci-registry-" });
  const ns = opts.netns === undefined ? await createNetns("oci") : borrowedNetns(opts.netns);
  const children: Deno.ChildProcess[] = [];
  const stop = async () => {
    for (const c of children) {
      try {
        c.kill("SIGKILL");
      } catch (error) {
        if (!(error instanceof TypeError)) throw error; // already exited
      }
      await c.status;
    }
    await ns.delete();
    Deno.removeSync(dir, { recursive: true });
  };
  try {
    await ns.check(["ip", "link", "set", "lo", "up"]);
    await certs(dir);
    const storage = join(dir, "storage");
    const common = (addr: string) =>
      `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${storage}\n  delete:\n    enabled: true\nhttp:\n  addr: ${addr}\n`;
    Deno.writeTextFileSync(join(dir, "plain.yml"), common("127.0.0.1:5000"));
    Deno.writeTextFileSync(
      join(dir, "tls.yml"),
      common("127.0.0.1:5443") +
        `  tls:\n    certificate: ${dir}/server.crt\n    key: ${dir}/server.key\n` +
        `auth:\n  token:\n    realm: http://127.0.0.1:5001/token\n    service: volant-test\n` +
        `    issuer: volant-test-issuer\n    rootcertbundle: ${dir}/token.crt\n`,
    );
    const spawn = (cmd: string[], log: string) => {
      const c = new Deno.Command("ip", {
        args: ["netns", "exec", ns.name, "sh", "-c", `exec "$@" >>${log} 2>&1`, "sh", ...cmd],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      children.push(c);
    };
    spawn(["docker-registry", "serve", join(dir, "plain.yml")], join(dir, "plain.log"));
    spawn(["docker-registry", "serve", join(dir, "tls.yml")], join(dir, "tls.log"));
    const tokenServer = new URL("./oci_token_server.ts", import.meta.url).pathname;
    spawn(
      [
        Deno.execPath(),
        "run",
        "-A",
        "--no-lock",
        tokenServer,
        "5001",
        join(dir, "token.key"),
        join(dir, "token.crt"),
        "tester:s3cret",
        "volant-test-issuer",
        "volant-test",
      ],
      join(dir, "token.log"),
    );
    spawn(
      ["socat", "TCP-LISTEN:5009,bind=127.0.0.1,reuseaddr,fork", "EXEC:sleep 3600"],
      join(dir, "stall.log"),
    );
    for (
      const url of [
        "http://127.0.0.1:5000/v2/",
        "https://127.0.0.1:5443/v2/",
        "http://127.0.0.1:5001/token",
      ]
    ) {
      const deadline = Date.now() + 30_000;
      while (true) {
        const r = await ns.run([
          "curl",
          "-s",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          "--cacert",
          join(dir, "ca.crt"),
          url,
        ]);
        if (r.stdout !== "000") break;
        if (Date.now() > deadline) {
          throw new Error(
            `${url} did not come up: ${
              Deno.readTextFileSync(
                join(
                  dir,
                  url.includes("5001")
                    ? "token.log"
                    : url.includes("5443")
                    ? "tls.log"
                    : "plain.log",
                ),
              )
            }`,
          );
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    ns,
    dir,
    plain: "127.0.0.1:5000",
    tls: "127.0.0.1:5443",
    stall: "127.0.0.1:5009",
    caFile: join(dir, "ca.crt"),
    user: "tester",
    password: "s3cret",
    async push(layoutImage, repoTag, all = false) {
      await ns.check([
        "skopeo",
        "copy",
        "--quiet",
        ...(all ? ["--all"] : []),
        "--dest-tls-verify=false",
        `oci:${layoutImage}`,
        `docker://127.0.0.1:5000/${repoTag}`,
      ]);
    },
    blobData(digest) {
      const hex = digest.slice(7);
      return join(dir, "storage", "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
    },
    stop,
  };
}
