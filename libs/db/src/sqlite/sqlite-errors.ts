import { AppError, ErrorCode } from '@facewatch/core';

/** Another connection holds the lock longer than busy_timeout: a retry may succeed. */
const busy = /^SQLITE_(BUSY|LOCKED)/;
/** The disk, not the request, failed: a retry may cure it once space or the device is back. */
const ioFailure = /^SQLITE_(IOERR|FULL)/;
/** The file cannot be used at all (missing directory rights, not a database, corrupt, read-only). */
const unusable = /^SQLITE_(CANTOPEN|NOTADB|CORRUPT|READONLY|PERM|AUTH)/;

function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/**
 * Maps what better-sqlite3 throws to the taxonomy: locks → DB_UNAVAILABLE (retryable), I/O failures →
 * DB_UNAVAILABLE (retryable), an unusable file → DB_UNAVAILABLE (not retryable), constraint violations
 * (duplicate id or folder) → INVALID_ARGUMENT, anything else → INTERNAL. AppErrors pass through.
 */
export function toStoreError(err: unknown, action: string): AppError {
  if (err instanceof AppError) return err;
  const code = sqliteCode(err);
  const reason = err instanceof Error ? err.message : String(err);
  const details = code === undefined ? undefined : { sqliteCode: code };
  if (code !== undefined && busy.test(code)) {
    return new AppError(ErrorCode.DB_UNAVAILABLE, `SQLite database is locked while ${action}`, { cause: err, details, retryable: true });
  }
  if (code !== undefined && ioFailure.test(code)) {
    return new AppError(ErrorCode.DB_UNAVAILABLE, `SQLite I/O failure while ${action}`, { cause: err, details, retryable: true });
  }
  if (code !== undefined && unusable.test(code)) {
    return new AppError(ErrorCode.DB_UNAVAILABLE, `SQLite database cannot be used while ${action}: ${reason}`, { cause: err, details, retryable: false });
  }
  if (code?.startsWith('SQLITE_CONSTRAINT')) {
    return new AppError(ErrorCode.INVALID_ARGUMENT, `${action}: ${reason}`, { cause: err, details });
  }
  return new AppError(ErrorCode.INTERNAL, `SQLite error while ${action}`, { cause: err, details });
}
