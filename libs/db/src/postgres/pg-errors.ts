import pg from 'pg';
import { AppError, ErrorCode } from '@facewatch/core';

/** Socket-level failures of node's net/dns: the server is down, restarting or unreachable. */
const networkCodes: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * What node-postgres throws (plain Errors, no code) when the connection drops or cannot be had:
 * "Connection terminated unexpectedly", "Connection terminated due to connection timeout",
 * "timeout expired" (client connect), "timeout exceeded when trying to connect" (pool),
 * "Client has encountered a connection error and is not queryable", "Query read timeout".
 */
const connectionMessage = /connection terminated|timeout expired|timeout exceeded when trying to connect|not queryable|query read timeout/i;

/**
 * SQLSTATEs a retry may cure: connection exceptions (08), server shutting down or starting
 * (57P01-57P03), idle-session timeout (57P05), statement cancelled or timed out (57014), out of
 * connections, memory or disk (53), serialisation failure and deadlock (40001, 40P01), a lock not
 * available (55P03), system I/O errors (58000, 58030).
 */
function isTransientState(code: string): boolean {
  return code.startsWith('08') || code.startsWith('53') || ['57P01', '57P02', '57P03', '57P05', '57014', '40001', '40P01', '55P03', '58000', '58030'].includes(code);
}

/**
 * SQLSTATEs that say this store cannot be used as configured, which no retry cures: bad
 * credentials (28), no such database (3D000), missing privilege (42501), no pgvector extension on
 * the server (58P01 "could not open extension control file").
 */
function isUnusableState(code: string): boolean {
  return code.startsWith('28') || ['3D000', '42501', '58P01'].includes(code);
}

function nodeErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  // node reports a refused connection to every address of a name (localhost: ::1 and 127.0.0.1) as an AggregateError
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const innerCode = nodeErrorCode(inner);
      if (innerCode !== undefined) return innerCode;
    }
  }
  return undefined;
}

/** Whether `err` says the server could not be reached or the connection was lost. */
export function isConnectionFailure(err: unknown): boolean {
  if (err instanceof pg.DatabaseError) return err.code !== undefined && (err.code.startsWith('08') || ['57P01', '57P02', '57P03'].includes(err.code));
  const code = nodeErrorCode(err);
  if (code !== undefined && networkCodes.has(code)) return true;
  return err instanceof Error && connectionMessage.test(err.message);
}

/**
 * Maps what node-postgres throws to the taxonomy: a server that is down, restarting, unreachable or
 * out of resources → DB_UNAVAILABLE (retryable); bad credentials, a missing database or privilege →
 * DB_UNAVAILABLE (not retryable); constraint violations and values the server refuses (classes 23
 * and 22) → INVALID_ARGUMENT; anything else → INTERNAL. AppErrors pass through. Callers that know
 * which foreign key failed map 23503 further (PERSON_NOT_FOUND).
 */
export function toPgStoreError(err: unknown, action: string): AppError {
  if (err instanceof AppError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  if (err instanceof pg.DatabaseError) {
    const code = err.code ?? '';
    const details: Record<string, unknown> = { sqlState: code };
    if (err.constraint !== undefined) details.constraint = err.constraint;
    if (isTransientState(code)) {
      return new AppError(ErrorCode.DB_UNAVAILABLE, `PostgreSQL is unavailable while ${action}: ${reason}`, { cause: err, details, retryable: true });
    }
    if (isUnusableState(code)) {
      return new AppError(ErrorCode.DB_UNAVAILABLE, `PostgreSQL cannot be used while ${action}: ${reason}`, { cause: err, details, retryable: false });
    }
    if (code.startsWith('23') || code.startsWith('22')) {
      return new AppError(ErrorCode.INVALID_ARGUMENT, `${action}: ${reason}`, { cause: err, details });
    }
    return new AppError(ErrorCode.INTERNAL, `PostgreSQL error while ${action}`, { cause: err, details });
  }
  if (isConnectionFailure(err)) {
    const code = nodeErrorCode(err);
    return new AppError(ErrorCode.DB_UNAVAILABLE, `PostgreSQL is unreachable while ${action}: ${reason || code}`, {
      cause: err,
      details: code === undefined ? undefined : { errno: code },
      retryable: true,
    });
  }
  return new AppError(ErrorCode.INTERNAL, `PostgreSQL error while ${action}`, { cause: err });
}
