import { AppError, ErrorCode, metricsText } from '@facewatch/core';
import { reviewCss, reviewHtml, reviewJs } from './review/review-page.js';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Koa from 'koa';
import Router from '@koa/router';
import type { ApiDeps } from './deps.js';
import { apiKeyCheck, apiKeys, errorMapper, RateLimiter, rateLimit, readJson, requestId } from './middleware.js';
import { buildOpenApi } from './openapi.js';
import { routeScope, validate, type RouteSpec } from './route.js';
import { alertRoutes } from './routes/alerts.js';
import { blacklistRoutes } from './routes/blacklist.js';
import { calibrationRoutes } from './routes/calibration.js';
import { evidenceRoutes } from './routes/evidence.js';
import { webhookRoutes } from './routes/webhooks.js';
import { adminRoutes } from './routes/admin.js';
import { detectRoutes } from './routes/detect.js';
import { healthRoutes } from './routes/health.js';
import { processRoutes } from './routes/process.js';

export function apiRoutes(deps: ApiDeps): RouteSpec[] {
  return [
    ...healthRoutes(deps),
    ...detectRoutes(deps),
    ...processRoutes(deps),
    ...blacklistRoutes(deps),
    ...alertRoutes(deps),
    ...evidenceRoutes(deps),
    ...webhookRoutes(deps),
    ...calibrationRoutes(deps),
    ...adminRoutes(deps),
  ] as RouteSpec[];
}

