/**
 * A tiny registry token server for tests (the boundary a real deployment
 * fills with Docker Hub's auth.docker.io or GHCR's token endpoint): the
 * `Bearer realm=...` flow of the distribution token spec. Repositories under
 * `public/` may be pulled anonymously; with the right Basic credentials any
 * repository may be pulled and pushed; wrong credentials get 401. Tokens are
 * RS256 JWTs with the signing certificate in `x5c`, which docker-registry
 * verifies against its `rootcertbundle`.
 *
 * Usage: deno run -A oci_token_server.ts PORT KEY.pem CERT.pem USER:PASS ISSUER SERVICE
 */
const [port, keyFile, certFile, userPass, issuer, service] = Deno.args;

function b64url(data: Uint8Array | string): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function pemBody(pem: string): Uint8Array<ArrayBuffer> {
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

const key = await crypto.subtle.importKey(
  "pkcs8",
  pemBody(Deno.readTextFileSync(keyFile)),
  { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  false,
  ["sign"],
);
const certDer = pemBody(Deno.readTextFileSync(certFile));
let s = "";
for (const b of certDer) s += String.fromCharCode(b);
const x5c = btoa(s);

async function token(access: { type: string; name: string; actions: string[] }[]) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ typ: "JWT", alg: "RS256", x5c: [x5c] }));
  const claims = b64url(JSON.stringify({
    iss: issuer,
    sub: "test",
    aud: service,
    exp: now + 600,
    nbf: now - 10,
    iat: now,
    jti: crypto.randomUUID(),
    access,
  }));
  const sig = new Uint8Array(
    await crypto.subtle.sign(
      "RSASSA-PKCS1-v1_5",
      key,
      new TextEncoder().encode(`${header}.${claims}`),
    ),
  );
  return `${header}.${claims}.${b64url(sig)}`;
}

Deno.serve({ hostname: "127.0.0.1", port: Number(port), onListen: () => {} }, async (req) => {
  const url = new URL(req.url);
  if (url.pathname !== "/token") return new Response("not found", { status: 404 });
  const auth = req.headers.get("authorization");
  let authed = false;
  if (auth !== null) {
    if (!auth.startsWith("Basic ") || atob(auth.slice(6)) !== userPass) {
      return new Response(JSON.stringify({ errors: [{ code: "UNAUTHORIZED" }] }), { status: 401 });
    }
    authed = true;
  }
  const access = url.searchParams.getAll("scope").flatMap((scope) => {
    const [type, name, actions] = scope.split(":");
    const allowed = authed
      ? actions.split(",")
      : name.startsWith("public/")
      ? actions.split(",").filter((a) => a === "pull")
      : [];
    return allowed.length > 0 ? [{ type, name, actions: allowed }] : [];
  });
  const t = await token(access);
  return Response.json({ token: t, access_token: t, expires_in: 600 });
});
