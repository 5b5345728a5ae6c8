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
import type { AnnBuildProgress, AnnIndexDescription, VectorIndex } from '@facewatch/db';
import { AuditPage, AuditQuery, PurgeRequest, ReindexRequest, ReplayReportSchema, ReplayRequest, VectorIndexRebuildRequest, VectorIndexState } from '../schemas.js';

const ndjson = 'application/x-ndjson';

/** Streams lines of JSON as the answer; returns the writer and a function that ends it. */
function streamLines(ctx: Context): { write(value: unknown): void; end(): void } {
  const stream = new PassThrough();
  ctx.type = ndjson;
  ctx.status = 200;
  ctx.body = stream;
  return { write: (value) => stream.write(`${JSON.stringify(value)}\n`), end: () => stream.end() };
}

const buildJson = (b: AnnIndexDescription | undefined) => (b === undefined ? null : { storage: b.storage, m: b.m, ef_construction: b.efConstruction });

/** The vector index the backend searches, or UNSUPPORTED_BY_BACKEND (aws_rekognition keeps its own). */
async function searchIndex(deps: ApiDeps): Promise<VectorIndex> {
  if (deps.backend.searchIndex === undefined) {
    throw new AppError(ErrorCode.UNSUPPORTED_BY_BACKEND, `the ${deps.backend.kind} backend keeps no vector index of its own`);
  }
  return deps.backend.searchIndex();
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
    method: 'get',
    path: '/admin/vector-index',
    tag: 'admin',
    scope: 'admin',
    summary: 'The vector index searched for the watch-list: exact (embedded profile) or a pgvector HNSW graph, how it is built, and how a rebuild would build it.',
    responses: { 200: { description: 'the index', schema: VectorIndexState }, 501: { description: 'the backend keeps no vector index (aws_rekognition)', schema: ErrorBody } },
    handler: async (ctx) => {
      const index = await searchIndex(deps);
      const ann = index.describeAnn === undefined ? undefined : await index.describeAnn();
      ctx.body = {
        model: index.model,
        vectors: await index.count(),
        kind: ann === undefined ? 'exact' : ann.inUse ? 'hnsw' : 'none',
        build: buildJson(ann?.inUse),
        configured: buildJson(ann?.configured),
        ef_search: ann?.efSearch ?? null,
      };
    },
  }),
  route({
    method: 'post',
    path: '/admin/vector-index',
    tag: 'admin',
    scope: 'admin',
    summary:
      'Rebuild the pgvector HNSW index (scale profile): a new index is built beside the one in use (searches go on), then replaces it. Answers NDJSON: progress lines {phase, done, total}, then {done: true, before, after, vectors, build_ms}. docs/admin.md.',
    body: VectorIndexRebuildRequest,
    responses: {
      200: { description: 'progress and summary', contentType: ndjson },
      409: { description: 'a rebuild is running already (INDEX_BUILD_RUNNING)', schema: ErrorBody },
      422: { description: 'invalid settings', schema: ErrorBody },
      501: { description: 'no HNSW index to build: the embedded profile searches exactly, aws_rekognition keeps its own index', schema: ErrorBody },
    },
    audit: { action: 'vector_index.rebuild', details: (_ctx, { body }) => ({ ...(body as object) }) },
    handler: async (ctx, { body }) => {
      const index = await searchIndex(deps);
      if (index.rebuildAnn === undefined) {
        throw new AppError(ErrorCode.UNSUPPORTED_BY_BACKEND, 'the embedded profile searches its SQLite index exactly: there is no HNSW index to build');
      }
      // refusals (a rebuild already running, bad settings) answer as HTTP errors; once the build
      // has started, its progress and end are lines of the answer
      let out: ReturnType<typeof streamLines> | undefined;
      let started!: () => void;
      const startedOnce = new Promise<void>((resolve) => (started = resolve));
      const progress = (p: AnnBuildProgress): void => {
        started();
        out?.write({ phase: p.phase, done: p.done, total: p.total });
      };
      const build = index.rebuildAnn(
        {
          ...(body.storage !== undefined ? { storage: body.storage } : {}),
          ...(body.m !== undefined ? { m: body.m } : {}),
          ...(body.ef_construction !== undefined ? { efConstruction: body.ef_construction } : {}),
          ...(body.maintenance_work_mem !== undefined ? { maintenanceWorkMem: body.maintenance_work_mem } : {}),
        },
        progress,
      );
      await Promise.race([startedOnce, build]);
      out = streamLines(ctx);
      out.write({ model: index.model, phase: 'starting' });
      void build
        .then(
          (report) => out.write({ done: true, before: buildJson(report.before), after: buildJson(report.after), vectors: report.vectors, build_ms: report.buildMs }),
          (err: unknown) => {
            deps.log.error({ err }, 'vector index rebuild failed');
            out.write({ error: { code: (err as AppError).code ?? ErrorCode.INTERNAL, message: (err as Error).message } });
          },
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
