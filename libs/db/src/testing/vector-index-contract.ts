import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { VectorIndex, VectorMatch } from '../types.js';
import { bruteForceNearest, noisyUnitVector, randomUnitVector, seededRandom } from './vectors.js';

/**
 * Builds an index for `model` with `dimensions`. Every call gets a model name no other test uses, so
 * an implementation may (and should, for the isolation test to mean something) share one database
 * across calls; `cleanup` releases what the call created.
 */
export type MakeVectorIndex = (model: string, dimensions: number) => Promise<{ index: VectorIndex; cleanup(): Promise<void> }>;

const tolerance = 1e-5;

function assertClose(actual: number, expected: number, message: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${message}: ${actual} is not within ${tolerance} of ${expected}`);
}

function assertMatches(actual: VectorMatch[], expected: { id: string; distance: number }[], message: string): void {
  assert.deepEqual(
    actual.map((m) => m.id),
    expected.map((m) => m.id),
    `${message}: ids`,
  );
  actual.forEach((m, i) => assertClose(m.distance, expected[i]!.distance, `${message}: distance of ${m.id}`));
}

/** A unit vector at cosine distance `distance` from e1, in the e1–e2 plane. */
function atDistance(distance: number, dimensions: number): Float32Array {
  const cos = 1 - distance;
  const v = new Float32Array(dimensions);
  v[0] = cos;
  v[1] = Math.sqrt(Math.max(0, 1 - cos * cos));
  return v;
}

function unit(axis: number, dimensions: number): Float32Array {
  const v = new Float32Array(dimensions);
  v[axis] = 1;
  return v;
}

/**
 * The behaviour every VectorIndex implementation must show, through the interface only (the
 * SQLite exact scan and the PostgreSQL pgvector index run the same suite).
 */
export function vectorIndexContract(name: string, makeIndex: MakeVectorIndex): void {
  const run = randomUUID().slice(0, 8);
  let made = 0;
  const modelName = (label: string): string => `contract-${run}-${++made}-${label}`;

  async function withIndex(dimensions: number, body: (index: VectorIndex) => Promise<void>): Promise<void> {
    const { index, cleanup } = await makeIndex(modelName('m'), dimensions);
    try {
      await body(index);
    } finally {
      await cleanup();
    }
  }

  describe(`VectorIndex contract: ${name}`, () => {
    test('reports its model and dimensions; an empty index counts 0 and finds nothing', async () => {
      const model = modelName('empty');
      const { index, cleanup } = await makeIndex(model, 8);
      try {
        assert.equal(index.model, model);
        assert.equal(index.dimensions, 8);
        assert.equal(await index.count(), 0);
        assert.deepEqual(await index.search(unit(0, 8), 5), []);
        assert.deepEqual(await index.search(unit(0, 8), 5, { maxDistance: 2 }), []);
      } finally {
        await cleanup();
      }
    });

    test('upsert then search finds the exact vector at distance ≈ 0', async () => {
      await withIndex(32, async (index) => {
        const random = seededRandom(1);
        const items = Array.from({ length: 20 }, (_, i) => ({ id: `v${i}`, vector: randomUnitVector(random, 32) }));
        await index.upsert(items);
        for (const i of [0, 7, 19]) {
          const [first] = await index.search(items[i]!.vector, 3);
          assert.equal(first?.id, `v${i}`);
          assertClose(first.distance, 0, `distance of v${i} to itself`);
        }
      });
    });

    test('results are nearest first, with the ids and distances of a brute-force scan (500 vectors)', async () => {
      await withIndex(64, async (index) => {
        const random = seededRandom(2);
        const items = Array.from({ length: 500 }, (_, i) => ({ id: `id-${String(i).padStart(3, '0')}`, vector: randomUnitVector(random, 64) }));
        await index.upsert(items.slice(0, 300));
        await index.upsert(items.slice(300));
        assert.equal(await index.count(), 500);
        const queries = [...Array.from({ length: 4 }, () => randomUnitVector(random, 64)), ...[3, 150, 333, 499].map((i) => noisyUnitVector(random, items[i]!.vector, 0.05))];
        for (const [q, query] of queries.entries()) {
          const found = await index.search(query, 10);
          assertMatches(found, bruteForceNearest(items, query, 10), `query ${q}`);
          for (let i = 1; i < found.length; i++) assert.ok(found[i - 1]!.distance <= found[i]!.distance, `query ${q} is nearest first`);
        }
      });
    });

    test('k larger than the count returns every vector, nearest first', async () => {
      await withIndex(4, async (index) => {
        await index.upsert([
          { id: 'far', vector: atDistance(1.5, 4) },
          { id: 'near', vector: atDistance(0.1, 4) },
          { id: 'mid', vector: atDistance(0.7, 4) },
        ]);
        assertMatches(
          await index.search(unit(0, 4), 50),
          [
            { id: 'near', distance: 0.1 },
            { id: 'mid', distance: 0.7 },
            { id: 'far', distance: 1.5 },
          ],
          'k=50 of 3',
        );
      });
    });

    test('maxDistance keeps only the matches within it, and k still bounds them', async () => {
      await withIndex(4, async (index) => {
        await index.upsert([0, 0.2, 0.5, 1, 1.5, 2].map((d) => ({ id: `d${d}`, vector: atDistance(d, 4) })));
        const query = unit(0, 4);
        assertMatches(
          await index.search(query, 10, { maxDistance: 0.6 }),
          [
            { id: 'd0', distance: 0 },
            { id: 'd0.2', distance: 0.2 },
            { id: 'd0.5', distance: 0.5 },
          ],
          'maxDistance 0.6',
        );
        assertMatches(
          await index.search(query, 2, { maxDistance: 0.6 }),
          [
            { id: 'd0', distance: 0 },
            { id: 'd0.2', distance: 0.2 },
          ],
          'k=2, maxDistance 0.6',
        );
        assertMatches(
          await index.search(query, 10, { maxDistance: 1.2 }),
          [
            { id: 'd0', distance: 0 },
            { id: 'd0.2', distance: 0.2 },
            { id: 'd0.5', distance: 0.5 },
            { id: 'd1', distance: 1 },
          ],
          'maxDistance 1.2',
        );
        assertMatches(await index.search(atDistance(2, 4), 1, { maxDistance: 0.1 }), [{ id: 'd2', distance: 0 }], 'the opposite vector');
        assert.deepEqual(await index.search(unit(2, 4), 10, { maxDistance: 0.5 }), [], 'nothing within 0.5 of e3');
      });
    });

    test('upsert of an existing id replaces its vector', async () => {
      await withIndex(4, async (index) => {
        await index.upsert([
          { id: 'a', vector: unit(0, 4) },
          { id: 'b', vector: atDistance(0.5, 4) },
        ]);
        await index.upsert([{ id: 'a', vector: unit(1, 4) }]);
        assert.equal(await index.count(), 2);
        assertMatches(await index.search(unit(1, 4), 1), [{ id: 'a', distance: 0 }], 'a at its new place');
        assertMatches(
          await index.search(unit(0, 4), 2),
          [
            { id: 'b', distance: 0.5 },
            { id: 'a', distance: 1 },
          ],
          'nothing left at the old place',
        );
      });
    });

    test('remove deletes by id and ignores unknown ids; count follows', async () => {
      await withIndex(4, async (index) => {
        await index.upsert([0, 0.1, 0.2, 0.3].map((d) => ({ id: `d${d}`, vector: atDistance(d, 4) })));
        assert.equal(await index.count(), 4);
        await index.remove(['d0', 'unknown']);
        assert.equal(await index.count(), 3);
        assertMatches(
          await index.search(unit(0, 4), 10),
          [
            { id: 'd0.1', distance: 0.1 },
            { id: 'd0.2', distance: 0.2 },
            { id: 'd0.3', distance: 0.3 },
          ],
          'after removing d0',
        );
        await index.remove([]);
        await index.remove(['d0.2', 'd0.1', 'd0.3']);
        assert.equal(await index.count(), 0);
        assert.deepEqual(await index.search(unit(0, 4), 10), []);
        await index.upsert([{ id: 'd0.2', vector: atDistance(0.2, 4) }]);
        assertMatches(await index.search(unit(0, 4), 10), [{ id: 'd0.2', distance: 0.2 }], 'a removed id added again');
      });
    });

    test('ids lists every id once, after upserts, replacements and removals', async () => {
      await withIndex(4, async (index) => {
        assert.deepEqual(await index.ids(), []);
        await index.upsert([0, 0.1, 0.2, 0.3].map((d) => ({ id: `d${d}`, vector: atDistance(d, 4) })));
        await index.upsert([{ id: 'd0.1', vector: atDistance(0.15, 4) }]);
        await index.remove(['d0', 'unknown']);
        assert.deepEqual((await index.ids()).sort(), ['d0.1', 'd0.2', 'd0.3']);
      });
    });

    test('a vector of the wrong dimension is INVALID_ARGUMENT and nothing of its batch is stored', async () => {
      await withIndex(4, async (index) => {
        await assert.rejects(index.upsert([{ id: 'short', vector: new Float32Array([1, 0, 0]) }]), { name: 'AppError', code: 'INVALID_ARGUMENT' });
        await assert.rejects(
          index.upsert([
            { id: 'good', vector: unit(0, 4) },
            { id: 'long', vector: new Float32Array([1, 0, 0, 0, 0]) },
          ]),
          { name: 'AppError', code: 'INVALID_ARGUMENT' },
        );
        assert.equal(await index.count(), 0);
        await assert.rejects(index.search(new Float32Array([1, 0]), 1), { name: 'AppError', code: 'INVALID_ARGUMENT' });
      });
    });

    test('two models are isolated from each other', async () => {
      const a = await makeIndex(modelName('a'), 4);
      const b = await makeIndex(modelName('b'), 4);
      try {
        await a.index.upsert([
          { id: 'x', vector: unit(0, 4) },
          { id: 'only-a', vector: atDistance(0.3, 4) },
        ]);
        await b.index.upsert([{ id: 'x', vector: atDistance(0.8, 4) }]);
        assert.equal(await a.index.count(), 2);
        assert.equal(await b.index.count(), 1);
        assertMatches(
          await a.index.search(unit(0, 4), 5),
          [
            { id: 'x', distance: 0 },
            { id: 'only-a', distance: 0.3 },
          ],
          'a sees its own vectors only',
        );
        assertMatches(await b.index.search(unit(0, 4), 5), [{ id: 'x', distance: 0.8 }], 'b keeps its own x');
        await a.index.remove(['x']);
        assertMatches(await b.index.search(unit(0, 4), 5), [{ id: 'x', distance: 0.8 }], 'removing x from a leaves b');
        assert.equal(await a.index.count(), 1);
      } finally {
        await a.cleanup();
        await b.cleanup();
      }
    });
  });
}
