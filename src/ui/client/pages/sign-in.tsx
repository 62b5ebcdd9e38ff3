/** Sign-in with an API token; the server turns it into an httpOnly session cookie. */
import { useState } from 'preact/hooks';
import { ApiError, signIn } from '../api.js';
import type { Session } from '../types.js';

export function SignInPage({
  onSignedIn,
  reason,
}: {
  onSignedIn: (session: Session) => void;
  reason: string | null;
}) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await signIn(token.trim());
      setToken('');
      onSignedIn(session);
    } catch (failure) {
      setError(
        failure instanceof ApiError && failure.status === 401
          ? 'That token is unknown or revoked.'
          : failure instanceof ApiError
            ? failure.message
            : String(failure),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="sign-in">
      <h1>Sign in to Pipewright</h1>
      {reason ? (
        <p class="notice" role="status">
          {reason}
        </p>
      ) : null}
      <form onSubmit={(event) => void submit(event)}>
        <div class={`field${error ? ' invalid' : ''}`}>
          <label for="token">API token</label>
          <input
            id="token"
            name="token"
            type="password"
            autoComplete="off"
            required
            value={token}
            onInput={(event) => setToken(event.currentTarget.value)}
            aria-describedby={error ? 'token-help token-error' : 'token-help'}
            aria-invalid={error ? 'true' : undefined}
          />
          <span class="help" id="token-help">
            Create one with <code>pipewright token create --name me --scope operate</code>.
          </span>
          {error ? (
            <span class="error" id="token-error" role="alert">
              {error}
            </span>
          ) : null}
        </div>
        <button type="submit" class="primary" disabled={busy || token.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
