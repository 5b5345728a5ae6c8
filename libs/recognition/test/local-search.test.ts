import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { loadConfig } from '@facewatch/core';
import { openSqliteStore, type ReferenceFace, type Store } from '@facewatch/db';
import type { AnalyseResult } from '@facewatch/face';
import { LocalBackend, type FaceAnalyser } from '@facewatch/recognition';

// The local backend's search on a real SQLite store and vector index, with the inference pool
// replaced by an analyser that returns a chosen embedding (the search, not the models, is under
// test): people are scored on all their references, whatever the crowding.

function unit(values: number[]): Float32Array {
  const v = new Float32Array(512);
  values.forEach((x, i) => (v[i] = x));
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** An analyser that finds one face with `embedding` in any image. */
function analyser(embedding: Float32Array): FaceAnalyser {
  const face = {
    box: { x: 10, y: 10, w: 100, h: 120 },
    score: 0.93,
    landmarks: [
      [40, 50],
      [80, 50],
      [60, 75],
      [45, 95],
      [75, 95],
    ] as AnalyseResult['faces'][number]['landmarks'],
    quality: { eyeDistancePx: 40, sharpness: 0.2, yawDeg: 0, pitchDeg: 0, edgeCut: 0 },
    embedding,
    norm: 20,
  };
  return {
    analyse: async () => ({ width: 200, height: 200, format: 'jpeg', detector: 'yunet', faces: [face], timings: { decodeMs: 1, detectMs: 1, alignMs: 1, embedMs: 1 } }),
    stats: { workers: 1, inFlight: 0, queued: 0, completed: 0, failed: 0 },
    close: async () => undefined,
  };
}

async function enrol(store: Store, backend: LocalBackend, personId: string, embeddings: Float32Array[]): Promise<void> {
  await store.persons.create({ id: personId, name: personId, reason: null, folder: personId });
  for (const [i, embedding] of embeddings.entries()) {
    const imageId = randomUUID();
    const face: ReferenceFace = { id: randomUUID(), imageId, personId, model: backend.referenceModel, embedding, norm: 20, box: { x: 0, y: 0, w: 10, h: 10 } };
    await store.references.addImage({ id: imageId, personId, fileName: `${i}.jpg`, sha256: String(i), bytes: 1, createdAt: new Date().toISOString() }, [face]);
    await backend.commitReference([face]);
  }
}

test('a person with many close references does not crowd the runner-up out; scores average the k most similar references', async () => {
  const store = await openSqliteStore({ path: ':memory:' });
  try {
    const config = loadConfig({});
    const probe = unit([1, 0.05]);
    const backend = new LocalBackend({ faces: analyser(probe), store, config: config.face, referenceGates: config.decision.referenceGates });
    // 300 references of "crowd", all closer to the probe than any of "other"'s
    await enrol(
      store,
      backend,
      'crowd',
      Array.from({ length: 300 }, (_, i) => unit([1, 0.05 + i * 0.0001, 0.2])),
    );
    await enrol(store, backend, 'other', [unit([1, 0, 0.9]), unit([1, 0, 1.2]), unit([1, 0, 3])]);
    const options = { ...backend.resolveOptions(undefined), limit: 5, topK: 3 };
    const result = await backend.search(new Uint8Array([1]), options);
    const persons = result.faces[0]!.persons!;
    assert.deepEqual(
      persons.map((p) => p.personId),
      ['crowd', 'other'],
    );
    // other's score: the mean similarity of its 3 references (all of them)
    const sim = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);
    const expected = [unit([1, 0, 0.9]), unit([1, 0, 1.2]), unit([1, 0, 3])].map((r) => sim(probe, r)).reduce((a, b) => a + b) / 3;
    assert.ok(Math.abs(persons[1]!.score - expected) < 1e-5, `${persons[1]!.score} vs ${expected}`);
    // the nearest reference names the match
    assert.ok(persons[0]!.nearest.distance < persons[1]!.nearest.distance);
  } finally {
    await store.close();
  }
});

test('reconcile brings the index in line with the store: missing faces added, stale entries removed, also when the counts are equal', async () => {
  const store = await openSqliteStore({ path: ':memory:' });
  try {
    const config = loadConfig({});
    const backend = new LocalBackend({ faces: analyser(unit([1])), store, config: config.face, referenceGates: config.decision.referenceGates });
    await enrol(store, backend, 'kept', [unit([1, 0.1]), unit([1, 0.2])]);
    const index = await store.vectorIndex(backend.referenceModel, 512);
    const faces = await store.references.allFaces(backend.referenceModel);
    // a crash between the two writes: one face the index lacks, and one entry whose face is gone
    await index.remove([faces[0]!.id]);
    await index.upsert([{ id: 'gone-face', vector: unit([0, 1]) }]);
    assert.equal(await index.count(), faces.length, 'the counts match, yet the index is wrong');

    assert.deepEqual(await backend.reconcile(faces), { added: 1, removed: 1 });
    assert.deepEqual((await index.ids()).sort(), faces.map((f) => f.id).sort());
    assert.deepEqual(await backend.reconcile(faces), { added: 0, removed: 0 }, 'nothing left to repair');
    // the repaired face is found again
    const [hit] = await index.search(faces[0]!.embedding, 1);
    assert.equal(hit!.id, faces[0]!.id);
  } finally {
    await store.close();
  }
});
