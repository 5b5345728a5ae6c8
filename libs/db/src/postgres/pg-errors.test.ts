import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { AppError } from '@facewatch/core';
import { isConnectionFailure, toPgStoreError } from './pg-errors.js';

function serverError(code: string, constraint?: string): pg.DatabaseError {
  const err = new pg.DatabaseError(`server says ${code}`, 0, 'error');
  err.code = code;
  err.constraint = constraint;
  return err;
}

function nodeError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code });
}

test('a server that is down, restarting or out of resources → DB_UNAVAILABLE, retryable', () => {
  for (const code of ['08006', '08001', '57P01', '57P03', '53300', '53100', '40001', '40P01', '55P03', '57014']) {
    const mapped = toPgStoreError(serverError(code), 'reading');
    assert.deepEqual([mapped.code, mapped.retryable, mapped.details?.sqlState], ['DB_UNAVAILABLE', true, code], code);
  }
});

test('node socket errors and node-postgres connection messages → DB_UNAVAILABLE, retryable', () => {
  const errors = [
    nodeError('ECONNREFUSED'),
    nodeError('ECONNRESET'),
    nodeError('ETIMEDOUT'),
    nodeError('ENOTFOUND'),
    new AggregateError([nodeError('ECONNREFUSED'), nodeError('ECONNREFUSED')], ''),
    new Error('Connection terminated unexpectedly'),
    new Error('Connection terminated due to connection timeout'),
    new Error('timeout exceeded when trying to connect'),
    new Error('Client has encountered a connection error and is not queryable'),
  ];
  for (const err of errors) {
    assert.equal(isConnectionFailure(err), true, err.message);
    const mapped = toPgStoreError(err, 'reading');
    assert.deepEqual([mapped.code, mapped.retryable], ['DB_UNAVAILABLE', true], err.message);
    assert.equal(mapped.cause, err);
  }
});

test('bad credentials, a missing database or privilege, no pgvector → DB_UNAVAILABLE, not retryable', () => {
  for (const code of ['28P01', '28000', '3D000', '42501', '58P01']) {
    const mapped = toPgStoreError(serverError(code), 'opening');
    assert.deepEqual([mapped.code, mapped.retryable], ['DB_UNAVAILABLE', false], code);
  }
});

test('constraint violations and refused values → INVALID_ARGUMENT; anything else → INTERNAL; AppErrors pass through', () => {
  const unique = toPgStoreError(serverError('23505', 'persons_folder_key'), 'creating person p1');
  assert.deepEqual([unique.code, unique.retryable, unique.details], ['INVALID_ARGUMENT', false, { sqlState: '23505', constraint: 'persons_folder_key' }]);
  for (const code of ['23503', '23502', '23514', '22P02', '22023']) assert.equal(toPgStoreError(serverError(code), 'x').code, 'INVALID_ARGUMENT', code);
  assert.equal(toPgStoreError(serverError('42P01'), 'x').code, 'INTERNAL');
  assert.equal(toPgStoreError(new TypeError('bug'), 'x').code, 'INTERNAL');
  const own = new AppError('PERSON_NOT_FOUND', 'no');
  assert.equal(toPgStoreError(own, 'x'), own);
});
