import { webcrypto } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { AppError } from '../errors/app-error.js';

/** Who a valid token says the caller is. */
export interface AuthUser {
  /** The user's id (ObjectId hex). */
  id: string;
  username: string;
}

export interface TokenServiceOptions {
  /** HS256 key (config.auth.jwtSecret, at least 32 characters): signs and verifies. */
  secret: string;
  /**
   * The key before a rotation (config.auth.previousJwtSecret, at least 32 characters): tokens
   * it signed are still accepted until they expire; it signs nothing. @defaultValue undefined
   */
  previousSecret?: string;
  /** Lifetime of issued tokens. @defaultValue '24h' */
  expiresIn?: string;
  /** The clock verification reads, in ms since the epoch (tests move it). @defaultValue Date.now */
  now?: () => number;
}

const ID_RE = /^[0-9a-f]{24}$/;

/** Imports an HMAC key into WebCrypto (given raw bytes, jose imports them again on every call). */
function importHmacKey(secret: string): Promise<webcrypto.CryptoKey> {
  if (secret.length < 32) throw new TypeError('a JWT secret must be ≥ 32 characters');
  return webcrypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign', 'verify'],
  );
}

/**
 * Issues and verifies the API's bearer tokens: HS256 JWTs with `sub` = user id and a
 * `username` claim. Verification accepts HS256 only, so `alg: none` and tokens signed with
 * another algorithm (or key) are rejected like expired ones and like those without `exp`:
 * 401 `UNAUTHORIZED`. During a secret rotation, a token whose signature the current key
 * refuses is checked against the previous key, if one is given.
 */
export class TokenService {
  /** The HMAC key, imported into WebCrypto once. */
  private readonly key: Promise<webcrypto.CryptoKey>;
  /** The key before a rotation: verifies only. */
  private readonly previousKey: Promise<webcrypto.CryptoKey> | undefined;
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
    this.key = importHmacKey(opts.secret);
    this.previousKey =
      opts.previousSecret === undefined ? undefined : importHmacKey(opts.previousSecret);
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
      const payload = await this.verifySignedPayload(token);
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

  /** The payload of a token signed with the current key or else the previous one. */
  private async verifySignedPayload(token: string): Promise<JWTPayload> {
    // Without `exp` a token would never expire: refused, like one that has expired.
    const options = {
      algorithms: ['HS256'],
      requiredClaims: ['exp', 'sub'],
      currentDate: new Date(this.now()),
    };
    try {
      return (await jwtVerify(token, await this.key, options)).payload;
    } catch (err) {
      // Only a signature the current key refuses is worth a second check: jose verifies the
      // signature before the claims, so an expired or malformed token fails the same way
      // with either key.
      if (!this.previousKey || !(err instanceof joseErrors.JWSSignatureVerificationFailed)) {
        throw err;
      }
      return (await jwtVerify(token, await this.previousKey, options)).payload;
    }
  }
}
