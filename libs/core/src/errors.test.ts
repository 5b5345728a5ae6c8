import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { AppError, ErrorCode, appErrorFromJSON, isAppError, toAppError } from './errors.js';

describe('AppError', () => {
  test('carries code, message, name and is an Error', () => {
    const err = new AppError(ErrorCode.NO_FACE, 'no face in the image');
    assert.ok(err instanceof Error);
    assert.ok(isAppError(err));
    assert.equal(err.name, 'AppError');
    assert.equal(err.code, 'NO_FACE');
    assert.equal(err.message, 'no face in the image');
    assert.equal(err.details, undefined);
    assert.equal(err.cause, undefined);
    assert.equal(Object.hasOwn(err, 'cause'), false);
  });

  test('retryable defaults by code and can be overridden', () => {
    assert.equal(new AppError(ErrorCode.POOL_BUSY, 'busy').retryable, true);
    assert.equal(new AppError(ErrorCode.IMAGE_CORRUPT, 'bad').retryable, false);
    assert.equal(new AppError(ErrorCode.INTERNAL, 'x').retryable, false);
    assert.equal(new AppError(ErrorCode.MODEL_DOWNLOAD_FAILED, 'net', { retryable: true }).retryable, true);
    assert.equal(new AppError(ErrorCode.POOL_BUSY, 'busy', { retryable: false }).retryable, false);
  });

  test('keeps the cause', () => {
    const cause = new RangeError('inner');
    const err = new AppError(ErrorCode.INFERENCE_FAILED, 'outer', { cause });
    assert.equal(err.cause, cause);
  });

  test('toJSON is {code, message} plus details only when present', () => {
    const plain = new AppError(ErrorCode.IMAGE_EMPTY, 'empty', { cause: new Error('hidden') });
    assert.deepEqual(plain.toJSON(), { code: 'IMAGE_EMPTY', message: 'empty' });
    assert.equal(JSON.stringify(plain), '{"code":"IMAGE_EMPTY","message":"empty"}');

    const detailed = new AppError(ErrorCode.IMAGE_TOO_LARGE, 'too big', { details: { bytes: 10, maxBytes: 5 } });
    assert.deepEqual(detailed.toJSON(), { code: 'IMAGE_TOO_LARGE', message: 'too big', details: { bytes: 10, maxBytes: 5 } });
  });

  test('isAppError rejects look-alikes', () => {
    assert.equal(isAppError(new Error('x')), false);
    assert.equal(isAppError({ code: 'INTERNAL', message: 'x' }), false);
    assert.equal(isAppError(undefined), false);
  });
});

describe('toAppError', () => {
  test('returns an AppError unchanged', () => {
    const err = new AppError(ErrorCode.POOL_CLOSED, 'closed');
    assert.equal(toAppError(err), err);
    assert.equal(toAppError(err, ErrorCode.IMAGE_CORRUPT).code, 'POOL_CLOSED');
  });

  test('wraps an Error as INTERNAL with the original as cause', () => {
    const original = new TypeError('boom');
    const err = toAppError(original);
    assert.ok(err instanceof AppError);
    assert.equal(err.code, 'INTERNAL');
    assert.equal(err.message, 'boom');
    assert.equal(err.cause, original);
    assert.equal(err.retryable, false);
  });

  test('uses the fallback code and stringifies non-errors', () => {
    const err = toAppError('plain string', ErrorCode.IMAGE_CORRUPT);
    assert.equal(err.code, 'IMAGE_CORRUPT');
    assert.equal(err.message, 'plain string');
    assert.equal(err.cause, 'plain string');
    assert.equal(toAppError(42).message, '42');
    assert.equal(toAppError(null).message, 'null');
    assert.equal(toAppError(null).cause, null);
  });

  test('a fallback of POOL_BUSY makes the wrapped error retryable', () => {
    assert.equal(toAppError(new Error('x'), ErrorCode.POOL_BUSY).retryable, true);
  });
});

describe('appErrorFromJSON', () => {
  test('round-trips a serialised AppError', () => {
    const original = new AppError(ErrorCode.IMAGE_TOO_LARGE, 'too big', { details: { bytes: 9 } });
    const copy = appErrorFromJSON(JSON.parse(JSON.stringify(original)) as { code: string; message: string });
    assert.ok(copy instanceof AppError);
    assert.equal(copy.code, 'IMAGE_TOO_LARGE');
    assert.equal(copy.message, 'too big');
    assert.deepEqual(copy.details, { bytes: 9 });
    assert.equal(copy.retryable, false);
  });

  test('keeps an explicit retryable flag, else uses the code default', () => {
    assert.equal(appErrorFromJSON({ code: 'IMAGE_CORRUPT', message: 'x', retryable: true }).retryable, true);
    assert.equal(appErrorFromJSON({ code: 'POOL_BUSY', message: 'x' }).retryable, true);
    assert.equal(appErrorFromJSON({ code: 'POOL_BUSY', message: 'x', retryable: false }).retryable, false);
  });

  test('an unknown code becomes INTERNAL, keeping the message', () => {
    const err = appErrorFromJSON({ code: 'SOMETHING_NEW', message: 'from a newer worker', details: { a: 1 } });
    assert.equal(err.code, 'INTERNAL');
    assert.equal(err.message, 'from a newer worker');
    assert.deepEqual(err.details, { a: 1 });
  });

  test('codes are case-sensitive', () => {
    assert.equal(appErrorFromJSON({ code: 'no_face', message: 'x' }).code, 'INTERNAL');
    assert.equal(appErrorFromJSON({ code: 'NO_FACE', message: 'x' }).code, 'NO_FACE');
  });
});
