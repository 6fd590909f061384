/**
 * Test images built with real tools (GNU tar for the layers, umoci for the OCI
 * layout, skopeo for re-compression), never with our own tar code: the
 * unpacker is checked against what independent writers produce. Needs root
 * (owners, device nodes) and `apt-get install -y umoci skopeo attr`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";

/** Runs a command; throws with its stderr on failure (and the install hint when missing). */
export async function sh(
  cmd: string,
  args: string[],
  opts: { cwd?: string } = {},
): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, { args, cwd: opts.cwd, stdout: "piped", stderr: "piped" })
      .output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        `${cmd} is missing: apt-get install -y umoci skopeo docker-registry attr tar`,
      );
    }
    throw error;
  }
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

function write(path: string, text: string, mode = 0o644): void {
  Deno.mkdirSync(join(path, ".."), { recursive: true });
  Deno.writeTextFileSync(path, text);
  Deno.chmodSync(path, mode);
}

async function layer(image: string, stage: string, tarFile: string, comment: string) {
  // Fixed times and numeric owners: the same fixture every run.
  await sh("tar", [
    "--xattrs",
    "--xattrs-include=*",
    "--numeric-owner",
    "--format=pax",
    "--sort=name",
    "--mtime=@1700000000",
    "-cf",
    tarFile,
    "-C",
    stage,
    ".",
  ]);
  await sh("umoci", ["raw", "add-layer", "--history.comment", comment, "--image", image, tarFile]);
}

/**
 * Builds `<dir>/layout` (tag `v1`): three layers with a setuid file, a sticky
 * dir, owners, a hard link, relative and absolute symlinks, a device node, a
 * FIFO, an xattr, then whiteouts, an opaque dir, a file replaced by a
 * directory, a directory replaced by a file, a hard link across layers, and
 * finally the first replacement undone. Returns the `image` argument for umoci.
 */
export async function makeFeatureImage(dir: string): Promise<string> {
  const layout = join(dir, "layout");
  const image = `${layout}:v1`;
  await sh("umoci", ["init", "--layout", layout]);
  await sh("umoci", ["new", "--image", image]);

  const s1 = join(dir, "stage1");
  write(
    join(s1, "etc/passwd"),
    "root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1000::/home/web:/bin/sh\n",
  );
  write(join(s1, "usr/bin/tool"), "#!/bin/sh\necho tool\n", 0o4755);
  write(join(s1, "usr/share/doc/a.txt"), "aaa\n");
  write(join(s1, "usr/share/doc/b.txt"), "bbb\n");
  write(join(s1, "opt/data/x"), "x\n");
  write(join(s1, "opt/data/sub/z"), "z\n");
  write(join(s1, "var/thing"), "a file that becomes a directory\n");
  write(join(s1, "var/dir2/inside"), "a directory that becomes a file\n");
  write(join(s1, "home/web/notes"), "owned by web\n", 0o640);
  write(join(s1, "srv/big.bin"), "0123456789abcdef".repeat(40000));
  Deno.chownSync(join(s1, "home/web/notes"), 1000, 1000);
  Deno.chownSync(join(s1, "home/web"), 1000, 1000);
  Deno.mkdirSync(join(s1, "tmp"));
  Deno.chmodSync(join(s1, "tmp"), 0o1777);
  Deno.linkSync(join(s1, "usr/bin/tool"), join(s1, "usr/bin/tool-hard"));
  Deno.symlinkSync("tool", join(s1, "usr/bin/tool-rel"));
  Deno.symlinkSync("/usr/bin/tool", join(s1, "etc/tool-abs"));
  Deno.symlinkSync("/nonexistent/../../etc", join(s1, "etc/dangling"));
  Deno.mkdirSync(join(s1, "dev"));
  await sh("mknod", ["-m", "666", join(s1, "dev/null"), "c", "1", "3"]);
  await sh("mknod", ["-m", "600", join(s1, "dev/fifo"), "p"]);
  await sh("setfattr", ["-n", "user.volant", "-v", "kept", join(s1, "usr/share/doc/b.txt")]);
  await layer(image, s1, join(dir, "l1.tar"), "base");

  const s2 = join(dir, "stage2");
  write(join(s2, "usr/share/doc/.wh.a.txt"), "");
  write(join(s2, "opt/data/.wh..wh..opq"), "");
  write(join(s2, "opt/data/new"), "only this survives in opt/data\n");
  write(join(s2, "var/thing/inner"), "now a directory\n");
  write(join(s2, "var/dir2"), "now a file\n", 0o600);
  write(join(s2, "usr/bin/tool"), "#!/bin/sh\necho tool v2\n", 0o2755);
  Deno.linkSync(join(s2, "usr/bin/tool"), join(s2, "usr/bin/tool-v2-hard"));
  await layer(image, s2, join(dir, "l2.tar"), "whiteouts, opaque, replacements");

  const s3 = join(dir, "stage3");
  write(join(s3, "var/thing"), "a file again\n");
  write(join(s3, "etc/motd"), "hello\n");
  await layer(image, s3, join(dir, "l3.tar"), "back to a file");

  await sh("umoci", [
    "config",
    "--image",
    image,
    "--config.entrypoint",
    "/usr/bin/tool",
    "--config.cmd",
    "--serve",
    "--config.env",
    "MODE=test",
    "--config.workingdir",
    "/srv",
    "--config.user",
    "1000:1000",
    "--config.exposedports",
    "8000/tcp",
    "--config.label",
    "org.example.kind=fixture",
  ]);
  return image;
}

