/**
 * RFC 9457 problem+json responses for the agent API.
 *
 * @module
 */

/** A problem+json response; `field` names the bad input when there is one. */
export function problem(status: number, title: string, detail: string, field?: string): Response {
  const body: Record<string, unknown> = { type: "about:blank", title, status, detail };
  if (field !== undefined) body.problems = [{ field, message: detail }];
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/problem+json" },
  });
}
