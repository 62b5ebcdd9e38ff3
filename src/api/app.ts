/**
 * The HTTP face of `pipewright serve`: a Fastify app with the unauthenticated `/health` and `/ready`,
 * the token-protected REST API under `/api` and Prometheus `/metrics`, its OpenAPI document and a small
 * docs page. Routes are declared as data (route.ts) in one file per group; this module registers them
 * with authentication, input parsing and the one error mapping (problem.ts). Tests drive it through
 * `app.inject()`.
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { PwError } from '../core/errors/pw-error.js';
import type { Project } from '../project/load-project.js';
import type { SyncedPipeline } from '../scheduler/definitions.js';
import { silentLog, type ServiceLog } from '../scheduler/service-log.js';
import type { ApiTokenRecord, StateStore } from '../store/state-store.js';
import { authenticate } from './auth.js';
import { PROBLEM_CONTENT_TYPE, fromFastifyError, problemFor } from './problem.js';
import { parseInput, type ApiRoute } from './route.js';
import { activityRoutes } from './routes/activity.js';
import { docsRoutes } from './routes/docs.js';
import { healthRoutes } from './routes/health.js';
import { inboxRoutes } from './routes/inboxes.js';
import { logRoutes } from './routes/logs.js';
import { metricsRoutes } from './routes/metrics.js';
import { pipelineRoutes } from './routes/pipelines.js';
import { runRoutes } from './routes/runs.js';
import { sessionRoutes } from './routes/session.js';
import { tokenRoutes } from './routes/tokens.js';
import { SignInLimiter } from './sign-in-limiter.js';
import { isAppPath, registerUi } from '../ui/server/static.js';

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export interface AppOptions {
  store: StateStore;
  project: Project;
  /** The pipelines as the definition sync last saw them (id, file, spec, invalid reason). */
  pipelines: () => readonly SyncedPipeline[];
  version: string;
  /** For GET /ready: extra fields when ready, false (or a rejection) while not. */
  ready?: () => Promise<boolean | Record<string, unknown>>;
  log?: ServiceLog;
  clock?: () => Date;
  /** How often a followed log (SSE) polls the store; default 500 ms. */
  logPollMs?: number;
  /** Largest accepted request body in bytes; default 1 MB. */
  bodyLimit?: number;
  /** The web UI's build folder (index.html, assets/); default the package's dist/ui; false serves no UI. */
  uiDir?: string | false;
  /** Failed sign-in limits of POST /ui/session; default 10 per address per 15 minutes. */
  signInLimiter?: SignInLimiter;
}

/** What every route group receives. */
export interface RouteContext {
  store: StateStore;
  project: Project;
  pipelines: () => readonly SyncedPipeline[];
  version: string;
  ready: () => Promise<boolean | Record<string, unknown>>;
  clock: () => Date;
  logPollMs: number;
  startedAt: number;
  /** True once the app is closing: followed logs end so the server can close. */
  closing: () => boolean;
  signInLimiter?: SignInLimiter;
}

export function apiRoutes(context: RouteContext): ApiRoute[] {
  return [
    ...healthRoutes(context),
    ...pipelineRoutes(context),
    ...runRoutes(context),
    ...logRoutes(context),
    ...activityRoutes(context),
    ...tokenRoutes(context),
    ...sessionRoutes(context),
    ...inboxRoutes(context),
    ...metricsRoutes(context),
    ...docsRoutes(context, () => apiRoutes(context)),
  ] as ApiRoute[];
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const log = options.log ?? silentLog;
  let closing = false;
  const context: RouteContext = {
    store: options.store,
    project: options.project,
    pipelines: options.pipelines,
    version: options.version,
    ready: options.ready ?? (() => Promise.resolve(true)),
    clock: options.clock ?? (() => new Date()),
    logPollMs: options.logPollMs ?? 500,
    startedAt: Date.now(),
    closing: () => closing,
    signInLimiter: options.signInLimiter ?? new SignInLimiter(),
  };
  const app = Fastify({
    // No Fastify logger, hence no request logging: tokens travel in headers and must never reach a log.
    logger: false,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // X-Forwarded-For/-Proto count only from a reverse proxy on this machine (client address for the
    // sign-in limit, https for Secure cookies); from anywhere else they are ignored.
    trustProxy: ['127.0.0.1', '::1'],
  });

  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });

  app.setErrorHandler((error, request, reply) => {
    const pwError = fromFastifyError(error);
    const problem = problemFor(pwError);
    if (problem.status >= 500) {
      log('error', `${request.method} ${request.url}: ${pwError.code} ${pwError.message}`);
    }
    void reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
  });
  const serveShell = options.uiDir === false ? undefined : registerUi(app, { dir: options.uiDir });
  app.setNotFoundHandler((request, reply) => {
    if (
      serveShell !== undefined &&
      (request.method === 'GET' || request.method === 'HEAD') &&
      isAppPath(request.url)
    ) {
      return serveShell(request, reply);
    }
    const problem = problemFor(
      new PwError('PW_NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0] ?? ''}`, {
        hint: 'GET /api/openapi.json lists every route.',
      }),
    );
    void reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
  });

  // Authentication runs on request, before the body is read: a client without a valid token gets 401
  // whatever it sends, and its body is never parsed.
  const tokens = new WeakMap<FastifyRequest, ApiTokenRecord>();
  const register = (target: FastifyInstance, route: ApiRoute) => {
    const scope = route.scope;
    target.route({
      method: route.method,
      url: route.url,
      onRequest: async (request) => {
        if (scope !== 'public')
          tokens.set(request, await authenticate(context.store, request, scope, context.clock()));
      },
      handler: async (request, reply) => {
        const query = parseInput(route.query, request.query, 'query');
        const body = route.rawBody === undefined ? parseInput(route.body, request.body, 'body') : undefined;
        const params = request.params as Record<string, string>;
        const token = tokens.get(request);
        const result = route.handler({ request, reply, params, query, body, token });
        if (!(result instanceof Promise)) return reply;
        const value: unknown = await result;
        return value === undefined ? reply : value;
      },
    });
  };
  const routes = apiRoutes(context);
  for (const route of routes) if (route.rawBody === undefined) register(app, route);
  // Routes that stream their body get it unparsed, whatever its content type, in a context of their own.
  await app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', (_request, payload, done) => {
      done(null, payload);
    });
    for (const route of routes) if (route.rawBody !== undefined) register(raw, route);
  });
  await app.ready();
  return app;
}
