import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TopK } from './top-k.js';

describe('TopK', () => {
  const keys = ['e', 'd', 'c', 'b', 'a', 'f', 'g'];
  const key = (slot: number): string => keys[slot]!;

  test('keeps the k smallest distances, best first, whatever the order offered', () => {
    const top = new TopK(3, key);
    for (const [slot, distance] of [0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8].entries()) top.offer(distance, slot);
    assert.deepEqual(top.sorted(), [
      { slot: 1, distance: 0.1 },
      { slot: 5, distance: 0.2 },
      { slot: 3, distance: 0.3 },
    ]);
    assert.equal(top.bound, 0.3);
  });

  test('equal distances are ranked by key, so storage order does not matter', () => {
    const top = new TopK(2, key);
    for (const slot of [0, 1, 2, 3, 4]) top.offer(0.5, slot); // keys e d c b a
    assert.deepEqual(
      top.sorted().map((c) => key(c.slot)),
      ['a', 'b'],
    );
  });

  test('fewer candidates than k: all of them; the bound stays open until k are held', () => {
    const top = new TopK(5, key);
    top.offer(0.4, 0);
    top.offer(0.2, 1);
    assert.equal(top.bound, Infinity);
    assert.equal(top.size, 2);
    assert.deepEqual(top.sorted(), [
      { slot: 1, distance: 0.2 },
      { slot: 0, distance: 0.4 },
    ]);
    const none = new TopK(0, key);
    none.offer(0.1, 0);
    assert.deepEqual(none.sorted(), []);
  });
});
