import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSqliteStore } from '@facewatch/db';
import { bruteForceNearest, noisyUnitVector, randomUnitVector, seededRandom } from '@facewatch/db/testing';

// The exact scan's first pass is approximate (int8 rows, WebAssembly SIMD); these hold it to the
// float64 brute force at a size where the pass runs in several chunks, k up to what the local
// backend asks for, and with writes racing the searches.
const dimensions = 512;

function clustered(n: number, seed: number): { id: string; vector: Float32Array }[] {
  const random = seededRandom(seed);
  const centres = Array.from({ length: Math.ceil(n / 10) }, () => randomUnitVector(random, dimensions));
  return Array.from({ length: n }, (_, i) => ({ id: `v${i}`, vector: noisyUnitVector(random, centres[i % centres.length]!, 0.03) }));
}

test('exact at 40 000 clustered 512-d vectors: k 1, 5 and 64, with and without maxDistance', async () => {
  const store = await openSqliteStore({ path: ':memory:' });
  try {
    const index = await store.vectorIndex('int8', dimensions);
    const items = clustered(40_000, 7);
    for (let i = 0; i < items.length; i += 5000) await index.upsert(items.slice(i, i + 5000));
    const random = seededRandom(99);
    for (let i = 0; i < 12; i++) {
      // half the queries near a stored vector, half anywhere
      const query = i % 2 === 0 ? noisyUnitVector(random, items[Math.floor(random() * items.length)]!.vector, 0.02) : randomUnitVector(random, dimensions);
      for (const k of [1, 5, 64]) {
        const expected = bruteForceNearest(items, query, k);
        const found = await index.search(query, k);
        assert.deepEqual(
          found.map((f) => f.id),
          expected.map((e) => e.id),
          `query ${i}, k ${k}`,
        );
        found.forEach((f, j) => assert.ok(Math.abs(f.distance - expected[j]!.distance) < 1e-6));
      }
      // between the 3rd and 4th nearest, so float32 rounding cannot move either across it
      const nearest = bruteForceNearest(items, query, 4);
      const limit = (nearest[2]!.distance + nearest[3]!.distance) / 2;
      const within = await index.search(query, 64, { maxDistance: limit });
      assert.deepEqual(
        within.map((f) => f.id),
        bruteForceNearest(items, query, 64)
          .filter((e) => e.distance <= limit)
          .map((e) => e.id),
      );
    }
  } finally {
    await store.close();
  }
});

test('a search lets the event loop run between chunks, and writes wait for it', async () => {
  const store = await openSqliteStore({ path: ':memory:' });
  try {
    const index = await store.vectorIndex('chunks', dimensions);
    const items = clustered(50_000, 3);
    for (let i = 0; i < items.length; i += 10_000) await index.upsert(items.slice(i, i + 10_000));
    const query = items[123]!.vector;
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    // removing the nearest vector while the search runs: the search answers as before the removal
    const [found] = await Promise.all([index.search(query, 5), index.remove(['v123'])]);
    clearInterval(timer);
    assert.equal(found[0]!.id, 'v123');
    assert.ok(ticks > 0, 'timers ran while the search was scanning');
    const after = await index.search(query, 5);
    assert.notEqual(after[0]!.id, 'v123');
    assert.deepEqual(
      after.map((f) => f.id),
      bruteForceNearest(
        items.filter((it) => it.id !== 'v123'),
        query,
        5,
      ).map((e) => e.id),
    );
  } finally {
    await store.close();
  }
});
