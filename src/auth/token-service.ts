import { webcrypto } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { AppError } from '../errors/app-error.js';

/** Who a valid token says the caller is. */
export interface AuthUser {
  /** The user's id (ObjectId hex). */
  id: string;
  username: string;
}

export interface TokenServiceOptions {
  /** HS256 key (config.auth.jwtSecret, at least 32 characters). */
  secret: string;
  /** Lifetime of issued tokens. @defaultValue '24h' */
  expiresIn?: string;
  /** The clock verification reads, in ms since the epoch (tests move it). @defaultValue Date.now */
  now?: () => number;
}

const ID_RE = /^[0-9a-f]{24}$/;

/**
 * Issues and verifies the API's bearer tokens: HS256 JWTs with `sub` = user id and a
 * `username` claim. Verification accepts HS256 only, so `alg: none` and tokens signed with
 * another algorithm (or key) are rejected like expired ones and like those without `exp`:
 * 401 `UNAUTHORIZED`.
 */
export class TokenService {
  /**
   * The HMAC key, imported into WebCrypto once: given raw bytes, jose imports them again on
   * every call.
   */
  private readonly key: Promise<webcrypto.CryptoKey>;
  private readonly expiresIn: string;
  private readonly now: () => number;
  /**
   * Tokens already verified → their user and expiry (ms). A client sends the same token with
   * every request, and an HMAC check through WebCrypto costs more than a cached read; a
   * token cannot change, so until it expires the answer cannot either. Insertion-ordered,
   * bounded: the oldest entry goes first.
   */
  private readonly verified = new Map<string, { user: AuthUser; expiresAt: number }>();
  private static readonly MAX_CACHED = 10_000;

  constructor(opts: TokenServiceOptions) {
    if (opts.secret.length < 32) throw new TypeError('the JWT secret must be ≥ 32 characters');
    this.key = webcrypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(opts.secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    );
    this.expiresIn = opts.expiresIn ?? '24h';
    this.now = opts.now ?? Date.now;
  }

  /** A signed token for `user`, valid for 24 h. */
  async issueToken(user: AuthUser): Promise<string> {
    return new SignJWT({ username: user.username })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(user.id)
      .setIssuedAt()
      .setExpirationTime(this.expiresIn)
      .sign(await this.key);
  }

  /**
   * The user a token names. Arrow property so it can be handed around unbound
   * (`createApiServices(...).verifyToken`).
   * Checks the token only, not whether its user exists (see `AuthService.verifyToken`).
   * @throws AppError UNAUTHORIZED when the token is malformed, forged, expired, without `exp`
   *   or not HS256.
   */
  readonly verifyToken = async (token: string): Promise<AuthUser> => {
    const hit = this.verified.get(token);
    if (hit) {
      if (hit.expiresAt > this.now()) return hit.user;
      this.verified.delete(token);
    }
    try {
      // Without `exp` a token would never expire: refused, like one that has expired.
      const { payload } = await jwtVerify(token, await this.key, {
        algorithms: ['HS256'],
        requiredClaims: ['exp', 'sub'],
        currentDate: new Date(this.now()),
      });
      const { sub, username, exp } = payload;
      if (
        typeof sub !== 'string' ||
        !ID_RE.test(sub) ||
        typeof username !== 'string' ||
        typeof exp !== 'number'
      ) {
        throw new AppError('UNAUTHORIZED', 'The token is not valid');
      }
      const user = { id: sub, username };
      if (this.verified.size >= TokenService.MAX_CACHED) {
        const oldest = this.verified.keys().next().value;
        if (oldest !== undefined) this.verified.delete(oldest);
      }
      this.verified.set(token, { user, expiresAt: exp * 1000 });
      return user;
    } catch (err) {
      if (err instanceof AppError) throw err;
      const expired = err instanceof joseErrors.JWTExpired;
      throw new AppError(
        'UNAUTHORIZED',
        expired ? 'The token has expired' : 'The token is not valid',
      );
    }
  };
}
