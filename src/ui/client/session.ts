/** Who is signed in, for every page: the token's name and scope decide which actions are offered. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Scope, Session } from './types.js';

export const SessionContext = createContext<Session | null>(null);

const RANK: Record<Scope, number> = { read: 0, operate: 1, admin: 2 };

export function useSession(): Session | null {
  return useContext(SessionContext);
}

export function can(session: Session | null, scope: Scope): boolean {
  return session !== null && RANK[session.scope] >= RANK[scope];
}
