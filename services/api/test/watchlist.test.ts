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

const uploads = (person: string) =>
  identityImages()
    .filter((i) => i.person === person)
    .map((i) => ({ fileName: basename(i.path), bytes: new Uint8Array(readFileSync(i.path)) }));

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

test('references embedded by an older revision (reference_faces.model fr_feature) are embedded again from their files at start', async () => {
  const dir = mkdtempSync(join(work, 'upgrade-'));
  const folderRoot = join(dir, 'blacklist_db');
  const old = await openSqliteStore({ path: join(dir, 'facewatch.db'), log });
  try {
    // what a deployment of the previous release left: Raj with two images embedded as plain `fr_feature`
    const folder = new BlacklistFolder(folderRoot);
    const raj = await old.persons.create({ id: 'p-raj', name: 'Raj', reason: null, folder: await folder.newFolderName('Raj') });
    for (const [i, upload] of uploads('raj').slice(0, 2).entries()) {
      await folder.writeImage(raj.folder, upload.fileName, upload.bytes);
      const image = { id: `img-${i}`, personId: raj.id, fileName: upload.fileName, sha256: 'old', bytes: upload.bytes.length, createdAt: new Date().toISOString() };
      await old.references.addImage(image, [
        {
          id: `old-${i}`,
          imageId: image.id,
          personId: raj.id,
          model: 'fr_feature',
          embedding: new Float32Array(512).fill(1 / Math.sqrt(512)),
          norm: 1,
          box: { x: 0, y: 0, w: 1, h: 1 },
        },
      ]);
    }
    const upgraded = new LocalBackend({
      faces: pool,
      store: old,
      config: loadConfig({ ...process.env, MODELS_AUTO_FETCH: 'false' }).face,
      referenceGates: loadConfig({}).decision.referenceGates,
    });
    assert.equal(upgraded.referenceModel, 'fr_feature@2');
    const watchlist = new Watchlist({ store: old, backend: upgraded, folder, log });
    const stats = await watchlist.reconcile();
    assert.equal(stats.added, 2);
    const faces = await old.references.allFaces('fr_feature@2');
    assert.deepEqual(
      faces.map((f) => f.personId),
      ['p-raj', 'p-raj'],
    );
    assert.ok(
      faces.every((f) => Math.abs(f.embedding[0]! - 1 / Math.sqrt(512)) > 1e-3),
      'real embeddings, not the old rows',
    );
    assert.deepEqual(await old.references.allFaces('fr_feature'), []);
    assert.equal((await old.references.listImages('p-raj')).length, 2);
    assert.equal(await (await old.vectorIndex('fr_feature@2', 512)).count(), 2);
  } finally {
    await old.close();
  }
});
