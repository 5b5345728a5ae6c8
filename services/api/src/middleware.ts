import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import multer from '@koa/multer';
import { AppError, ErrorCode, metrics, toAppError, type ApiKeyEntry, type ApiKeyScope, type Logger } from '@facewatch/core';
import { httpStatus } from './http-errors.js';

/** Every response carries a request id (the caller's X-Request-Id when sane, else a new one). */
export function requestId() {
  return async (ctx: Context, next: Next): Promise<void> => {
    const given = ctx.get('x-request-id');
    ctx.state['requestId'] = /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
    ctx.set('X-Request-Id', ctx.state['requestId'] as string);
    await next();
  };
}

/**
 * What a 5xx body says: its status's meaning, never the error's message (it may name hosts,
 * files, settings or queries; the log has it under the request id).
 */
const serverErrorMessages: Record<number, string> = {
  501: 'not offered by this deployment; see the code in docs/errors.md',
  502: 'a service this one depends on failed; the server log has the details under this request id',
  503: 'temporarily unavailable; retry later',
  504: 'no result in time; retry later',
};

/**
 * Maps every failure to `{code, message, request_id}` with the status from the one table; 5xx
 * bodies say nothing internal (the log has the details), 4xx bodies say what was wrong.
 */
export function errorMapper(log: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const started = performance.now();
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new AppError(ErrorCode.NOT_FOUND, `no route ${ctx.method} ${ctx.path}`);
    } catch (err) {
      const e = fromKoa(err);
      const status = httpStatus[e.code] ?? 500;
      ctx.status = status;
      ctx.body =
        status >= 500
          ? { code: e.code, message: serverErrorMessages[status] ?? 'internal error; the server log has the details under this request id', request_id: ctx.state['requestId'] }
          : { code: e.code, message: e.message, request_id: ctx.state['requestId'], ...(e.details ? { details: e.details } : {}) };
      const retryAfterS = e.details?.['retryAfterS'];
      if (typeof retryAfterS === 'number') ctx.set('Retry-After', String(retryAfterS));
      else if (e.retryable) ctx.set('Retry-After', '1');
      if (status >= 500 && status !== 501) log.error({ err, code: e.code, requestId: ctx.state['requestId'], path: ctx.path }, 'request failed');
      else if (status === 501) log.warn({ code: e.code, message: e.message, requestId: ctx.state['requestId'], path: ctx.path }, 'request not supported');
    } finally {
      // the route's pattern, not the path: ids would make a label value per request
      const routePattern =
        (ctx as unknown as { _matchedRoute?: string })._matchedRoute ??
        (ctx.status === 404 ? 'unmatched' : ctx.path.startsWith('/api/') ? 'unmatched' : ctx.path.split('/').slice(0, 2).join('/'));
      metrics.httpRequests.observe({ method: ctx.method, route: routePattern, status: String(ctx.status) }, (performance.now() - started) / 1000);
      log.debug(
        {
          method: ctx.method,
          path: ctx.path,
          status: ctx.status,
          ms: Math.round(performance.now() - started),
          requestId: ctx.state['requestId'],
          apiKeyName: ctx.state['apiKeyName'],
        },
        'request',
      );
    }
  };
}

/** Errors thrown by Koa itself become AppErrors. */
function fromKoa(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as { status?: number; message?: string };
  if (e.status === 413) return new AppError(ErrorCode.PAYLOAD_TOO_LARGE, `request too large: ${e.message ?? 'limit exceeded'}`, { cause: err });
  if (e.status && e.status >= 400 && e.status < 500) return new AppError(ErrorCode.INVALID_ARGUMENT, e.message ?? 'bad request', { cause: err });
  return toAppError(err);
}

const scopeRank: Record<ApiKeyScope, number> = { read: 0, write: 1, admin: 2 };

/** The keys a server accepts, each with its name and scope. */
export interface ApiKeys {
  /** No key configured: every route is open (a laptop). */
  readonly isOpen: boolean;
  /** The key entry `given` matches, compared in constant time against every key. */
  find(given: string): { name: string; scope: ApiKeyScope } | undefined;
}

/** API_KEY (an admin key named `default`) and API_KEYS. Keys are kept as SHA-256 digests only. */
export function apiKeys(apiKey: string | undefined, named: readonly ApiKeyEntry[] = []): ApiKeys {
  const digest = (key: string): Buffer => createHash('sha256').update(key).digest();
  const entries = [...(apiKey === undefined ? [] : [{ name: 'default', scope: 'admin' as const, key: apiKey }]), ...named].map((e) => ({
    name: e.name,
    scope: e.scope,
    digest: digest(e.key),
  }));
  return {
    isOpen: entries.length === 0,
    find(given) {
      const d = digest(given);
      let found: { name: string; scope: ApiKeyScope } | undefined;
      // every entry is compared, so the time taken says nothing about which one matched
      for (const e of entries) if (timingSafeEqual(d, e.digest) && given !== '') found = { name: e.name, scope: e.scope };
      return found;
    },
  };
}

