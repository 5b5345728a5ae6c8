import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FacePool, pipelineSettings, startFacePool } from '@facewatch/face';
import { identityImages } from '@facewatch/face/testing';
import { startTestPool, testConfig } from './helpers.js';

const image = (): Buffer => readFileSync(identityImages()[0]!.path);

test('the queue is bounded: beyond it analyse rejects with POOL_BUSY (retryable) and waitForCapacity holds back', async () => {
  const pool = await startTestPool({ FACE_WORKERS: '1', FACE_TASKS_PER_WORKER: '1', FACE_MAX_QUEUED: '2' });
  try {
    const bytes = image();
    const accepted = [pool.analyse(bytes, { embed: true }), pool.analyse(bytes, { embed: true }), pool.analyse(bytes, { embed: true })];
    assert.deepEqual({ inFlight: pool.stats.inFlight, queued: pool.stats.queued }, { inFlight: 1, queued: 2 });
    await assert.rejects(pool.analyse(bytes, { embed: true }), (err: Error & { code?: string; retryable?: boolean }) => {
      assert.equal(err.code, 'POOL_BUSY');
      assert.equal(err.retryable, true);
      return true;
    });
    await pool.waitForCapacity();
    assert.ok(pool.stats.queued < 2);
    const results = await Promise.all(accepted);
    assert.deepEqual(
      results.map((r) => r.faces.length),
      [1, 1, 1],
    );
    assert.equal(pool.stats.completed, 3);
  } finally {
    await pool.close();
  }
});

test('close drains work in flight, then refuses new work with POOL_CLOSED', async () => {
  const pool = await startTestPool({ FACE_WORKERS: '2' });
  const pending = Array.from({ length: 6 }, () => pool.analyse(image(), { embed: true }));
  const closing = pool.close();
  await assert.rejects(pool.analyse(image(), { embed: true }), { code: 'POOL_CLOSED' });
  const results = await Promise.all(pending);
  await closing;
  assert.equal(results.length, 6);
  assert.equal(pool.stats.workers, 0);
});

test('work is spread over the workers and results keep their order per call', async () => {
  const pool = await startTestPool({ FACE_WORKERS: '2', FACE_TASKS_PER_WORKER: '2' });
  try {
    const imgs = identityImages().slice(0, 10);
    const results = await Promise.all(imgs.map((i) => pool.analyse(readFileSync(i.path), { embed: true })));
    // each result belongs to its own input: same image analysed alone gives the same embedding
    const again = await pool.analyse(readFileSync(imgs[7]!.path), { embed: true });
    let dot = 0;
    for (let i = 0; i < 512; i++) dot += again.faces[0]!.embedding![i]! * results[7]!.faces[0]!.embedding![i]!;
    assert.ok(dot > 0.9999, `same image, same embedding (cosine ${dot})`);
    assert.equal(pool.stats.workers, 2);
  } finally {
    await pool.close();
  }
});

test('a missing model fails start-up with MODEL_MISSING when fetching is off', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'facewatch-nomodels-'));
  try {
    const config = testConfig({ MODELS_DIR: empty, MODELS_AUTO_FETCH: 'false', FACE_WORKERS: '1' });
    await assert.rejects(startFacePool(config), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MODEL_MISSING');
      assert.match(err.message, /models:fetch/);
      return true;
    });
    // and with fetching on (the default), the same folder is filled from the mirror on first use
    const pool = await startFacePool(testConfig({ MODELS_DIR: empty, FACE_WORKERS: '1' }));
    const r = await pool.analyse(image(), { embed: true });
    assert.equal(r.faces.length, 1);
    await pool.close();
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test('a worker that dies fails only its own tasks and is replaced', async () => {
  const pool = await FacePool.start({ settings: pipelineSettings(testConfig()), workers: 1, tasksPerWorker: 1, maxQueued: 10 });
  try {
    // reach the worker through its public effect: terminate the thread under a task
    const slots = (pool as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots;
    const doomed = pool.analyse(image(), { embed: true });
    await slots[0]!.worker.terminate();
    await assert.rejects(doomed, { code: 'INFERENCE_FAILED' });
    const r = await pool.analyse(image(), { embed: true });
    assert.equal(r.faces.length, 1);
  } finally {
    await pool.close();
  }
});