/** A one-layer image with unique content (to corrupt without touching shared blobs). */
export async function makeUniqueImage(dir: string, tag: string): Promise<string> {
  const layout = join(dir, "layout");
  try {
    Deno.statSync(join(layout, "index.json"));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    await sh("umoci", ["init", "--layout", layout]);
  }
  const image = `${layout}:${tag}`;
  await sh("umoci", ["new", "--image", image]);
  const stage = join(dir, `stage-${tag}`);
  write(join(stage, "srv/unique"), `${crypto.randomUUID()}\n`.repeat(2000));
  await layer(image, stage, join(dir, `${tag}.tar`), "unique");
  await sh("umoci", [
    "config",
    "--image",
    image,
    "--config.cmd",
    "/srv/unique",
    "--config.exposedports",
    "80/tcp",
  ]);
  return image;
}

/** Adds to the layout an index tagged `tag` whose only entry is `image`'s manifest as linux/arm64. */
export function addArmOnlyIndex(image: string, tag: string): void {
  const [layout, from] = image.split(/:(?=[^:]*$)/);
  const indexPath = join(layout, "index.json");
  const index = JSON.parse(Deno.readTextFileSync(indexPath));
  const desc = index.manifests.find((m: { annotations?: Record<string, string> }) =>
    m.annotations?.["org.opencontainers.image.ref.name"] === from
  );
  const inner = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{
      mediaType: desc.mediaType,
      digest: desc.digest,
      size: desc.size,
      platform: { os: "linux", architecture: "arm64" },
    }],
  };
  const bytes = new TextEncoder().encode(JSON.stringify(inner));
  const hex = Array.from(
    new Uint8Array(
      // node:crypto keeps this synchronous.
      createHash("sha256").update(bytes).digest(),
    ),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  Deno.writeFileSync(join(layout, "blobs", "sha256", hex), bytes);
  index.manifests.push({
    mediaType: "application/vnd.oci.image.index.v1+json",
    digest: `sha256:${hex}`,
    size: bytes.length,
    annotations: { "org.opencontainers.image.ref.name": tag },
  });
  Deno.writeTextFileSync(indexPath, JSON.stringify(index));
}

