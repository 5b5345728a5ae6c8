import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomUnitVector, seededRandom } from '../testing/vectors.js';
import { Int8Rows, SCAN_CHUNK_ROWS } from './int8-rows.js';

test('every approximate dot product is within the error bound of the exact one (d 512, 7 and 100)', () => {
  for (const dimensions of [512, 7, 100]) {
    const random = seededRandom(dimensions);
    const n = SCAN_CHUNK_ROWS + 500; // grows past the initial capacity, scored in two calls
    const rows = new Int8Rows(dimensions, 16);
    const vectors = Array.from({ length: n }, () => randomUnitVector(random, dimensions));
    vectors.forEach((v, r) => rows.set(r, v));
    for (let i = 0; i < 5; i++) {
      const query = randomUnitVector(random, dimensions);
      const { errorBound, queryScale } = rows.setQuery(query);
      assert.ok(errorBound < (dimensions === 512 ? 0.03 : 0.2), `bound ${errorBound} at ${dimensions}-d`);
      let worst = 0;
      for (let start = 0; start < n; start += SCAN_CHUNK_ROWS) {
        const scores = rows.score(start, Math.min(SCAN_CHUNK_ROWS, n - start));
        scores.forEach((s, j) => {
          let exact = 0;
          for (let k = 0; k < dimensions; k++) exact += query[k]! * vectors[start + j]![k]!;
          worst = Math.max(worst, Math.abs(s * queryScale - exact));
        });
      }
      assert.ok(worst <= errorBound, `${dimensions}-d: error ${worst} > bound ${errorBound}`);
      // at 512-d the rounding errors of many values average out: the bound is far from reached
      if (dimensions === 512) assert.ok(worst < errorBound / 4, `${dimensions}-d: error ${worst}, bound ${errorBound}`);
    }
  }
});

test('move copies a row (the swap-remove of the index)', () => {
  const random = seededRandom(3);
  const rows = new Int8Rows(32, 4);
  const a = randomUnitVector(random, 32),
    b = randomUnitVector(random, 32);
  rows.set(0, a);
  rows.set(1, b);
  rows.move(1, 0);
  const { queryScale } = rows.setQuery(b);
  const [first, second] = rows.score(0, 2);
  assert.equal(first, second);
  assert.ok(Math.abs(first! * queryScale - 1) < 0.02);
});
