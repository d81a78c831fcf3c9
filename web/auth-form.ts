import { ChatApiError, ChatClient, ChatNetworkError } from '../client/index.js';
import { byTestId } from './dom.js';
import { saveSession, type Session } from './session.js';

/**
 * Wires the page's sign-up / log-in form (`data-testid="auth-form"`, the same markup on both
 * pages). The submit button pressed decides which: `value="signup"` or `value="login"`.
 * On success the session is saved for this tab and handed to `onSession`.
 */
export function bindAuthForm(onSession: (session: Session) => void): void {
  const form = byTestId<HTMLFormElement>('auth-form');
  const error = byTestId('auth-error');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const submitter = event.submitter as HTMLButtonElement | null;
    const mode = submitter?.value === 'signup' ? 'signup' : 'login';
    const data = new FormData(form);
    const username = String(data.get('username') ?? '').trim();
    const password = String(data.get('password') ?? '');
    error.textContent = '';
    setBusy(form, true);
    const api = new ChatClient({ baseUrl: location.origin });
    const call =
      mode === 'signup' ? api.signup({ username, password }) : api.login({ username, password });
    call
      .then((session) => {
        saveSession(session);
        form.reset();
        onSession(session);
      })
      .catch((err: unknown) => {
        error.textContent = describeAuthError(err);
      })
      .finally(() => setBusy(form, false));
  });
}

function setBusy(form: HTMLFormElement, busy: boolean): void {
  for (const button of form.querySelectorAll('button')) button.disabled = busy;
}

function describeAuthError(err: unknown): string {
  if (err instanceof ChatNetworkError) return 'The server cannot be reached; try again.';
  if (!(err instanceof ChatApiError)) return 'Something went wrong; try again.';
  switch (err.code) {
    case 'USERNAME_TAKEN':
      return 'That username is taken.';
    case 'INVALID_CREDENTIALS':
      return 'Wrong username or password.';
    default:
      // VALIDATION_FAILED names the field and the rule, e.g. "password: must be at least 8 characters".
      return err.message;
  }
}
