import { randomBytes } from 'node:crypto';
import { ChatClient } from '../../client/index.js';

/** A user signed up through the API, with its bearer token. */
export interface ApiUser {
  id: string;
  token: string;
}

/**
 * The typed client of the API at `url`, as `user` when given. For the scenarios' set-up and
 * checks only: the measured loads (autocannon, the workers) send their prepared requests.
 */
export function clientOf(url: string, user?: { token: string }): ChatClient {
  return new ChatClient({ baseUrl: url, token: user?.token ?? null });
}

/** Signs up `n` users through `POST /api/auth/signup`, a few at a time (scrypt is slow on purpose). */
export async function signupUsers(url: string, n: number): Promise<ApiUser[]> {
  const users: ApiUser[] = [];
  const tag = randomBytes(3).toString('hex');
  const step = 8;
  for (let i = 0; i < n; i += step) {
    const batch = Array.from({ length: Math.min(step, n - i) }, (_, j) => i + j);
    users.push(
      ...(await Promise.all(
        batch.map(async (k) => {
          const { user, token } = await clientOf(url).signup({
            username: `bench${tag}${k}`,
            password: 'correct horse battery',
          });
          return { id: user.id, token };
        }),
      )),
    );
  }
  return users;
}

/** `POST /api/messages/send` requests from each user to the next (a ring of conversations). */
export function sendRequests(users: readonly ApiUser[]) {
  return users.map((u, i) => ({
    method: 'POST' as const,
    path: '/api/messages/send',
    headers: { authorization: `Bearer ${u.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      receiverId: users[(i + 1) % users.length]?.id,
      content: 'benchmark message: hello, how are you today?',
    }),
  }));
}

/** Sends `perConversation` messages from each user to the next (the ring of sendRequests). */
export async function fillRing(
  url: string,
  users: readonly ApiUser[],
  perConversation: number,
): Promise<void> {
  for (let k = 0; k < perConversation; k++) {
    await Promise.all(
      users.map((u, i) =>
        clientOf(url, u).send({
          receiverId: users[(i + 1) % users.length]!.id,
          content: `message ${k}: hello, how are you today?`,
        }),
      ),
    );
  }
}
