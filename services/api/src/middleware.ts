import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { AppError, ErrorCode, metrics, toAppError, type Logger } from '@facewatch/core';
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
          ? { code: e.code, message: status === 503 || status === 501 ? e.message : 'internal error; see the server log with this request id', request_id: ctx.state['requestId'] }
          : { code: e.code, message: e.message, request_id: ctx.state['requestId'], ...(e.details ? { details: e.details } : {}) };
      if (e.retryable) ctx.set('Retry-After', '1');
      if (status >= 500 && status !== 501) log.error({ err, requestId: ctx.state['requestId'], path: ctx.path }, 'request failed');
    } finally {
      // the route's pattern, not the path: ids would make a label value per request
      const routePattern = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? (ctx.status === 404 ? 'unmatched' : ctx.path.startsWith('/api/') ? 'unmatched' : ctx.path.split('/').slice(0, 2).join('/'));
      metrics.httpRequests.observe({ method: ctx.method, route: routePattern, status: String(ctx.status) }, (performance.now() - started) / 1000);
      log.debug({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started), requestId: ctx.state['requestId'] }, 'request');
    }
  };
}

/** Errors thrown by Koa itself and by multer (limits, malformed bodies) become AppErrors. */
function fromKoa(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as { status?: number; code?: string; message?: string; field?: string };
  if (e.code === 'LIMIT_FILE_SIZE' || e.code === 'LIMIT_FIELD_VALUE' || e.code === 'LIMIT_FILE_COUNT' || e.status === 413) {
    return new AppError(ErrorCode.PAYLOAD_TOO_LARGE, `upload too large: ${e.message ?? 'limit exceeded'}`, { cause: err });
  }
  if (typeof e.code === 'string' && e.code.startsWith('LIMIT_')) return new AppError(ErrorCode.INVALID_ARGUMENT, `invalid upload: ${e.message}`, { cause: err });
  if (e.status && e.status >= 400 && e.status < 500) return new AppError(ErrorCode.INVALID_ARGUMENT, e.message ?? 'bad request', { cause: err });
  return toAppError(err);
}

/** With API_KEY set, every non-public route needs `X-API-Key: <key>` or `Authorization: Bearer <key>`. */
export function apiKeyCheck(key: string | undefined) {
  const expected = key === undefined ? undefined : Buffer.from(key);
  return (ctx: Context): void => {
    if (!expected) return;
    const header = ctx.get('x-api-key') || ctx.get('authorization').replace(/^Bearer\s+/i, '');
    const given = Buffer.from(header);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new AppError(ErrorCode.UNAUTHORIZED, 'missing or wrong API key (X-API-Key header or Authorization: Bearer)');
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
