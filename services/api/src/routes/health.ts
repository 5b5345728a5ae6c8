import { Health, Readiness } from '../schemas.js';
import type { ApiDeps } from '../deps.js';
import { route } from '../route.js';

export const healthRoutes = (deps: ApiDeps) => [
  route({
    method: 'get',
    path: '/',
    tag: 'health',
    summary: 'Liveness: the process answers.',
    isPublic: true,
    responses: { 200: { description: 'alive', schema: Health } },
    handler: async (ctx) => {
      ctx.body = { status: 'ok', version: deps.version };
    },
  }),
  route({
    method: 'get',
    path: '/ready',
    tag: 'health',
    summary: 'Readiness: the face backend (models loaded, or the AWS collection and bucket reachable) and the store answering.',
    isPublic: true,
    responses: { 200: { description: 'ready', schema: Readiness }, 503: { description: 'not ready', schema: Readiness } },
    handler: async (ctx) => {
      const store = await deps.store.ping().then(
        () => true,
        () => false,
      );
      const backend = await deps.backend.readiness();
      const ready = store && backend.ready;
      ctx.status = ready ? 200 : 503;
      ctx.body = { ready, backend: deps.backend.kind, models: backend.ready, store, ...backend.detail };
    },
  }),
];