const swaggerDir = (): string => join(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'), '..');
const swaggerFiles: Record<string, string> = {
  'swagger-ui.css': 'text/css',
  'swagger-ui-bundle.js': 'application/javascript',
  'swagger-ui-standalone-preset.js': 'application/javascript',
  'favicon-32x32.png': 'image/png',
};

const docsPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>facewatch API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"><link rel="icon" href="/docs/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-init.js"></script>
</body></html>`;
const docsInit = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, persistAuthorization: true });`;

/** The review page's files (public: the page holds no data; it reads the API with the key). */
const reviewFiles: Record<string, { type: string; body: string }> = {
  '/review': { type: 'text/html', body: reviewHtml },
  '/review/': { type: 'text/html', body: reviewHtml },
  '/review/app.js': { type: 'application/javascript', body: reviewJs },
  '/review/app.css': { type: 'text/css', body: reviewCss },
};

/** Who did it: the API key's name (`default` for API_KEY), or null when the API is open. */
export function actorOf(ctx: Koa.Context): string | null {
  return (ctx.state['apiKeyName'] as string | undefined) ?? null;
}

async function recordAudit(deps: ApiDeps, ctx: Koa.Context, audit: NonNullable<RouteSpec['audit']>, input: { body: unknown; query: unknown }): Promise<void> {
  const answer = (ctx.body && typeof ctx.body === 'object' && !Buffer.isBuffer(ctx.body) ? ctx.body : {}) as Record<string, unknown>;
  const targetId = (ctx.params['id'] as string | undefined) ?? (typeof answer['id'] === 'string' ? answer['id'] : null);
  await deps.store.audit.append({
    at: new Date().toISOString(),
    actor: actorOf(ctx),
    source: ctx.ip || null,
    action: audit.action,
    target_type: audit.target ?? null,
    target_id: audit.target ? targetId : null,
    details: audit.details?.(ctx, input) ?? null,
  });
}

/** Builds the Koa application without listening, so tests drive it with no port. */
export function buildApp(deps: ApiDeps): Koa {
  const app = new Koa({ proxy: false });
  const routes = apiRoutes(deps);
  const keys = apiKeys(deps.settings.apiKey, deps.settings.apiKeys);
  // the document served says what this server does: without keys, no route asks for one
  const openapi = buildOpenApi(routes, deps.version, { authRequired: !keys.isOpen, settings: deps.settings });
  const checkKey = apiKeyCheck(keys);
  const { perMinute, burst, by } = deps.settings.rateLimit;
  const limitChanges = rateLimit(new RateLimiter(perMinute, burst), by);
  const router = new Router({ prefix: '/api/v1' });

  for (const r of routes) {
    const scope = routeScope(r);
    const typedParams = Object.entries(r.params ?? {}).flatMap(([name, p]) => (typeof p === 'string' ? [] : [[name, p.schema] as const]));
    const handler = async (ctx: Koa.Context): Promise<void> => {
      if (!r.isPublic) checkKey(ctx, scope);
      if (r.method !== 'get') limitChanges(ctx);
      for (const [name, schema] of typedParams) validate(schema, ctx.params[name], `path.${name}`);
      const body = r.body ? validate(r.body, await readJson(ctx, deps.settings.maxBodyBytes), 'body') : undefined;
      const query = r.query ? validate(r.query, ctx.query, 'query') : undefined;
      await r.handler(ctx, { body, query } as never);
      if (r.audit && ctx.status < 400) await recordAudit(deps, ctx, r.audit, { body, query });
    };
    // both /path and /path/ are served, as clients of the replaced server call either
    const paths = r.path === '/' ? ['/'] : [r.path, `${r.path}/`];
    for (const p of paths) router[r.method](p, handler);
  }

  app.use(requestId());
  app.use(errorMapper(deps.log.child({ component: 'api' })));
  app.use(async (ctx, next) => {
    const isStatic =
      ['/openapi.json', '/metrics', '/docs', '/docs/', '/docs/swagger-init.js'].includes(ctx.path) ||
      reviewFiles[ctx.path] !== undefined ||
      (ctx.path.startsWith('/docs/') && swaggerFiles[ctx.path.slice('/docs/'.length)] !== undefined);
    if (isStatic && ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.set('Allow', 'GET, HEAD');
      throw new AppError(ErrorCode.METHOD_NOT_ALLOWED, `${ctx.method} is not allowed on ${ctx.path}; allowed: GET, HEAD`);
    }
    if (ctx.path === '/openapi.json') {
      ctx.body = openapi;
      return;
    }
    if (ctx.path === '/metrics') {
      // Prometheus text format, behind the API key like the API (Prometheus sends it as a bearer token)
      checkKey(ctx, 'read');
      const { contentType, body } = await metricsText();
      ctx.type = contentType;
      ctx.body = body;
      return;
    }
    if (ctx.path === '/docs' || ctx.path === '/docs/') {
      ctx.type = 'text/html';
      ctx.body = docsPage;
      return;
    }
    const review = reviewFiles[ctx.path];
    if (review) {
      ctx.type = review.type;
      // the page talks to this server only; images come as blob URLs
      ctx.set('Content-Security-Policy', "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; frame-ancestors 'none'");
      ctx.set('Cache-Control', 'no-cache');
      ctx.body = review.body;
      return;
    }
    if (ctx.path === '/docs/swagger-init.js') {
      ctx.type = 'application/javascript';
      ctx.body = docsInit;
      return;
    }
    const file = ctx.path.startsWith('/docs/') ? ctx.path.slice('/docs/'.length) : undefined;
    if (file && swaggerFiles[file]) {
      ctx.type = swaggerFiles[file]!;
      ctx.set('Cache-Control', 'public, max-age=86400');
      ctx.body = await readFile(join(swaggerDir(), file));
      return;
    }
    await next();
  });
  // a path that exists but not with this method (TRACE, PATCH…): 405 with Allow; OPTIONS: the Allow list
  app.use(async (ctx, next) => {
    const match = router.match(ctx.path, ctx.method);
    if (match.route || match.path.length === 0) return next();
    const allowed = [...new Set(match.path.flatMap((layer) => layer.methods))];
    ctx.set('Allow', [...allowed, 'OPTIONS'].join(', '));
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      return;
    }
    throw new AppError(ErrorCode.METHOD_NOT_ALLOWED, `${ctx.method} is not allowed on ${ctx.path}; allowed: ${allowed.join(', ')}`, { details: { allowed } });
  });
  app.use(router.routes());
  return app;
}

export { buildOpenApi };
