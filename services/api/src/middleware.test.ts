import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { apiKeys, RateLimiter } from './middleware.js';

describe('apiKeys', () => {
  test('API_KEY is an admin key named default; API_KEYS entries keep their names and scopes', () => {
    const keys = apiKeys('the-admin-key', [
      { name: 'grafana', scope: 'read', key: 'reader-key-0123456789' },
      { name: 'camera-gw', scope: 'write', key: 'writer-key-0123456789' },
    ]);
    assert.equal(keys.isOpen, false);
    assert.deepEqual(keys.find('the-admin-key'), { name: 'default', scope: 'admin' });
    assert.deepEqual(keys.find('reader-key-0123456789'), { name: 'grafana', scope: 'read' });
    assert.deepEqual(keys.find('writer-key-0123456789'), { name: 'camera-gw', scope: 'write' });
    for (const wrong of ['', 'the-admin-ke', 'the-admin-key ', 'THE-ADMIN-KEY', 'reader-key-0123456789\u0000']) assert.equal(keys.find(wrong), undefined, JSON.stringify(wrong));
  });

  test('no key configured: open', () => {
    assert.equal(apiKeys(undefined, []).isOpen, true);
    assert.equal(apiKeys(undefined, [{ name: 'a', scope: 'read', key: 'k'.repeat(16) }]).isOpen, false);
  });
});

describe('RateLimiter', () => {
  test('burst at once, then the per-minute rate; the wait it reports is the one that works', () => {
    let now = 0;
    const limiter = new RateLimiter(60, 3, () => now); // one a second, three at once
    assert.deepEqual([limiter.take('a'), limiter.take('a'), limiter.take('a')], [undefined, undefined, undefined]);
    assert.equal(limiter.take('a'), 1);
    assert.equal(limiter.take('b'), undefined, 'each client has its own budget');
    now += 500;
    assert.equal(limiter.take('a'), 1);
    now += 500;
    assert.equal(limiter.take('a'), undefined);
    now += 60_000;
    // refilled up to the burst, not beyond
    assert.deepEqual([limiter.take('a'), limiter.take('a'), limiter.take('a'), limiter.take('a')], [undefined, undefined, undefined, 1]);
  });

  test('a slow rate reports waits of several seconds', () => {
    let now = 0;
    const limiter = new RateLimiter(6, 1, () => now); // one per 10 s
    assert.equal(limiter.take('a'), undefined);
    assert.equal(limiter.take('a'), 10);
    now += 7_500;
    assert.equal(limiter.take('a'), 3);
  });

  test('0 a minute: no limit', () => {
    const limiter = new RateLimiter(0, 1);
    for (let i = 0; i < 1000; i++) assert.equal(limiter.take('a'), undefined);
    assert.equal(limiter.size, 0);
  });

  test('memory stays bounded: full buckets go first, then the oldest', () => {
    let now = 0;
    const limiter = new RateLimiter(60, 2, () => now, 100);
    for (let i = 0; i < 100; i++) limiter.take(`c${i}`);
    now += 10_000; // every bucket is full again
    for (let i = 100; i < 150; i++) limiter.take(`c${i}`);
    assert.ok(limiter.size <= 100, `${limiter.size} clients kept`);
    for (let i = 0; i < 1000; i++) limiter.take(`busy${i}`);
    assert.ok(limiter.size <= 100, `${limiter.size} clients kept`);
  });
});
