/** Admin: API tokens — create one with a scope (shown once) and revoke. */
import { useState } from 'preact/hooks';
import { ApiError, api } from '../api.js';
import { useLoad } from '../hooks.js';
import { can, useSession } from '../session.js';
import type { Scope, TokenRecord } from '../types.js';
import { ConfirmDialog } from '../components/confirm-dialog.js';
import { Time } from '../components/time.js';
import { LoadError } from './load-error.js';

export function SettingsPage() {
  const session = useSession();
  if (!can(session, 'admin')) {
    return (
      <main id="main">
        <h1>Settings</h1>
        <p class="note" role="note">
          Managing API tokens needs an <code>admin</code> token; yours is <code>{session?.scope}</code>.
        </p>
      </main>
    );
  }
  return <TokenSettings />;
}

function TokenSettings() {
  const { data, error, reload } = useLoad(() => api.get<{ tokens: TokenRecord[] }>('/api/tokens'), 'tokens');
  const [name, setName] = useState('');
  const [scope, setScope] = useState<Scope>('read');
  const [created, setCreated] = useState<TokenRecord | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<string | null>(null);

  const create = async (event: Event) => {
    event.preventDefault();
    setFormError(null);
    try {
      const token = await api.post<TokenRecord>('/api/tokens', { name: name.trim(), scope });
      setCreated(token);
      setName('');
      reload();
    } catch (failure) {
      setFormError(failure instanceof ApiError ? failure.message : String(failure));
    }
  };
  const revoke = async (tokenName: string) => {
    setRevoking(null);
    try {
      await api.post(`/api/tokens/${encodeURIComponent(tokenName)}/revoke`);
    } catch (failure) {
      setFormError(failure instanceof ApiError ? failure.message : String(failure));
    }
    reload();
  };

  return (
    <main id="main">
      <h1>Settings</h1>
      <section aria-labelledby="create-h">
        <h2 id="create-h">Create an API token</h2>
        <form class="filters" onSubmit={(event) => void create(event)}>
          <label>
            Name{' '}
            <input
              required
              value={name}
              onInput={(event) => setName(event.currentTarget.value)}
              pattern="[A-Za-z0-9_.\-]+"
            />
          </label>
          <label>
            Scope{' '}
            <select value={scope} onChange={(event) => setScope(event.currentTarget.value as Scope)}>
              <option value="read">read — sees everything, changes nothing</option>
              <option value="operate">operate — also runs, cancels, pauses</option>
              <option value="admin">admin — also manages tokens</option>
            </select>
          </label>
          <button type="submit" class="primary" disabled={name.trim() === ''}>
            Create
          </button>
        </form>
        {formError ? (
          <p class="error" role="alert">
            {formError}
          </p>
        ) : null}
        {created?.token ? (
          <div class="notice" role="status">
            <p>
              Token <strong>{created.name}</strong> ({created.scope}) — copy it now, it is not shown again:
            </p>
            <p>
              <code class="secret" tabIndex={0}>
                {created.token}
              </code>
            </p>
            <button type="button" onClick={() => setCreated(null)}>
              I have copied it
            </button>
          </div>
        ) : null}
      </section>
      <section aria-labelledby="tokens-h">
        <h2 id="tokens-h">Tokens</h2>
        {error ? <LoadError error={error} /> : null}
        {data ? (
          <table class="cards">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Scope</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {data.tokens.map((token) => (
                <tr key={token.name}>
                  <th scope="row" data-label="Name">
                    {token.name}
                  </th>
                  <td data-label="Scope">{token.scope}</td>
                  <td data-label="Created">
                    <Time at={token.created_at} />
                  </td>
                  <td data-label="Last used">
                    <Time at={token.last_used_at} />
                  </td>
                  <td data-label="State">
                    {token.revoked_at ? (
                      <span>
                        revoked <Time at={token.revoked_at} />
                      </span>
                    ) : (
                      <button type="button" class="danger" onClick={() => setRevoking(token.name)}>
                        Revoke<span class="vh"> {token.name}</span>
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke ${revoking ?? ''}?`}
        message="Every request with this token is refused at once, including signed-in browser sessions."
        confirmLabel="Revoke"
        danger
        onConfirm={() => revoking && void revoke(revoking)}
        onClose={() => setRevoking(null)}
      />
    </main>
  );
}
