import { setTimeout as delay } from 'node:timers/promises';
import { AppError, ErrorCode, type Logger } from '@facewatch/core';

/**
 * How facewatch calls AWS: every call goes through {@link callAws}, which retries throttling and
 * transient failures with exponential back-off and full jitter, and turns what AWS answers into
 * the one error taxonomy. The SDK's own retries are switched off (`maxAttempts: 1` on the
 * clients) so the policy lives here, once, and is the same under aws-sdk-client-mock in tests.
 */
export interface AwsRetryPolicy {
  /** Tries in all (1: no retry). */
  attempts: number;
  /** First back-off; doubles per try up to maxDelayMs, then a random part of it is slept (full jitter). */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Injected by tests to skip real waiting. */
  sleep?: (ms: number) => Promise<unknown>;
  random?: () => number;
}

export const defaultRetryPolicy = (attempts: number): AwsRetryPolicy => ({ attempts, baseDelayMs: 200, maxDelayMs: 5000 });

/** AWS error names (the SDK's `err.name`) that a later try may cure. */
const transientNames = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
  'InternalServerError',
  'InternalError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);
/** Socket-level failures (no answer from AWS at all). */
const networkCodes = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

interface AwsLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/** Whether a failed AWS call is worth another try. */
export function isTransientAwsError(err: unknown): boolean {
  const e = err as AwsLikeError;
  if (!e || typeof e !== 'object') return false;
  if (e.name && transientNames.has(e.name)) return true;
  if (e.code && networkCodes.has(e.code)) return true;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  return status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

/**
 * Maps an AWS failure to an AppError: transient ones (after the retries) to BACKEND_UNAVAILABLE,
 * image problems Rekognition reports to the image codes, anything else to BACKEND_FAILED.
 */
export function toBackendError(err: unknown, operation: string): AppError {
  if (err instanceof AppError) return err;
  const e = (err ?? {}) as AwsLikeError;
  const name = e.name ?? 'Error';
  if (isTransientAwsError(err)) {
    return new AppError(ErrorCode.BACKEND_UNAVAILABLE, `AWS ${operation} is unavailable or throttled (${name}); retry later`, {
      cause: err,
      details: { operation, aws_error: name },
    });
  }
  switch (name) {
    case 'InvalidImageFormatException':
      return new AppError(ErrorCode.IMAGE_UNSUPPORTED_FORMAT, 'AWS Rekognition cannot read this image (it accepts JPEG and PNG)', { cause: err, details: { operation } });
    case 'ImageTooLargeException':
      return new AppError(ErrorCode.IMAGE_TOO_LARGE, "the image exceeds AWS Rekognition's limits (5 MB as bytes, 15 MB from S3)", { cause: err, details: { operation } });
    default:
      return new AppError(ErrorCode.BACKEND_FAILED, `AWS ${operation} failed: ${name}`, { cause: err, details: { operation, aws_error: name } });
  }
}

/**
 * Runs one AWS call with the retry policy. Errors that are not transient, and the last transient
 * one, are thrown as AppErrors ({@link toBackendError}); `handle` may first turn an expected AWS
 * error into an answer (e.g. ResourceNotFoundException → undefined).
 */
export async function callAws<T>(operation: string, policy: AwsRetryPolicy, log: Logger, call: () => Promise<T>, handle?: (err: unknown) => { value: T } | undefined): Promise<T> {
  const sleep = policy.sleep ?? ((ms: number) => delay(ms));
  const random = policy.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const handled = handle?.(err);
      if (handled) return handled.value;
      if (!isTransientAwsError(err) || attempt >= policy.attempts) throw toBackendError(err, operation);
      const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      const waitMs = Math.round(random() * ceiling);
      log.warn({ operation, attempt, waitMs, awsError: (err as AwsLikeError).name }, 'AWS call failed; retrying');
      await sleep(waitMs);
    }
  }
}
