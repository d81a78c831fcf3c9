import { randomBytes } from 'node:crypto';
import { ObjectId } from 'mongodb';
import { hashPassword } from '../../src/auth/password-hasher.js';
import { TokenService } from '../../src/auth/token-service.js';
import { USERS_COLLECTION, type UserDoc } from '../../src/auth/user-store.js';
import type { ApiUser } from './api-users.js';
import type { ScenarioContext } from './scenario.js';
import { BENCH_JWT_SECRET } from './system-processes.js';

/**
 * Thousands of users without thousands of sign-ups (each costs one scrypt, ~50 ms of a core):
 * their documents go into the bench database's `users` collection by `insertMany`, all with
 * one password hash, and their tokens are issued with the bench API's secret, as a sign-up
 * would issue them. The API learns that they exist from MongoDB on their first request.
 */
export async function insertUsers(ctx: ScenarioContext, n: number): Promise<ApiUser[]> {
  const passwordHash = await hashPassword('correct horse battery');
  const tag = randomBytes(3).toString('hex');
  const createdAt = new Date();
  const docs: UserDoc[] = Array.from({ length: n }, (_, k) => ({
    _id: new ObjectId(),
    username: `bulk${tag}${k}`,
    passwordHash,
    createdAt,
  }));
  const users = ctx.mongo.db('bench').collection<UserDoc>(USERS_COLLECTION);
  for (let i = 0; i < docs.length; i += 1000) {
    await users.insertMany(docs.slice(i, i + 1000), { ordered: false });
  }
  const tokens = new TokenService({ secret: BENCH_JWT_SECRET });
  return Promise.all(
    docs.map(async (d) => {
      const id = d._id.toHexString();
      return { id, token: await tokens.issueToken({ id, username: d.username }) };
    }),
  );
}
