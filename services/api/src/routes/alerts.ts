import { PassThrough } from 'node:stream';
import { Topic } from '@facewatch/core';
import type { ApiDeps } from '../deps.js';
import { route } from '../route.js';

/**
 * Live alerts as Server-Sent Events: one `face.matched` event per face that matched a watch-list
 * person, as it happens. Each subscriber gets every alert (its own bus group).
 */
export const alertRoutes = (deps: ApiDeps) => [
  route({
    method: 'get',
    path: '/alerts/stream',
    tag: 'alerts',
    summary: 'Live match alerts (text/event-stream, event `face.matched`, data = the alert JSON).',
    responses: { 200: { description: 'an endless event stream', contentType: 'text/event-stream' } },
    handler: async (ctx) => {
      const stream = new PassThrough();
      ctx.req.socket.setTimeout(0);
      ctx.set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
      ctx.status = 200;
      ctx.body = stream;
      stream.write(': connected\n\n');
      const subscription = await deps.bus.subscribe(Topic.faceMatched, { group: `sse-${ctx.state['requestId'] as string}`, concurrency: 1, fromBeginning: false }, async (alert) => {
        stream.write(`id: ${alert.alert_id}\nevent: face.matched\ndata: ${JSON.stringify(alert)}\n\n`);
      });
      const heartbeat = setInterval(() => stream.write(': keep-alive\n\n'), 15_000);
      const stop = (): void => {
        clearInterval(heartbeat);
        void subscription.close();
      };
      ctx.req.on('close', stop);
      stream.on('close', stop);
    },
  }),
];