/**
 * Checks the request's key (`X-API-Key: <key>` or `Authorization: Bearer <key>`) against `keys`
 * and the scope a route needs: UNAUTHORIZED without a valid key, FORBIDDEN when its scope is too
 * small. Puts the key's name (never the key) in ctx.state.apiKeyName.
 */
export function apiKeyCheck(keys: ApiKeys) {
  return (ctx: Context, needed: ApiKeyScope): void => {
    if (keys.isOpen) return;
    const given = ctx.get('x-api-key') || ctx.get('authorization').replace(/^Bearer\s+/i, '');
    const key = keys.find(given);
    if (!key) throw new AppError(ErrorCode.UNAUTHORIZED, 'missing or wrong API key (X-API-Key header or Authorization: Bearer)');
    ctx.state['apiKeyName'] = key.name;
    if (scopeRank[key.scope] < scopeRank[needed]) {
      throw new AppError(ErrorCode.FORBIDDEN, `the API key "${key.name}" has scope ${key.scope}; ${ctx.method} ${ctx.path} needs ${needed}`, {
        details: { scope: key.scope, needed },
      });
    }
  };
}

/**
 * Token buckets, one per client: `burst` requests at once, refilled at `perMinute`. Buckets that
 * are full again are dropped once there are many, so memory stays bounded by recent clients.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;

  constructor(
    readonly perMinute: number,
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
    private readonly maxClients = 10_000,
  ) {
    this.perMs = perMinute / 60_000;
  }

  /** Takes one request from `client`'s budget: undefined when allowed, else the seconds to wait. */
  take(client: string): number | undefined {
    if (this.perMinute === 0) return undefined;
    const now = this.now();
    const bucket = this.buckets.get(client) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.at) * this.perMs);
    bucket.at = now;
    if (!this.buckets.has(client)) {
      if (this.buckets.size >= this.maxClients) this.prune(now);
      this.buckets.set(client, bucket);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    // whole milliseconds first: floating-point dust must not add a second
    return Math.max(1, Math.ceil(Math.round((1 - bucket.tokens) / this.perMs) / 1000));
  }

  get size(): number {
    return this.buckets.size;
  }

  private prune(now: number): void {
    for (const [client, b] of this.buckets) if (b.tokens + (now - b.at) * this.perMs >= this.burst) this.buckets.delete(client);
    // still full of busy clients: forget the oldest rather than grow without bound
    while (this.buckets.size >= this.maxClients) this.buckets.delete(this.buckets.keys().next().value!);
  }
}

/** The rate limit of changing requests: per API key name, or per client address. */
export function rateLimit(limiter: RateLimiter, by: 'key' | 'address') {
  return (ctx: Context): void => {
    const keyName = ctx.state['apiKeyName'] as string | undefined;
    const client = by === 'key' && keyName !== undefined ? `key:${keyName}` : `address:${ctx.ip}`;
    const waitS = limiter.take(client);
    if (waitS !== undefined) {
      throw new AppError(ErrorCode.RATE_LIMITED, `too many changing requests: at most ${limiter.perMinute} a minute (${limiter.burst} at once); retry in ${waitS} s`, {
        details: { retryAfterS: waitS, perMinute: limiter.perMinute, burst: limiter.burst },
      });
    }
  };
}

