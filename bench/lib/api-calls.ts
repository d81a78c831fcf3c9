/** One timed call of the API as a signed-in user, from the bench process. */
export interface TimedCall {
  status: number;
  /** The `X-Cache` header (conversation pages), or null. */
  cache: string | null;
  text: string;
  /** From sending the request to the last byte of the body, in ms. */
  ms: number;
}

/**
 * Calls `method path` on the API with `token`, times it, and reads the whole body. Built by
 * hand on purpose, unlike the set-up calls (the typed client, `clientOf`): these calls are
 * the measurement, so nothing but the request itself is in their time.
 */
export async function timedCall(
  url: string,
  token: string,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<TimedCall> {
  const start = performance.now();
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    cache: res.headers.get('x-cache'),
    text,
    ms: performance.now() - start,
  };
}

/** `call` when its status is `expected`; else throws with the answer. */
export function expectStatus(call: TimedCall, expected: number, what: string): TimedCall {
  if (call.status !== expected) {
    throw new Error(
      `${what}: HTTP ${call.status} (expected ${expected}): ${call.text.slice(0, 300)}`,
    );
  }
  return call;
}
