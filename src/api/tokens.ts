/**
 * API bearer tokens: 32 random bytes as base64url with a `pw_` prefix, stored only as their sha256, and
 * the scope order (`read` < `operate` < `admin`) the auth hook checks against.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ApiTokenScope } from '../store/state-store.js';

export const TOKEN_PREFIX = 'pw_';
export const SCOPES: readonly ApiTokenScope[] = ['read', 'operate', 'admin'];
/** What a token name may look like (CLI and API). */
export const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function newApiToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function isScope(text: string): text is ApiTokenScope {
  return (SCOPES as readonly string[]).includes(text);
}

/** True when a token of scope `has` may do what needs scope `needs`. */
export function scopeAllows(has: ApiTokenScope, needs: ApiTokenScope): boolean {
  return SCOPES.indexOf(has) >= SCOPES.indexOf(needs);
}
