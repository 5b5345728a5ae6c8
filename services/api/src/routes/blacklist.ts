import type { Context } from 'koa';
import { AppError, ErrorCode } from '@facewatch/core';
import type { Person } from '@facewatch/db';
import { z } from 'zod';
import type { Upload } from '../blacklist/watchlist.js';
import type { ApiDeps } from '../deps.js';
import { multipartReader } from '../middleware.js';
import { ErrorBody, route, validate } from '../route.js';
import { ImagesAdded, PageQuery, PersonCreated, PersonPage, PersonRecord, PersonUpdate, text, visibleText } from '../schemas.js';

/** Audit details of an enrolment: how many images were added and refused, never names. */
const counts = (body: unknown): Record<string, unknown> => {
  const b = (body ?? {}) as { image_count?: number; added?: number; rejected?: { code: string }[] };
  return { added: b.added ?? b.image_count ?? null, rejected: (b.rejected ?? []).map((r) => r.code) };
};

const toRecord = (p: Person) => ({ id: p.id, name: p.name, reason: p.reason, image_count: p.imageCount, created_at: p.createdAt, updated_at: p.updatedAt });

const NameField = visibleText(200);
const ReasonField = text(2000);
const CreateFields = z.object({ name: NameField, reason: ReasonField.optional() });

export const blacklistRoutes = (deps: ApiDeps) => {
  const limits = { maxFileBytes: deps.settings.maxUploadBytes, maxFiles: deps.settings.maxUploadFiles, files: ['images'] };
  const readCreate = multipartReader({ ...limits, fields: ['name', 'reason'] });
  const readImages = multipartReader({ ...limits, fields: [] });
  /** Reads the multipart body (bounded by file size and count); `images` are the files. */
  const readMultipart = async (ctx: Context, read: typeof readCreate): Promise<{ fields: Record<string, unknown>; files: Upload[] }> => {
    const { fields, files } = await read(ctx);
    return { fields, files: files['images'] ?? [] };
  };
  const personId = (ctx: Context): string => ctx.params['id'] as string;
  const notFound = { 404: { description: 'unknown person', schema: ErrorBody } };
  const imagesField = { images: { description: 'Reference images, each showing exactly one face (JPEG, PNG, WebP, GIF, TIFF).', required: false } };

  return [
    route({
      method: 'post',
      path: '/blacklist',
      tag: 'blacklist',
      summary: 'Add a person to the watch-list, with reference images.',
      multipart: {
        fields: {
          name: { description: 'Display name.', required: true, schema: NameField },
          reason: { description: 'Why they are on the list.', required: false, schema: ReasonField },
        },
        files: imagesField,
      },
      responses: {
        201: { description: 'created; `rejected` lists images that were not used and why', schema: PersonCreated },
        413: { description: 'upload too large', schema: ErrorBody },
        422: { description: 'invalid fields', schema: ErrorBody },
      },
      audit: { action: 'person.create', target: 'person', details: (ctx) => counts(ctx.body) },
      handler: async (ctx) => {
        const { fields, files } = await readMultipart(ctx, readCreate);
        const input = validate(CreateFields, fields, 'body');
        const { person, rejected } = await deps.watchlist.createPerson(input.name, input.reason ?? null, files);
        ctx.status = 201;
        ctx.body = { ...toRecord(person), rejected };
      },
    }),
    route({
      method: 'post',
      path: '/blacklist/:id/images',
      tag: 'blacklist',
      summary: 'Add reference images to a person; reports how many were added and why others were rejected.',
      params: { id: 'Person id.' },
      multipart: { fields: {}, files: { images: { ...imagesField.images, required: true } } },
      responses: { 200: { description: 'images added', schema: ImagesAdded }, ...notFound, 413: { description: 'upload too large', schema: ErrorBody } },
      audit: { action: 'reference.add', target: 'person', details: (ctx) => counts(ctx.body) },
      handler: async (ctx) => {
        if (!(await deps.store.persons.get(personId(ctx)))) throw new AppError(ErrorCode.PERSON_NOT_FOUND, `no watch-list person with id ${personId(ctx)}`);
        const { files } = await readMultipart(ctx, readImages);
        if (files.length === 0) throw new AppError(ErrorCode.INVALID_ARGUMENT, 'no `images` files in the request');
        const { person, added, rejected } = await deps.watchlist.addImages(personId(ctx), files);
        ctx.body = { person_id: person.id, added, rejected, image_count: person.imageCount };
      },
    }),
    route({
      method: 'get',
      path: '/blacklist',
      tag: 'blacklist',
      summary: 'List the watch-list.',
      query: PageQuery,
      responses: { 200: { description: 'persons', schema: PersonPage } },
      handler: async (ctx, { query }) => {
        const page = await deps.store.persons.list({ offset: query.offset, limit: query.limit });
        ctx.body = { total_items: page.total, items: page.items.map(toRecord) };
      },
    }),
    route({
      method: 'get',
      path: '/blacklist/:id',
      tag: 'blacklist',
      summary: 'One person.',
      params: { id: 'Person id.' },
      responses: { 200: { description: 'the person', schema: PersonRecord }, ...notFound },
      handler: async (ctx) => {
        const person = await deps.store.persons.get(personId(ctx));
        if (!person) throw new AppError(ErrorCode.PERSON_NOT_FOUND, `no watch-list person with id ${personId(ctx)}`);
        ctx.body = toRecord(person);
      },
    }),
    route({
      method: 'put',
      path: '/blacklist/:id',
      tag: 'blacklist',
      summary: "Change a person's name or reason.",
      params: { id: 'Person id.' },
      body: PersonUpdate,
      responses: { 200: { description: 'updated', schema: PersonRecord }, ...notFound, 422: { description: 'invalid fields', schema: ErrorBody } },
      // which fields changed, not their values (the audit log keeps no personal data)
      audit: { action: 'person.update', target: 'person', details: (_ctx, { body }) => ({ fields: Object.keys(body ?? {}) }) },
      handler: async (ctx, { body }) => {
        ctx.body = toRecord(await deps.watchlist.update(personId(ctx), body));
      },
    }),
    route({
      method: 'delete',
      path: '/blacklist/:id',
      tag: 'blacklist',
      summary:
        'Remove a person and erase them: reference images (files or S3 objects), embeddings, and from stored results their name in matches and candidates (marked erased), their alerts and the crops of the faces matched to them. The audit log keeps that it happened.',
      params: { id: 'Person id.' },
      responses: { 204: { description: 'deleted' }, ...notFound },
      audit: { action: 'person.delete', target: 'person', details: (ctx) => (ctx.state['erasure'] as Record<string, unknown> | undefined) ?? null },
      handler: async (ctx) => {
        ctx.state['erasure'] = await deps.watchlist.delete(personId(ctx));
        ctx.status = 204;
      },
    }),
  ];
};
