import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { AppError, createLogger, ErrorCode, loadConfig, projectRoot } from '@facewatch/core';
import { openSqliteStore, type Store } from '@facewatch/db';
import { startFacePool, type FacePool } from '@facewatch/face';
import { identityImages } from '@facewatch/face/testing';
import { LocalBackend, type FaceBackend } from '@facewatch/recognition';
import { BlacklistFolder, Watchlist } from '@facewatch/api';

// The watch-list use cases on a real SQLite store, a real folder and the real local backend, with
// a failure injected into the backend: an enrolment the backend cannot finish leaves nothing behind.

const log = createLogger({ level: 'silent' });
let work: string;
let store: Store;
let pool: FacePool;
let backend: LocalBackend;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'facewatch-watchlist-'));
  const env = { ...process.env };
  const mirror = resolve(projectRoot(), '..', 'shared', 'models');
  if (!env['MODELS_MIRROR'] && existsSync(mirror)) env['MODELS_MIRROR'] = mirror;
  const config = loadConfig(env);
  store = await openSqliteStore({ path: join(work, 'facewatch.db'), log });
  pool = await startFacePool({ ...config.face, pool: { ...config.face.pool, workers: 1 } });
  backend = new LocalBackend({ faces: pool, store, config: config.face, referenceGates: config.decision.referenceGates });
});
after(async () => {
  await pool?.close();
  await store?.close();
  rmSync(work, { recursive: true, force: true });
});

/** The local backend, whose indexReference fails with `error` from the `failAt`-th call on. */
function failingFrom(failAt: number, error: AppError): FaceBackend {
  let calls = 0;
  return new Proxy(backend, {
    get(target, prop, receiver) {
      if (prop === 'indexReference') {
        return (...args: Parameters<FaceBackend['indexReference']>) => (++calls >= failAt ? Promise.reject(error) : target.indexReference(...args));
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const uploads = (person: string) => identityImages().filter((i) => i.person === person).map((i) => ({ fileName: basename(i.path), bytes: new Uint8Array(readFileSync(i.path)) }));

test('a backend failure during enrolment undoes the person: no record, no folder, no indexed face; a retry works', async () => {
  const folderRoot = join(work, 'blacklist_db');
  const unavailable = new AppError(ErrorCode.BACKEND_UNAVAILABLE, 'AWS rekognition:IndexFaces is unavailable or throttled (ThrottlingException); retry later');
  const failing = new Watchlist({ store, backend: failingFrom(3, unavailable), folder: new BlacklistFolder(folderRoot), log });
  await assert.rejects(failing.createPerson('Amy', null, uploads('amy')), (err) => err === unavailable);
  assert.equal((await store.persons.list()).total, 0);
  assert.deepEqual(readdirSync(folderRoot), []);
  assert.equal((await store.references.allFaces(backend.referenceModel)).length, 0);
  assert.equal(await (await store.vectorIndex(backend.referenceModel, 512)).count(), 0, 'the two faces indexed before the failure are gone');

  const watchlist = new Watchlist({ store, backend, folder: new BlacklistFolder(folderRoot), log });
  const { person, rejected } = await watchlist.createPerson('Amy', null, uploads('amy'));
  assert.deepEqual([person.imageCount, rejected], [5, []]);
  assert.deepEqual(readdirSync(folderRoot), ['Amy']);
  assert.equal(readdirSync(join(folderRoot, 'Amy')).length, 5);
  assert.equal(await (await store.vectorIndex(backend.referenceModel, 512)).count(), 5);
});
