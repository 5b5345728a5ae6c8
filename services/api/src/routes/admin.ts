import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { AppError, ErrorCode } from '@facewatch/core';
import type { Context } from 'koa';
import { z } from 'zod';
import { purgeOld } from '../admin/retention.js';
import { replayResults } from '../admin/replay-results.js';
import { ARCHIVE_FORMAT, parseLine, type ArchiveHeader, type ArchivePerson } from '../admin/watchlist-archive.js';
import type { ApiDeps } from '../deps.js';
import { ErrorBody, route } from '../route.js';
import { AuditPage, AuditQuery, PurgeRequest, ReindexRequest, ReplayReportSchema, ReplayRequest } from '../schemas.js';

const ndjson = 'application/x-ndjson';

/** Streams lines of JSON as the answer; returns the writer and a function that ends it. */
function streamLines(ctx: Context): { write(value: unknown): void; end(): void } {
  const stream = new PassThrough();
  ctx.type = ndjson;
  ctx.status = 200;
  ctx.body = stream;
  return { write: (value) => stream.write(`${JSON.stringify(value)}\n`), end: () => stream.end() };
}

/**
 * Operators' tools behind the API (the `facewatch` admin commands call them): export and import
 * of the watch-list, re-embedding, replay of stored results under other settings, purging, and
 * the audit log. Long work streams progress as NDJSON lines.
 */