/** Reads a JSON body up to `limit` bytes; larger is PAYLOAD_TOO_LARGE, malformed is INVALID_ARGUMENT. */
export async function readJson(ctx: Context, limit: number): Promise<unknown> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) throw new AppError(ErrorCode.PAYLOAD_TOO_LARGE, `request body of ${declared} bytes exceeds the limit of ${limit}`);
  if (!ctx.is('application/json') && ctx.get('content-type') !== '') {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, 'send the request body as application/json');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      ctx.req.destroy();
      throw new AppError(ErrorCode.PAYLOAD_TOO_LARGE, `request body exceeds the limit of ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, 'the request body is not valid JSON');
  }
}

/** An uploaded file. */
export interface UploadedFile {
  fileName: string;
  bytes: Uint8Array;
}

export interface MultipartSpec {
  /** Text fields the route takes (each at most once). */
  fields: readonly string[];
  /** File fields the route takes. */
  files: readonly string[];
  maxFileBytes: number;
  maxFiles: number;
  /** Largest text field value. */
  maxFieldBytes?: number;
}

/** Multer's size and count limits: the body is too large; its other errors: the body is malformed. */
const sizeLimits = new Set(['LIMIT_FILE_SIZE', 'LIMIT_FILE_COUNT', 'LIMIT_FIELD_VALUE', 'LIMIT_FIELD_COUNT', 'LIMIT_PART_COUNT', 'LIMIT_FIELD_KEY']);

/**
 * Reads a multipart/form-data body within `spec`'s limits. Every way a body can be broken (no
 * boundary, a malformed part header, a part without a name, an end mid-part: busboy's and multer's
 * errors) is MULTIPART_INVALID (400); too many or too large parts PAYLOAD_TOO_LARGE (413); a field
 * the route does not take, or a text field twice, INVALID_ARGUMENT (422).
 */
export function multipartReader(spec: MultipartSpec) {
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: {
      fileSize: spec.maxFileBytes,
      files: spec.maxFiles,
      fields: spec.fields.length + 8,
      fieldSize: spec.maxFieldBytes ?? 64 * 1024,
      fieldNameSize: 200,
      parts: spec.fields.length + spec.maxFiles + 8,
    },
  }).any();
  return async (ctx: Context): Promise<{ fields: Record<string, string>; files: Record<string, UploadedFile[]> }> => {
    const contentType = ctx.get('content-type');
    // multipart/form-data without a usable boundary (RFC 2046: 1 to 70 characters): a broken body, not another type
    if (/^\s*multipart\/form-data\b/i.test(contentType) && !/;\s*boundary=(?:"[^"]{1,70}"|[^";\s]{1,70})\s*(?:;|$)/i.test(contentType)) {
      throw new AppError(ErrorCode.MULTIPART_INVALID, 'the multipart/form-data content type needs a boundary of 1 to 70 characters');
    }
    if (!ctx.is('multipart/form-data'))
      throw new AppError(ErrorCode.INVALID_ARGUMENT, `send multipart/form-data${spec.files.length > 0 ? ` with ${spec.files.map((f) => `\`${f}\``).join(', ')} files` : ''}`);
    try {
      await upload(ctx, async () => undefined);
    } catch (err) {
      const e = err as { code?: string; message?: string; name?: string };
      if (e.code !== undefined && sizeLimits.has(e.code))
        throw new AppError(ErrorCode.PAYLOAD_TOO_LARGE, `upload too large: ${e.message ?? e.code}`, { cause: err, details: { limit: e.code } });
      if (e.code === 'LIMIT_UNEXPECTED_FILE') throw new AppError(ErrorCode.INVALID_ARGUMENT, `unexpected file field: ${e.message ?? ''}`, { cause: err });
      throw new AppError(ErrorCode.MULTIPART_INVALID, `the multipart body cannot be read: ${e.message ?? 'malformed'}`, { cause: err });
    }
    const rawFields = ((ctx.request as unknown as { body?: Record<string, unknown> }).body ?? {}) as Record<string, unknown>;
    const uploaded = (ctx.files as unknown as { fieldname: string; originalname: string; buffer: Buffer }[] | undefined) ?? [];
    const fields: Record<string, string> = {};
    // multer nests `a[b]` names; only plain names the route takes are fields
    for (const name of Object.keys(rawFields)) {
      const value = rawFields[name];
      if (!spec.fields.includes(name)) {
        throw new AppError(
          ErrorCode.INVALID_ARGUMENT,
          `unexpected field \`${name}\`${spec.fields.length > 0 ? `; this route takes ${spec.fields.map((f) => `\`${f}\``).join(', ')}` : ''}${spec.files.length > 0 ? ` and files in ${spec.files.map((f) => `\`${f}\``).join(', ')}` : ''}`,
          {
            details: { field: name },
          },
        );
      }
      if (typeof value !== 'string') throw new AppError(ErrorCode.INVALID_ARGUMENT, `the field \`${name}\` must be given once, as text`, { details: { field: name } });
      fields[name] = value;
    }
    const files: Record<string, UploadedFile[]> = {};
    for (const f of uploaded) {
      if (!spec.files.includes(f.fieldname)) {
        throw new AppError(
          ErrorCode.INVALID_ARGUMENT,
          `unexpected file field \`${f.fieldname}\`${spec.files.length > 0 ? `; files go in ${spec.files.map((n) => `\`${n}\``).join(', ')}` : ''}`,
          { details: { field: f.fieldname } },
        );
      }
      (files[f.fieldname] ??= []).push({ fileName: f.originalname, bytes: new Uint8Array(f.buffer.buffer, f.buffer.byteOffset, f.buffer.byteLength) });
    }
    return { fields, files };
  };
}