/** Where downloaded .debs for test images are kept between runs. */
function debCache(): string {
  const dir = join(Deno.env.get("VOLANT_CACHE_DIR") || "/var/cache/volant", "oci-test-debs");
  Deno.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Downloads (once) and unpacks Debian packages into `stage`, without running their scripts. */
async function extractDebs(packages: string[], stage: string): Promise<void> {
  const cache = debCache();
  for (const pkg of packages) {
    let deb = [...Deno.readDirSync(cache)].find((e) => e.name.startsWith(`${pkg}_`))?.name;
    if (deb === undefined) {
      await sh("apt-get", ["download", "-q", pkg], { cwd: cache });
      deb = [...Deno.readDirSync(cache)].find((e) => e.name.startsWith(`${pkg}_`))!.name;
    }
    await sh("dpkg-deb", ["-x", join(cache, deb), stage]);
  }
}

/** Copies `binary`'s shared libraries (ldd) and the loader into `stage`, at their host paths. */
async function copyLibs(binary: string, stage: string): Promise<void> {
  const out = await sh("ldd", [binary]);
  for (const m of out.matchAll(/(\/\S+\.so[.\d]*)/g)) {
    const real = Deno.realPathSync(m[1]);
    const dest = join(stage, m[1]);
    Deno.mkdirSync(join(dest, ".."), { recursive: true });
    Deno.copyFileSync(real, dest);
  }
}

/** The page the nginx test image serves. */
export const NGINX_MARKER = "volant-oci-nginx-ok";

/**
 * An image holding Debian's nginx with its shared libraries, as a container
 * image would: layer 1 libraries + users, layer 2 the nginx and nginx-common
 * packages (unpacked with dpkg-deb), layer 3 a config and a page; Entrypoint
 * `/usr/sbin/nginx`, Cmd `-g "daemon off;"`, port 80. `extra` adds big host
 * directories as more layers (the benchmark's 50-100 MB image).
 */
export async function makeNginxImage(dir: string, extra: string[] = []): Promise<string> {
  const layout = join(dir, "layout");
  const image = `${layout}:nginx`;
  await sh("umoci", ["init", "--layout", layout]);
  await sh("umoci", ["new", "--image", image]);

  const s1 = join(dir, "base");
  write(
    join(s1, "etc/passwd"),
    "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n" +
      "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
  );
  write(join(s1, "etc/group"), "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n");
  write(join(s1, "etc/nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files dns\n");
  for (const d of ["tmp", "run", "var/log/nginx", "var/lib/nginx", "proc", "sys", "dev"]) {
    Deno.mkdirSync(join(s1, d), { recursive: true });
  }
  Deno.chmodSync(join(s1, "tmp"), 0o1777);
  const s2 = join(dir, "pkgs");
  await extractDebs(["nginx", "nginx-common"], s2);
  await copyLibs(join(s2, "usr/sbin/nginx"), s1);
  for (const lib of ["libnss_files.so.2", "libnss_dns.so.2"]) {
    for (const d of ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"]) {
      try {
        Deno.copyFileSync(join(d, lib), join(s1, "lib/x86_64-linux-gnu", lib));
        break;
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
  }
  await layer(image, s1, join(dir, "l1.tar"), "base: libraries and users");
  await layer(image, s2, join(dir, "l2.tar"), "nginx from Debian");

  for (const [i, src] of extra.entries()) {
    const s = join(dir, `extra${i}`);
    Deno.mkdirSync(join(s, src, ".."), { recursive: true });
    await sh("cp", ["-a", src, join(s, src)]);
    await layer(image, s, join(dir, `x${i}.tar`), `extra ${src}`);
  }

  const s3 = join(dir, "site");
  write(
    join(s3, "etc/nginx/nginx.conf"),
    `user www-data;
worker_processes 1;
pid /run/nginx.pid;
error_log stderr;
events { worker_connections 64; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  server {
    listen 80 default_server;
    root /var/www/html;
    index index.html;
  }
}
`,
  );
  write(join(s3, "var/www/html/index.html"), `<h1>${NGINX_MARKER}</h1>\n`);
  await layer(image, s3, join(dir, "l3.tar"), "site");
  await sh("umoci", [
    "config",
    "--image",
    image,
    "--config.entrypoint",
    "/usr/sbin/nginx",
    "--config.cmd",
    "-g",
    "--config.cmd",
    "daemon off;",
    "--config.exposedports",
    "80/tcp",
    "--config.env",
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  ]);
  return image;
}
