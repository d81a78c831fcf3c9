import { AppError } from '../errors/app-error.js';
import { withBackendErrors } from '../errors/backend-errors.js';
import { parseInput } from '../errors/parse-input.js';
import { credentialsSchema } from './auth-validation.js';
import { hashPassword, verifyPassword } from './password-hasher.js';
import type { AuthUser, TokenService } from './token-service.js';
import { DuplicateUsernameError, type PublicUser, type UserStore } from './user-store.js';

/** What signup and login answer. */
export interface AuthResult {
  user: PublicUser;
  token: string;
}

/**
 * Sign-up, login and the user list. Login costs one scrypt whether or not the user exists
 * (a dummy hash is checked for unknown names), so timing does not tell which usernames exist.
 */
export class AuthService {
  /** Computed once at construction, so even the first unknown-user login costs one scrypt. */
  private readonly dummyHash: Promise<string>;

  constructor(
    private readonly users: UserStore,
    private readonly tokens: TokenService,
  ) {
    this.dummyHash = hashPassword('a dummy password that matches nothing');
  }

  /** @throws AppError VALIDATION_FAILED, USERNAME_TAKEN, SERVICE_UNAVAILABLE */
  async signup(input: unknown): Promise<AuthResult> {
    const { username, password } = parseInput(credentialsSchema, input);
    const passwordHash = await hashPassword(password);
    return withBackendErrors(async () => {
      try {
        const user = await this.users.create(username, passwordHash);
        return { user, token: await this.tokens.issueToken(user) };
      } catch (err) {
        if (err instanceof DuplicateUsernameError) throw new AppError('USERNAME_TAKEN');
        throw err;
      }
    });
  }

  /** @throws AppError VALIDATION_FAILED, INVALID_CREDENTIALS, SERVICE_UNAVAILABLE */
  async login(input: unknown): Promise<AuthResult> {
    const { username, password } = parseInput(credentialsSchema, input);
    const doc = await withBackendErrors(() => this.users.findByUsername(username));
    if (!doc) {
      // Same work as a real check, so the answer time does not reveal unknown usernames.
      await verifyPassword(password, await this.dummyHash);
      throw new AppError('INVALID_CREDENTIALS');
    }
    if (!(await verifyPassword(password, doc.passwordHash))) {
      throw new AppError('INVALID_CREDENTIALS');
    }
    const user = { id: doc._id.toHexString(), username: doc.username };
    return { user, token: await this.tokens.issueToken(user) };
  }

  /** The other users, for picking whom to write to. */
  async listOtherUsers(me: AuthUser): Promise<PublicUser[]> {
    return withBackendErrors(() => this.users.listOthers(me.id));
  }
}
