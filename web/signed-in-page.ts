// Wiring shared by the two pages: the login form when signed out, the page's own view when
// signed in, and the log-out button.
import { bindAuthForm } from './auth-form.js';
import { byTestId, show } from './dom.js';
import { clearSession, loadSession, type Session } from './session.js';

/** A page's live view: started after login, stopped at log-out. */
export interface PageView {
  start(): void;
  stop(): void;
}

/**
 * Shows the login form or the view with test id `viewId`, built by `create` for the
 * session; `create` gets the page's log-out function (called on a 401, with a notice).
 */
export function mountSignedInPage(
  viewId: string,
  create: (session: Session, logOut: (notice?: string) => void) => PageView,
): void {
  let view: PageView | null = null;

  const logOut = (notice = ''): void => {
    view?.stop();
    view = null;
    clearSession();
    show(byTestId(viewId), false);
    show(byTestId('session'), false);
    show(byTestId('auth'), true);
    byTestId('auth-error').textContent = notice;
  };

  const showLoggedIn = (session: Session): void => {
    show(byTestId('auth'), false);
    show(byTestId('session'), true);
    show(byTestId(viewId), true);
    view?.stop();
    view = create(session, logOut);
    view.start();
  };

  bindAuthForm(showLoggedIn);
  byTestId('logout').addEventListener('click', () => logOut());
  const existing = loadSession();
  if (existing) showLoggedIn(existing);
  else logOut();
}