export const adminRoutes = (deps: ApiDeps) => [
  route({
    method: 'get',
    path: '/audit',
    tag: 'admin',
    scope: 'admin',
    summary: 'The audit log, newest first: who (API key name) did what, when and from where.',
    query: AuditQuery,
    responses: { 200: { description: 'a page of entries', schema: AuditPage }, 422: { description: 'invalid query', schema: ErrorBody } },
    handler: async (ctx, { query }) => {
      ctx.body = await deps.store.audit.list({
        offset: query.offset,
        limit: query.limit,
        ...(query.action ? { action: query.action } : {}),
        ...(query.actor ? { actor: query.actor } : {}),
        ...(query.target_id ? { targetId: query.target_id } : {}),
        ...(query.since ? { since: new Date(query.since).toISOString() } : {}),
      });
    },
  }),
  route({
    method: 'get',
    path: '/admin/export',
    tag: 'admin',
    scope: 'admin',
    summary: `The watch-list as an archive (${ARCHIVE_FORMAT}, NDJSON): a header line, one line per person with their reference images and embeddings, an end line. docs/admin.md.`,
    responses: { 200: { description: 'the archive', contentType: ndjson } },
    audit: { action: 'watchlist.export' },
    handler: async (ctx) => {
      const { total } = await deps.store.persons.list({ offset: 0, limit: 1 });
      const out = streamLines(ctx);
      const header: ArchiveHeader = {
        format: ARCHIVE_FORMAT,
        exported_at: new Date().toISOString(),
        model: deps.backend.referenceModel,
        backend: deps.backend.kind,
        decision_params: deps.decisions.params,
        people: total,
      };
      void (async () => {
        out.write(header);
        let people = 0;
        let images = 0;
        for (let offset = 0; ; offset += 100) {
          const { items } = await deps.store.persons.list({ offset, limit: 100 });
          for (const person of items) {
            const line = await deps.watchlist.exportPerson(person);
            out.write(line);
            people++;
            images += line.images.length;
          }
          if (items.length < 100) break;
        }
        out.write({ end: true, people, images });
      })()
        .catch((err: unknown) => {
          // the end line is missing: the importer sees a cut archive
          deps.log.error({ err }, 'export failed');
        })
        .finally(() => out.end());
    },
  }),
  route({
    method: 'post',
    path: '/admin/import',
    tag: 'admin',
    scope: 'admin',
    summary:
      'Import an archive (NDJSON body). People keep their ids; an existing one is skipped, or replaced with on_conflict=replace. Embeddings of another model are refused unless re_embed=true. Answers NDJSON: one line per person, then a summary.',
    rawBody: { contentType: ndjson, description: `An archive of format ${ARCHIVE_FORMAT} (GET /api/v1/admin/export).` },
    query: z.object({ on_conflict: z.enum(['skip', 'replace']).default('skip'), re_embed: z.enum(['true', 'false']).default('false') }),
    responses: { 200: { description: 'progress and summary', contentType: ndjson }, 422: { description: 'not an archive', schema: ErrorBody } },
    audit: { action: 'watchlist.import', details: (_ctx, { query }) => ({ ...(query as object) }) },
    handler: async (ctx, { query }) => {
      const lines = createInterface({ input: ctx.req, crlfDelay: Infinity })[Symbol.asyncIterator]();
      const first = await lines.next();
      if (first.done) throw new AppError(ErrorCode.INVALID_ARGUMENT, 'the archive is empty');
      const header = parseLine(first.value, 0) as ArchiveHeader;
      const out = streamLines(ctx);
      out.write({ header: { model: header.model, people: header.people, exported_at: header.exported_at } });
      const summary = {
        people: 0,
        imported: 0,
        replaced: 0,
        skipped: 0,
        images: 0,
        rejected: [] as { person: string; filename: string; code: string; message: string }[],
        complete: false,
      };
      try {
        for (let index = 1; ; index++) {
          const next = await lines.next();
          if (next.done) break;
          if (next.value.trim() === '') continue;
          const line = parseLine(next.value, index);
          if ('end' in line) {
            summary.complete = line.people === summary.people;
            break;
          }
          if (!('person' in line)) continue;
          const result = await deps.watchlist.importPerson(line as ArchivePerson, { onConflict: query.on_conflict, reEmbed: query.re_embed === 'true' });
          summary.people++;
          summary[result.status]++;
          summary.images += result.images;
          for (const r of result.rejected) summary.rejected.push({ person: line.person.id, ...r });
          out.write({ person: line.person.id, status: result.status, images: result.images, rejected: result.rejected });
        }
        if (!summary.complete)
          summary.rejected.push({ person: '', filename: '', code: ErrorCode.INVALID_ARGUMENT, message: 'the archive ends without its end line: it was cut short' });
      } catch (err) {
        out.write({ error: { code: (err as AppError).code ?? ErrorCode.INTERNAL, message: (err as Error).message } });
      }
      out.write({ done: true, ...summary });
      out.end();
    },
  }),
  route({
    method: 'post',
    path: '/admin/reindex',
    tag: 'admin',
    scope: 'admin',
    summary: 'Embed reference images again from their files (after a model change). Answers NDJSON progress lines, then a summary.',
    body: ReindexRequest,
    responses: { 200: { description: 'progress and summary', contentType: ndjson }, 422: { description: 'invalid request', schema: ErrorBody } },
    audit: { action: 'watchlist.reindex', details: (_ctx, { body }) => ({ ...(body as object) }) },
    handler: async (ctx, { body }) => {
      const startedAt = body.started_at ? new Date(body.started_at).toISOString() : new Date().toISOString();
      const out = streamLines(ctx);
      out.write({ started_at: startedAt, all: body.all });
      void deps.watchlist
        .reindex({ all: body.all, startedAt }, (done, total) => out.write({ done, total }))
        .then(
          (summary) => out.write({ done: true, ...summary }),
          (err: unknown) => out.write({ error: { code: (err as AppError).code ?? ErrorCode.INTERNAL, message: (err as Error).message } }),
        )
        .finally(() => out.end());
    },
  }),
  route({
    method: 'post',
    path: '/admin/replay',
    tag: 'admin',
    scope: 'admin',
    summary:
      'Re-decide stored results under other settings (a distance threshold, false-alert rates, margin) from their stored scores; report what would change, and with apply store it.',
    body: ReplayRequest,
    responses: { 200: { description: 'the faces whose decision changes', schema: ReplayReportSchema }, 422: { description: 'invalid request', schema: ErrorBody } },
    audit: { action: 'results.replay', details: (ctx, { body }) => ({ ...(body as object), changed: (ctx.body as { changed?: unknown[] }).changed?.length ?? null }) },
    handler: async (ctx, { body }) => {
      ctx.body = await replayResults(deps.store, deps.decisions, {
        since: new Date(body.since).toISOString(),
        until: body.until ? new Date(body.until).toISOString() : undefined,
        threshold: body.threshold,
        matchFalseAlertRate: body.match_false_alert_rate,
        reviewFalseAlertRate: body.review_false_alert_rate,
        minMargin: body.min_margin,
        apply: body.apply,
      });
    },
  }),
  route({
    method: 'post',
    path: '/admin/purge',
    tag: 'admin',
    scope: 'admin',
    summary: 'Delete results (with their crops and image copies) processed longer ago than older_than_days, and optionally alerts older than alerts_older_than_days.',
    body: PurgeRequest,
    responses: {
      200: {
        description: 'what was deleted',
        schema: z.object({ results: z.number().int(), copies_removed: z.number().int(), alerts: z.number().int() }).meta({ id: 'PurgeReport' }),
      },
      422: { description: 'invalid request', schema: ErrorBody },
    },
    audit: { action: 'retention.purge', details: (ctx, { body }) => ({ ...(body as object), ...(ctx.body as object) }) },
    handler: async (ctx, { body }) => {
      const day = 86_400_000;
      ctx.body = await purgeOld(deps, {
        resultsBefore: new Date(Date.now() - body.older_than_days * day).toISOString(),
        alertsBefore: body.alerts_older_than_days === undefined ? undefined : new Date(Date.now() - body.alerts_older_than_days * day).toISOString(),
      });
    },
  }),
];
