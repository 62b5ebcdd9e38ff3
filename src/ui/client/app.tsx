/** The shell: session, header and navigation, the offline banner, and the page for the current path. */
import { useEffect, useState } from 'preact/hooks';
import { isOnline, loadSession, onOnlineChange, onSignedOut, signOut } from './api.js';
import { match, navigate, useLocation } from './router.js';
import { SessionContext, can } from './session.js';
import type { Session } from './types.js';
import { SignInPage } from './pages/sign-in.js';
import { PipelinesPage } from './pages/pipelines.js';
import { PipelinePage } from './pages/pipeline.js';
import { RunPage } from './pages/run.js';
import { ActivityPage } from './pages/activity.js';
import { SettingsPage } from './pages/settings.js';

type SessionState =
  | { kind: 'loading' }
  | { kind: 'signed-out'; reason: string | null }
  | { kind: 'signed-in'; session: Session };

export function App() {
  const location = useLocation();
  const [state, setState] = useState<SessionState>({ kind: 'loading' });
  const [online, setOnlineState] = useState(isOnline());

  useEffect(() => onOnlineChange(() => setOnlineState(isOnline())), []);
  useEffect(
    () =>
      onSignedOut(() => {
        setState({
          kind: 'signed-out',
          reason: 'Your session ended or your token was revoked: sign in again.',
        });
      }),
    [],
  );
  useEffect(() => {
    loadSession().then(
      (session) => setState(session ? { kind: 'signed-in', session } : { kind: 'signed-out', reason: null }),
      () => setState({ kind: 'signed-out', reason: null }),
    );
  }, []);

  // Keep the address honest: /sign-in while signed out, back where the viewer was once signed in.
  useEffect(() => {
    if (state.kind === 'signed-out' && location.path !== '/sign-in') {
      navigate(`/sign-in?next=${encodeURIComponent(location.path + window.location.search)}`, true);
    }
    if (state.kind === 'signed-in' && location.path === '/sign-in') {
      const next = location.search.get('next');
      navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/', true);
    }
  }, [state.kind, location.path]);

  useEffect(() => {
    document.title = `${titleFor(location.path)} · Pipewright`;
  }, [location.path]);

  const banner = online ? null : (
    <div class="offline" role="alert">
      The server cannot be reached. Retrying… (what you see may be out of date)
    </div>
  );

  if (state.kind === 'loading') {
    return (
      <>
        {banner}
        <main id="main">
          <p class="muted">Loading…</p>
        </main>
      </>
    );
  }
  if (state.kind === 'signed-out') {
    return (
      <>
        {banner}
        <SignInPage
          reason={state.reason}
          onSignedIn={(session) => setState({ kind: 'signed-in', session })}
        />
      </>
    );
  }
  const session = state.session;
  const leave = async () => {
    await signOut().catch(() => undefined);
    setState({ kind: 'signed-out', reason: 'Signed out.' });
  };
  const current = (path: string) =>
    location.path === path || (path !== '/' && location.path.startsWith(path)) ? 'page' : undefined;

  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a href="/" class="brand">
          Pipewright
        </a>
        <nav aria-label="Main">
          <a
            href="/"
            aria-current={current('/') ?? (location.path.startsWith('/pipelines') ? 'page' : undefined)}
          >
            Pipelines
          </a>
          <a href="/activity" aria-current={current('/activity')}>
            Activity
          </a>
          {can(session, 'admin') ? (
            <a href="/settings" aria-current={current('/settings')}>
              Settings
            </a>
          ) : null}
        </nav>
        <span class="who">
          <span title={`token ${session.token_name}, scope ${session.scope}`}>
            {session.token_name} <span class="scope">{session.scope}</span>
          </span>
          <button type="button" onClick={() => void leave()}>
            Sign out
          </button>
        </span>
      </header>
      {banner}
      <Page path={location.path} />
    </SessionContext.Provider>
  );
}

function Page({ path }: { path: string }) {
  if (path === '/' || path === '/pipelines') return <PipelinesPage />;
  const pipeline = match('/pipelines/:id', path);
  if (pipeline?.['id']) return <PipelinePage id={pipeline['id']} />;
  const run = match('/runs/:id', path);
  if (run?.['id']) return <RunPage id={run['id']} />;
  if (path === '/activity') return <ActivityPage />;
  if (path === '/settings') return <SettingsPage />;
  return (
    <main id="main">
      <h1>Not found</h1>
      <p>
        Nothing lives at <code>{path}</code>. <a href="/">Back to the pipelines</a>.
      </p>
    </main>
  );
}

function titleFor(path: string): string {
  if (path === '/') return 'Pipelines';
  if (path.startsWith('/pipelines/')) return decodeURIComponent(path.slice('/pipelines/'.length));
  if (path.startsWith('/runs/')) return `Run ${decodeURIComponent(path.slice('/runs/'.length))}`;
  if (path === '/activity') return 'Activity';
  if (path === '/settings') return 'Settings';
  if (path === '/sign-in') return 'Sign in';
  return 'Not found';
}
