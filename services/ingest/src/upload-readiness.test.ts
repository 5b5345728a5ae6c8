import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Completeness } from './image-completeness.js';
import { newUpload, nextStep, observe, warnIncompleteAfterMs, type InboxFileState, type UploadLimits } from './upload-readiness.js';

// Small: when an inbox upload is taken, as a function of the looks at it and the clock (ms), no I/O.

const limits: UploadLimits = { stableMs: 1000, incompleteMs: 60_000, warnIncompleteMs: 30_000 };
const state = (size: number, mtimeMs = size, ino = 7): InboxFileState => ({ size, mtimeMs, ino });
const whole: Completeness = { isComplete: true, format: 'jpeg' };
const partial: Completeness = { isComplete: false, format: 'jpeg', missing: 'the end-of-image marker (FF D9)' };

describe('upload readiness', () => {
  test('a complete file is taken once unchanged for stableMs, after one check', () => {
    const u = newUpload(0);
    assert.equal(nextStep(u, 0, limits), 'wait', 'not looked at yet');
    observe(u, state(100), 0);
    assert.equal(nextStep(u, 999, limits), 'wait');
    observe(u, state(100), 1000);
    assert.equal(nextStep(u, 1000, limits), 'check');
    u.completeness = whole;
    assert.equal(nextStep(u, 1000, limits), 'take');
  });

  test('an incomplete file waits through any pause shorter than incompleteMs, and is the same upload when it grows', () => {
    const u = newUpload(0);
    observe(u, state(100), 0);
    u.completeness = partial;
    assert.equal(nextStep(u, 1000, limits), 'wait', 'stable but incomplete');
    assert.equal(nextStep(u, 29_999, limits), 'wait');
    assert.equal(nextStep(u, 30_000, limits), 'warn');
    u.hasWarned = true;
    assert.equal(nextStep(u, 59_999, limits), 'wait', 'warned once');
    // the rest arrives: the verdict and the clock start over, nothing else does
    observe(u, state(200), 59_999);
    assert.equal(u.since, 59_999);
    assert.equal(u.completeness, undefined);
    assert.equal(u.hasWarned, false);
    assert.equal(nextStep(u, 60_998, limits), 'wait');
    assert.equal(nextStep(u, 60_999, limits), 'check');
    u.completeness = whole;
    assert.equal(nextStep(u, 60_999, limits), 'take');
  });

  test('an incomplete file that never changes again is taken at incompleteMs', () => {
    const u = newUpload(0);
    observe(u, state(100), 0);
    u.completeness = partial;
    observe(u, state(100), 59_000);
    assert.equal(u.since, 0, 'an unchanged look keeps the clock');
    assert.equal(nextStep(u, 60_000, limits), 'warn', 'reported first, even when first seen past the limit');
    u.hasWarned = true;
    assert.equal(nextStep(u, 60_000, limits), 'take-incomplete');
  });

  test('a file whose check keeps failing is checked at every look, and taken at incompleteMs', () => {
    const u = newUpload(0);
    observe(u, state(100), 0);
    assert.equal(nextStep(u, 60_000, limits), 'check', 'never checked: a check first, however long it waited');
    u.hasFailedCheck = true;
    assert.equal(nextStep(u, 59_999, limits), 'check');
    assert.equal(nextStep(u, 60_000, limits), 'take-incomplete');
    observe(u, state(101), 60_000);
    assert.equal(u.hasFailedCheck, false, 'a new state gets new checks');
  });

  test('any change of size, mtime or inode restarts the wait', () => {
    for (const changed of [state(100, 5), state(100, 100, 8), state(101, 100)]) {
      const u = newUpload(0);
      observe(u, state(100), 0);
      u.completeness = whole;
      observe(u, changed, 5000);
      assert.equal(nextStep(u, 5000, limits), 'wait');
      assert.equal(nextStep(u, 6000, limits), 'check');
    }
  });

  test('an empty file is an upload that has not started: it waits for bytes, is reported, and is taken (to fail) after the incomplete limit', () => {
    const empty = newUpload(0);
    observe(empty, state(0), 0);
    observe(empty, state(0), 10_000);
    assert.equal(nextStep(empty, limits.stableMs + 1, limits), 'wait');
    assert.deepEqual(empty.completeness, { isComplete: false, format: undefined, missing: 'every byte: the file is empty' });
    assert.equal(nextStep(empty, limits.warnIncompleteMs, limits), 'warn');
    empty.hasWarned = true;
    assert.equal(nextStep(empty, limits.incompleteMs, limits), 'take-incomplete');
    // bytes arrive: it is a new state, judged on its own
    observe(empty, state(100), limits.incompleteMs);
    assert.equal(empty.completeness, undefined);
    assert.equal(nextStep(empty, limits.incompleteMs + 1, limits), 'wait');
  });

  test('the warning comes after a minute, or half the limit when that is shorter, never before stableMs', () => {
    assert.equal(warnIncompleteAfterMs(1000, 600_000), 60_000);
    assert.equal(warnIncompleteAfterMs(200, 1500), 750);
    assert.equal(warnIncompleteAfterMs(1000, 1000), 1000);
  });
});
