import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { cosineDistance, distance } from './distance.js';
import { l2Normalise } from './embed.js';

function close(actual: number, expected: number, what: string, tol = 1e-12): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} is not within ${tol} of ${expected}`);
}

describe('cosineDistance', () => {
  test('known angles', () => {
    close(cosineDistance([1, 0], [1, 0]), 0, 'same');
    close(cosineDistance([1, 0], [0, 1]), 1, 'orthogonal');
    close(cosineDistance([1, 0], [-1, 0]), 2, 'opposite');
    close(cosineDistance([1, 1], [1, 0]), 1 - Math.SQRT1_2, '45°');
    // cos = (3·4 + 4·3) / 25 = 0.96
    close(cosineDistance([3, 4], [4, 3]), 0.04, '3-4-5');
  });

  test('ignores the lengths of the vectors', () => {
    close(cosineDistance([2, 0, 0], [0, 5, 5]), 1, 'orthogonal, unnormalised');
    close(cosineDistance([10, 10], [0.5, 0]), 1 - Math.SQRT1_2, 'scaled');
  });

  test('a zero vector gives 1, not NaN', () => {
    assert.equal(cosineDistance([0, 0, 0], [1, 2, 3]), 1);
    assert.equal(cosineDistance([0, 0], [0, 0]), 1);
  });
});

describe('distance', () => {
  // raw outputs [3, 4] (length 5) and [2, 0] (length 2)
  const a = { embedding: [0.6, 0.8], norm: 5 };
  const b = { embedding: [1, 0], norm: 2 };

  test('cosine', () => {
    close(distance('cosine', a, b), 0.4, 'cosine');
  });

  test('euclidean uses the raw vectors (embedding × norm)', () => {
    // [3, 4] − [2, 0] = [1, 4]
    close(distance('euclidean', a, b), Math.sqrt(17), 'euclidean');
    // the same unit vectors with other lengths give another distance
    close(distance('euclidean', { ...a, norm: 1 }, { ...b, norm: 1 }), Math.sqrt(0.16 + 0.64), 'unit');
    assert.equal(distance('euclidean', a, a), 0);
  });

  test('euclidean_l2 = ‖â − b̂‖ = sqrt(2 · cosine) for unit vectors, independent of norm', () => {
    close(distance('euclidean_l2', a, b), Math.sqrt(0.8), 'euclidean_l2');
    close(distance('euclidean_l2', a, b), Math.sqrt(2 * distance('cosine', a, b)), 'identity');
    close(distance('euclidean_l2', { ...a, norm: 100 }, b), Math.sqrt(0.8), 'norm ignored');
    close(distance('euclidean_l2', { embedding: [1, 0], norm: 1 }, { embedding: [-1, 0], norm: 1 }), 2, 'opposite');
  });

  test('euclidean_l2 of parallel vectors is 0, never NaN', () => {
    // for these, 1 − dot/sqrt(‖a‖²‖b‖²) rounds to −2.2e-16
    const v = [0.003, 0.3, 0.7, -0.2];
    const w = v.map((x) => x * 3);
    const d = distance('euclidean_l2', { embedding: v, norm: 1 }, { embedding: w, norm: 1 });
    assert.equal(d, 0);
    const u = l2Normalise([0.1, 0.2, 0.3, 0.7, -0.05]).embedding;
    assert.equal(distance('euclidean_l2', { embedding: u, norm: 1 }, { embedding: u, norm: 1 }), 0);
  });

  test('metrics agree on random unit vectors', () => {
    let seed = 12345;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
    for (let trial = 0; trial < 10; trial++) {
      const ra = Array.from({ length: 16 }, rnd);
      const rb = Array.from({ length: 16 }, rnd);
      const na = l2Normalise(ra),
        nb = l2Normalise(rb);
      const ea = { embedding: na.embedding, norm: na.norm },
        eb = { embedding: nb.embedding, norm: nb.norm };
      const direct = Math.sqrt(ra.reduce((s, x, i) => s + (x - rb[i]!) ** 2, 0));
      close(distance('euclidean', ea, eb), direct, `euclidean ${trial}`, 1e-5);
      const l2 = Math.sqrt(na.embedding.reduce((s, x, i) => s + (x - nb.embedding[i]!) ** 2, 0));
      close(distance('euclidean_l2', ea, eb), l2, `euclidean_l2 ${trial}`, 1e-5);
    }
  });
});

describe('l2Normalise', () => {
  test('returns the unit vector and the raw length', () => {
    const { embedding, norm } = l2Normalise([3, 4]);
    assert.ok(embedding instanceof Float32Array);
    assert.equal(norm, 5);
    assert.deepEqual([...embedding], [Math.fround(0.6), Math.fround(0.8)]);
  });

  test('the result has length 1 and keeps the direction', () => {
    const raw = [1, -2, 2, 4]; // length 5
    const { embedding, norm } = l2Normalise(raw);
    assert.equal(norm, 5);
    assert.deepEqual([...embedding], [0.2, -0.4, 0.4, 0.8].map(Math.fround));
    close(Math.hypot(...embedding), 1, 'unit length', 1e-6);
  });

  test('a zero vector stays zero with norm 0', () => {
    const { embedding, norm } = l2Normalise(new Float32Array(4));
    assert.equal(norm, 0);
    assert.deepEqual([...embedding], [0, 0, 0, 0]);
  });

  test('does not modify the input', () => {
    const raw = new Float32Array([3, 4]);
    l2Normalise(raw);
    assert.deepEqual([...raw], [3, 4]);
  });
});
