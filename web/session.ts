import type { AuthResult } from '../client/index.js';

/** What sign-up and log-in return; kept in sessionStorage as the session of the tab. */
export type Session = AuthResult;

// sessionStorage, not localStorage: the token dies with the tab, and other tabs of the same
// origin (or a later visitor of a shared machine) do not inherit it.
const KEY = 'chat-cache.session';

/** The session of this tab, or null when not logged in (or the stored value is unreadable). */
export function loadSession(): Session | null {
  const raw = sessionStorage.getItem(KEY);
  if (raw === null) return null;
  try {
    const s = JSON.parse(raw) as Partial<Session>;
    if (typeof s.token === 'string' && typeof s.user?.id === 'string') return s as Session;
  } catch {
    // fall through: a corrupt value is the same as none
  }
  sessionStorage.removeItem(KEY);
  return null;
}

/** Keeps the session for this tab. */
export function saveSession(session: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

/** Forgets the session (log out, or the API refused the token). */
export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}
