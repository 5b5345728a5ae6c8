import { randomBytes, randomUUID } from 'node:crypto';
import { AppError, ErrorCode } from '@facewatch/core';
import { checkUrlAllowed } from '@facewatch/image-source';
import type { WebhookRecord } from '@facewatch/db';
import { z } from 'zod';
import type { ApiDeps } from '../deps.js';
import { ErrorBody, route } from '../route.js';
import { DeliveryPage, DeliveryQuery, Webhook, WebhookCreate, WebhookUpdate } from '../schemas.js';

/** A webhook as the API shows it: never the secret, except to whoever just set it. */
function webhookJson(w: WebhookRecord, withSecret = false): Record<string, unknown> {
  const { secret, ...rest } = w;
  return withSecret ? { ...rest, secret } : rest;
}

const notFound = (id: string): AppError => new AppError(ErrorCode.WEBHOOK_NOT_FOUND, `no webhook with id ${id}`);

/**
 * Webhooks: every new alert (by default; review items when asked) is POSTed, signed, to each
 * enabled webhook whose filters take it, through the durable outbox (docs/webhooks.md).
 */
export const webhookRoutes = (deps: ApiDeps) => [
  route({
    method: 'post',
    path: '/webhooks',
    tag: 'webhooks',
    scope: 'admin',
    summary: 'Create a webhook. The answer holds the signing secret (generated unless given): keep it, it is not shown again.',
    body: WebhookCreate,
    responses: {
      201: { description: 'the webhook, with its secret', schema: Webhook },
      400: { description: 'the URL points at a private or loopback address', schema: ErrorBody },
      422: { description: 'invalid request', schema: ErrorBody },
    },
    audit: { action: 'webhook.create', target: 'webhook' },
    handler: async (ctx, { body }) => {
      await checkUrlAllowed(body.url, deps.urlPolicy);
      const webhook = await deps.store.webhooks.create(
        {
          id: randomUUID(),
          url: body.url.trim(),
          secret: body.secret ?? randomBytes(32).toString('base64url'),
          description: body.description ?? null,
          filters: body.filters ?? { decisions: ['match'], person_ids: [] },
          enabled: body.enabled ?? true,
        },
        new Date().toISOString(),
      );
      deps.log.info({ webhookId: webhook.id }, 'webhook created');
      ctx.status = 201;
      ctx.body = webhookJson(webhook, true);
    },
  }),
  route({
    method: 'get',
    path: '/webhooks',
    tag: 'webhooks',
    scope: 'admin',
    summary: 'Every webhook (without secrets).',
    responses: { 200: { description: 'the webhooks', schema: z.array(Webhook) } },
    handler: async (ctx) => {
      ctx.body = (await deps.store.webhooks.list()).map((w) => webhookJson(w));
    },
  }),
  route({
    method: 'get',
    path: '/webhooks/:id',
    tag: 'webhooks',
    scope: 'admin',
    summary: 'One webhook (without its secret).',
    params: { id: 'Webhook id.' },
    responses: { 200: { description: 'the webhook', schema: Webhook }, 404: { description: 'unknown id', schema: ErrorBody } },
    handler: async (ctx) => {
      const w = await deps.store.webhooks.get(ctx.params['id'] as string);
      if (!w) throw notFound(ctx.params['id'] as string);
      ctx.body = webhookJson(w);
    },
  }),
  route({
    method: 'put',
    path: '/webhooks/:id',
    tag: 'webhooks',
    scope: 'admin',
    summary: 'Change a webhook (url, secret, description, filters, enabled). Deliveries already queued keep going to it.',
    params: { id: 'Webhook id.' },
    body: WebhookUpdate,
    responses: {
      200: { description: 'the webhook (with the secret when it was changed)', schema: Webhook },
      400: { description: 'the URL points at a private or loopback address', schema: ErrorBody },
      404: { description: 'unknown id', schema: ErrorBody },
      422: { description: 'invalid request', schema: ErrorBody },
    },
    audit: { action: 'webhook.update', target: 'webhook' },
    handler: async (ctx, { body }) => {
      if (body.url !== undefined) await checkUrlAllowed(body.url, deps.urlPolicy);
      const changes = Object.fromEntries(Object.entries({ ...body, url: body.url?.trim() }).filter(([, v]) => v !== undefined));
      const w = await deps.store.webhooks.update(ctx.params['id'] as string, changes, new Date().toISOString());
      if (!w) throw notFound(ctx.params['id'] as string);
      ctx.body = webhookJson(w, body.secret !== undefined);
    },
  }),
  route({
    method: 'delete',
    path: '/webhooks/:id',
    tag: 'webhooks',
    scope: 'admin',
    summary: 'Delete a webhook and its deliveries.',
    params: { id: 'Webhook id.' },
    responses: { 204: { description: 'deleted' }, 404: { description: 'unknown id', schema: ErrorBody } },
    audit: { action: 'webhook.delete', target: 'webhook' },
    handler: async (ctx) => {
      if (!(await deps.store.webhooks.delete(ctx.params['id'] as string))) throw notFound(ctx.params['id'] as string);
      ctx.status = 204;
    },
  }),
  route({
    method: 'get',
    path: '/webhooks/:id/deliveries',
    tag: 'webhooks',
    scope: 'admin',
    summary: 'Deliveries of a webhook, newest first: status, attempts, the next try, and the last error.',
    params: { id: 'Webhook id.' },
    query: DeliveryQuery,
    responses: { 200: { description: 'a page of deliveries', schema: DeliveryPage }, 404: { description: 'unknown id', schema: ErrorBody } },
    handler: async (ctx, { query }) => {
      const id = ctx.params['id'] as string;
      if (!(await deps.store.webhooks.get(id))) throw notFound(id);
      ctx.body = await deps.store.deliveries.list(id, { offset: query.offset, limit: query.limit, ...(query.status ? { status: query.status } : {}) });
    },
  }),
];
