/**
 * The one error taxonomy of facewatch. Every failure that crosses a module boundary is an
 * {@link AppError} with a stable `code` from {@link ErrorCode}; callers branch on the code, never
 * on the message. docs/errors.md lists the same codes (a test keeps them in step).
 */

export const ErrorCode = {
  CONFIG_INVALID: 'CONFIG_INVALID',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  MULTIPART_INVALID: 'MULTIPART_INVALID',
  IMAGE_EMPTY: 'IMAGE_EMPTY',
  IMAGE_UNSUPPORTED_FORMAT: 'IMAGE_UNSUPPORTED_FORMAT',
  IMAGE_CORRUPT: 'IMAGE_CORRUPT',
  IMAGE_TOO_LARGE: 'IMAGE_TOO_LARGE',
  IMAGE_NOT_FOUND: 'IMAGE_NOT_FOUND',
  PATH_NOT_ALLOWED: 'PATH_NOT_ALLOWED',
  URL_NOT_ALLOWED: 'URL_NOT_ALLOWED',
  URL_FETCH_FAILED: 'URL_FETCH_FAILED',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  NO_FACE: 'NO_FACE',
  MULTIPLE_FACES: 'MULTIPLE_FACES',
  PERSON_NOT_FOUND: 'PERSON_NOT_FOUND',
  RESULT_NOT_FOUND: 'RESULT_NOT_FOUND',
  ALERT_NOT_FOUND: 'ALERT_NOT_FOUND',
  WEBHOOK_NOT_FOUND: 'WEBHOOK_NOT_FOUND',
  EVIDENCE_NOT_FOUND: 'EVIDENCE_NOT_FOUND',
  NOT_FOUND: 'NOT_FOUND',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  RATE_LIMITED: 'RATE_LIMITED',
  INSUFFICIENT_DATA: 'INSUFFICIENT_DATA',
  INDEX_BUILD_RUNNING: 'INDEX_BUILD_RUNNING',
  DB_UNAVAILABLE: 'DB_UNAVAILABLE',
  BUS_UNAVAILABLE: 'BUS_UNAVAILABLE',
  RESULT_TIMEOUT: 'RESULT_TIMEOUT',
  MODEL_MISSING: 'MODEL_MISSING',
  MODEL_CHECKSUM_MISMATCH: 'MODEL_CHECKSUM_MISMATCH',
  MODEL_DOWNLOAD_FAILED: 'MODEL_DOWNLOAD_FAILED',
  INFERENCE_FAILED: 'INFERENCE_FAILED',
  POOL_BUSY: 'POOL_BUSY',
  POOL_CLOSED: 'POOL_CLOSED',
  FACE_REJECTED: 'FACE_REJECTED',
  UNSUPPORTED_BY_BACKEND: 'UNSUPPORTED_BY_BACKEND',
  BACKEND_UNAVAILABLE: 'BACKEND_UNAVAILABLE',
  BACKEND_FAILED: 'BACKEND_FAILED',
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Which codes a retry may cure (the input is fine, a resource was not). */
const retryableByDefault: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCode.POOL_BUSY,
  ErrorCode.POOL_CLOSED,
  ErrorCode.DB_UNAVAILABLE,
  ErrorCode.BUS_UNAVAILABLE,
  ErrorCode.BACKEND_UNAVAILABLE,
  ErrorCode.RATE_LIMITED,
  ErrorCode.RESULT_TIMEOUT,
]);

export interface AppErrorOptions {
  retryable?: boolean;
  cause?: unknown;
  /** Structured facts for logs and 4xx bodies (never secrets, never stack traces). */
  details?: Record<string, unknown>;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.retryable = options.retryable ?? retryableByDefault.has(code);
    this.details = options.details;
  }

  /** The shape written to JSON outputs: `{code, message}` (plus details when present). */
  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, details: this.details };
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}

/** Wraps anything thrown into an AppError; unknown failures become INTERNAL with the original as cause. */
export function toAppError(value: unknown, fallback: ErrorCode = ErrorCode.INTERNAL): AppError {
  if (value instanceof AppError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new AppError(fallback, message, { cause: value });
}

/** Rebuilds an AppError from its serialised form (worker_threads messages lose the prototype). */
export function appErrorFromJSON(value: { code: string; message: string; retryable?: boolean; details?: Record<string, unknown> }): AppError {
  const known = (Object.values(ErrorCode) as string[]).includes(value.code);
  return new AppError(known ? (value.code as ErrorCode) : ErrorCode.INTERNAL, value.message, {
    retryable: value.retryable,
    details: value.details,
  });
}
