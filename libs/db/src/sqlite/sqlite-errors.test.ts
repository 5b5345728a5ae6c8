import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppError, ErrorCode } from '@facewatch/core';
import { toStoreError } from './sqlite-errors.js';

const sqliteError = (code: string): Error => Object.assign(new Error(`failure ${code}`), { code });

describe('toStoreError', () => {
  test('maps SQLite result codes onto the taxonomy', () => {
    const cases: [string, ErrorCode, boolean][] = [
      ['SQLITE_BUSY', ErrorCode.DB_UNAVAILABLE, true],
      ['SQLITE_BUSY_SNAPSHOT', ErrorCode.DB_UNAVAILABLE, true],
      ['SQLITE_LOCKED_SHAREDCACHE', ErrorCode.DB_UNAVAILABLE, true],
      ['SQLITE_IOERR_WRITE', ErrorCode.DB_UNAVAILABLE, true],
      ['SQLITE_FULL', ErrorCode.DB_UNAVAILABLE, true],
      ['SQLITE_CANTOPEN', ErrorCode.DB_UNAVAILABLE, false],
      ['SQLITE_NOTADB', ErrorCode.DB_UNAVAILABLE, false],
      ['SQLITE_READONLY', ErrorCode.DB_UNAVAILABLE, false],
      ['SQLITE_CONSTRAINT_UNIQUE', ErrorCode.INVALID_ARGUMENT, false],
      ['SQLITE_ERROR', ErrorCode.INTERNAL, false],
    ];
    for (const [code, expected, retryable] of cases) {
      const cause = sqliteError(code);
      const err = toStoreError(cause, 'testing');
      assert.deepEqual(
        { code: err.code, retryable: err.retryable, details: err.details, cause: err.cause },
        { code: expected, retryable, details: { sqliteCode: code }, cause },
        code,
      );
    }
  });

  test('AppErrors pass through; anything else is INTERNAL', () => {
    const own = new AppError(ErrorCode.PERSON_NOT_FOUND, 'no such person');
    assert.equal(toStoreError(own, 'testing'), own);
    assert.deepEqual(toStoreError(new TypeError('boom'), 'testing').toJSON(), { code: 'INTERNAL', message: 'SQLite error while testing' });
  });
});
