import { PassThrough } from 'node:stream';
import { AppError, ErrorCode } from '@facewatch/core';
import { alertJson } from '../alerts/alert-json.js';
import type { ApiDeps } from '../deps.js';
import { ErrorBody, route } from '../route.js';
import { Alert, AlertPage, AlertQuery, AlertReview } from '../schemas.js';

/**
 * Alerts (match faces) and review items (review-band faces): the list, one alert, a person's
 * verdict on it, and the live stream. Verdicts are kept: rejected alerts are known strangers for
 * the next calibration (POST /api/v1/calibration).
 */
export const alertRoutes = (deps: ApiDeps) => [
  route({
    method: 'get',
    path: '/alerts',
    tag: 'alerts',
    summary: 'Alerts and review items, newest first, with filters.',
    query: AlertQuery,
    responses: { 200: { description: 'a page of alerts', schema: AlertPage }, 422: { description: 'invalid query', schema: ErrorBody } },
    handler: async (ctx, { query }) => {
      const page = await deps.store.alerts.list({
        offset: query.offset,
        limit: query.limit,
        ...(query.person_id === undefined ? {} : { personId: query.person_id }),
        ...(query.decision === undefined ? {} : { decision: query.decision }),
        ...(query.review_status === undefined ? {} : { reviewStatus: query.review_status }),
        ...(query.since === undefined ? {} : { since: new Date(query.since).toISOString() }),
      });
      ctx.body = { total_items: page.total_items, items: page.items.map(alertJson) };
    },
  }),
  route({
    method: 'get',
    path: '/alerts/stream',
    tag: 'alerts',
    summary:
      'Live alerts (text/event-stream): event `face.matched` for an alert, `face.review` for a review-band face; data = the alert JSON; id = its seq. Reconnect with Last-Event-ID to get what was missed. A comment line every SSE_HEARTBEAT_MS keeps the connection open.',
    responses: { 200: { description: 'an endless event stream', contentType: 'text/event-stream' }, 422: { description: 'invalid Last-Event-ID', schema: ErrorBody } },
    handler: async (ctx) => {
      const header = ctx.get('last-event-id') || (typeof ctx.query['last_event_id'] === 'string' ? ctx.query['last_event_id'] : '');
      const last = header === '' ? undefined : Number(header);
      if (last !== undefined && !(Number.isSafeInteger(last) && last >= 0))
        throw new AppError(ErrorCode.INVALID_ARGUMENT, `Last-Event-ID must be an alert seq (a non-negative integer), got "${header}"`);
      const stream = new PassThrough();
      ctx.req.socket.setTimeout(0);
      ctx.set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
      ctx.status = 200;
      ctx.body = stream;
      stream.write(': connected\n\n');
      let closed = false;
      const detach = await deps.alertHub.attach({ write: (text) => !closed && stream.write(text) !== undefined }, last);
      const stop = (): void => {
        closed = true;
        detach();
      };
      ctx.req.on('close', stop);
      stream.on('close', stop);
    },
  }),
  route({
    method: 'get',
    path: '/alerts/:id',
    tag: 'alerts',
    summary: 'One alert or review item.',
    params: { id: 'Alert id (alert_id).' },
    responses: { 200: { description: 'the alert', schema: Alert }, 404: { description: 'unknown id', schema: ErrorBody } },
    handler: async (ctx) => {
      const id = ctx.params['id'] as string;
      const alert = await deps.store.alerts.get(id);
      if (!alert) throw new AppError(ErrorCode.ALERT_NOT_FOUND, `no alert with id ${id}`);
      ctx.body = alertJson(alert);
    },
  }),
  route({
    method: 'post',
    path: '/alerts/:id/review',
    tag: 'alerts',
    summary: 'Record a verdict on an alert or review item: confirmed (it is the person) or rejected (a stranger).',
    params: { id: 'Alert id (alert_id).' },
    body: AlertReview,
    responses: {
      200: { description: 'the alert with its review', schema: Alert },
      404: { description: 'unknown id', schema: ErrorBody },
      422: { description: 'invalid verdict', schema: ErrorBody },
    },
    audit: { action: 'alert.review', target: 'alert', details: (ctx) => ({ status: (ctx.body as { review?: { status?: string } }).review?.status ?? null }) },
    handler: async (ctx, { body }) => {
      const id = ctx.params['id'] as string;
      const reviewed = await deps.store.alerts.review(id, {
        status: body.status,
        note: body.note ?? null,
        by: (ctx.state['apiKeyName'] as string | undefined) ?? null,
        at: new Date().toISOString(),
      });
      if (!reviewed) throw new AppError(ErrorCode.ALERT_NOT_FOUND, `no alert with id ${id}`);
      deps.log.info({ alertId: id, status: body.status, by: reviewed.reviewed_by }, 'alert reviewed');
      ctx.body = alertJson(reviewed);
    },
  }),
];
