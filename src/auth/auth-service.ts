import { credentialsSchema, type AuthResultJson } from '../contract/http-schemas.js';
import { AppError } from '../errors/app-error.js';
import { withBackendErrors } from '../errors/backend-errors.js';
import { parseInput } from '../errors/parse-input.js';
import type { AuthThrottle } from './auth-throttle.js';
import { hashPassword, verifyPassword } from './password-hasher.js';
import type { AuthUser, TokenService } from './token-service.js';
import { DuplicateUsernameError, type PublicUser, type UserStore } from './user-store.js';

/** What signup and login answer (the contract's `authResultSchema`). */
export type AuthResult = AuthResultJson;

/**
 * Sign-up, login, bearer-token checks and the user list. Login costs one scrypt whether or
 * not the user exists (a dummy hash is checked for unknown names), so timing does not tell
 * which usernames exist. Logins and sign-ups are throttled (see {@link AuthThrottle}) before
 * any password is hashed.
 */
export class AuthService {
  /** Computed once at construction, so even the first unknown-user login costs one scrypt. */
  private readonly dummyHash: Promise<string>;

  constructor(
    private readonly users: UserStore,
    private readonly tokens: TokenService,
    private readonly throttle: AuthThrottle,
  ) {
    this.dummyHash = hashPassword('a dummy password that matches nothing');
  }

  /**
   * `address`: the client's (Koa's `ctx.ip`), for the per-address limit.
   * @throws AppError VALIDATION_FAILED, RATE_LIMITED, USERNAME_TAKEN, SERVICE_UNAVAILABLE
   */
  async signup(input: unknown, address: string): Promise<AuthResult> {
    const { username, password } = parseInput(credentialsSchema, input);
    await this.throttle.attempt(username, address);
    const passwordHash = await hashPassword(password);
    return withBackendErrors(async () => {
      try {
        const user = await this.users.create(username, passwordHash);
        await this.throttle.succeeded(username);
        return { user, token: await this.tokens.issueToken(user) };
      } catch (err) {
        if (err instanceof DuplicateUsernameError) throw new AppError('USERNAME_TAKEN');
        throw err;
      }
    });
  }

  /**
   * `address`: the client's (Koa's `ctx.ip`), for the per-address limit.
   * @throws AppError VALIDATION_FAILED, RATE_LIMITED, INVALID_CREDENTIALS, SERVICE_UNAVAILABLE
   */
  async login(input: unknown, address: string): Promise<AuthResult> {
    const { username, password } = parseInput(credentialsSchema, input);
    await this.throttle.attempt(username, address);
    const doc = await withBackendErrors(() => this.users.findByUsername(username));
    if (!doc) {
      // Same work as a real check, so the answer time does not reveal unknown usernames.
      await verifyPassword(password, await this.dummyHash);
      throw new AppError('INVALID_CREDENTIALS');
    }
    if (!(await verifyPassword(password, doc.passwordHash))) {
      throw new AppError('INVALID_CREDENTIALS');
    }
    await this.throttle.succeeded(username);
    const user = { id: doc._id.toHexString(), username: doc.username };
    return { user, token: await this.tokens.issueToken(user) };
  }

  /**
   * The user a bearer token names: a valid token (see `TokenService.verifyToken`) of a user
   * that exists. Existence is answered from memory or the shared set of known users, so a
   * request costs no MongoDB read once its user has been seen (see `UserStore.exists`).
   * Arrow property, so it can be handed to the routes and the ws server unbound.
   * @throws AppError UNAUTHORIZED for a bad token or a user that does not exist;
   *   SERVICE_UNAVAILABLE when the user is not known here and the stores cannot be reached
   *   (a good token must not look bad to a client that would then drop it).
   */
  readonly verifyToken = async (token: string): Promise<AuthUser> => {
    const user = await this.tokens.verifyToken(token);
    // The hot path: a user seen by this process needs no await at all.
    if (this.users.isKnownHere(user.id)) return user;
    if (!(await withBackendErrors(() => this.users.exists(user.id)))) {
      throw new AppError('UNAUTHORIZED', 'The token is not valid');
    }
    return user;
  };

  /** The other users, for picking whom to write to. */
  async listOtherUsers(me: AuthUser): Promise<PublicUser[]> {
    return withBackendErrors(() => this.users.listOthers(me.id));
  }
}
