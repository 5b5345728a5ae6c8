import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { calibrate, fitImpostorTail, rocPoints, scoreSamples, topKMean } from './calibrate.js';
import { DecisionParamsSchema } from './params.js';
import { pairFalseMatchRate } from './policy.js';

const unit = (...v: number[]): Float32Array => {
  const n = Math.hypot(...v);
  return Float32Array.from(v.map((x) => x / n));
};

describe('topKMean', () => {
  test('the mean of the k largest, or of all when fewer', () => {
    assert.equal(topKMean([0.1, 0.9, 0.5, 0.7], 2), 0.8);
    assert.equal(topKMean([0.4], 3), 0.4);
    assert.equal(topKMean([], 3), -1);
  });
});

describe('scoreSamples', () => {
  test("genuine: each reference against its person's other references; impostor: against the other people, and every stranger against everyone", () => {
    const people = [
      { id: 'a', embeddings: [unit(1, 0, 0), unit(1, 0.2, 0)] },
      { id: 'b', embeddings: [unit(0, 1, 0)] },
    ];
    const { genuine, impostor } = scoreSamples(people, [unit(0, 0, 1)], 3);
    // a's two references score each other; b has nobody to pair with
    assert.equal(genuine.length, 2);
    assert.ok(Math.abs(genuine[0]! - 1 / Math.hypot(1, 0.2)) < 1e-6);
    // a1, a2 vs b; b vs a; the stranger vs a and b
    assert.equal(impostor.length, 5);
    assert.ok(Math.abs(impostor[2]! - (0 + 0.2 / Math.hypot(1, 0.2)) / 2) < 1e-6, 'b against a: the mean of its two similarities');
    assert.deepEqual(
      impostor.slice(3).map((s) => Math.abs(s) < 1e-6),
      [true, true],
    );
  });
});

describe('fitImpostorTail', () => {
  test('recovers an exponential tail from samples drawn from it', () => {
    // deterministic quantiles of: 90 % uniform below 0.2, 10 % 0.2 + Exp(scale 0.04)
    const scores: number[] = [];
    for (let i = 0; i < 9000; i++) scores.push((0.2 * (i + 0.5)) / 9000);
    for (let i = 0; i < 1000; i++) scores.push(0.2 - 0.04 * Math.log(1 - (i + 0.5) / 1000));
    const tail = fitImpostorTail(scores);
    assert.ok(Math.abs(tail.threshold - 0.2) < 0.001, `threshold ${tail.threshold}`);
    assert.ok(Math.abs(tail.scale - 0.04) < 0.002, `scale ${tail.scale}`);
    assert.ok(Math.abs(tail.exceedance - 0.1) < 0.001);
    // the fitted rate at a score matches the share of samples above it
    const above = scores.filter((s) => s >= 0.3).length / scores.length;
    assert.ok(Math.abs(pairFalseMatchRate({ impostor_tail: tail }, 0.3) - above) < 0.002, `${pairFalseMatchRate({ impostor_tail: tail }, 0.3)} vs ${above}`);
  });

  test('too few samples is an error', () => {
    assert.throws(() => fitImpostorTail([0.1, 0.2]), /at least 10/);
  });
});

describe('calibrate', () => {
  test('fits valid parameters, a ROC with true-match rates falling as the false-match rate falls, and warns about thin data', () => {
    const people = Array.from({ length: 6 }, (_, p) => ({
      id: `p${p}`,
      embeddings: Array.from({ length: 3 }, (_, i) => {
        const v: number[] = new Array<number>(16).fill(0).map((_, d) => Math.sin((p + 1) * (d + 1) + i * 0.05));
        v[p] = v[p]! + 3;
        return unit(...v);
      }),
    }));
    const strangers = Array.from({ length: 10 }, (_, s) => unit(...new Array(16).fill(0).map((_, d) => Math.cos((s + 7) * (d + 3)))));
    const result = calibrate({
      model: 'm@1',
      people,
      strangers,
      k: 3,
      targets: { match_false_alert_rate: 0.001, review_false_alert_rate: 0.02 },
      minMargin: 0.1,
      source: 'test',
      now: new Date(0),
    });
    assert.ok(DecisionParamsSchema.safeParse(result.params).success);
    assert.equal(result.params.fitted.people, 6);
    assert.equal(result.params.fitted.reference_faces, 18);
    assert.equal(result.params.fitted.stranger_faces, 10);
    assert.equal(result.params.fitted.genuine_scores, 18);
    assert.equal(result.params.fitted.impostor_scores, 18 * 5 + 10 * 6);
    const tmr = result.params.roc.map((r) => r.true_match_rate);
    assert.deepEqual(
      tmr,
      [...tmr].sort((a, b) => b - a),
      'non-increasing',
    );
    assert.ok(result.warnings.some((w) => /impostor scores/.test(w)));
  });

  test('a "stranger" who is one of the people is pointed out', () => {
    const people = Array.from({ length: 3 }, (_, p) => ({
      id: `p${p}`,
      embeddings: Array.from({ length: 4 }, (_, i) => unit(...[0, 1, 2, 3].map((d) => (d === p ? 5 : 0) + Math.sin(d + i)))),
    }));
    const targets = { match_false_alert_rate: 0.001, review_false_alert_rate: 0.02 };
    const clean = calibrate({ model: 'm', people, strangers: [unit(0, 0, 0, 1)], k: 3, targets, minMargin: 0.1, source: 'test' });
    assert.ok(!clean.warnings.some((w) => /score like/.test(w)), clean.warnings.join());
    const mixed = calibrate({ model: 'm', people, strangers: [unit(0, 0, 0, 1), people[1]!.embeddings[0]!], k: 3, targets, minMargin: 0.1, source: 'test' });
    assert.ok(
      mixed.warnings.some((w) => /^1 stranger face\(s\) score like/.test(w)),
      mixed.warnings.join(),
    );
  });

  test('rocPoints: thresholds from the tail, true-match rate from the genuine scores', () => {
    const tail = { threshold: 0.1, exceedance: 0.1, scale: 0.05 };
    const roc = rocPoints(tail, [0.2, 0.3, 0.5, 0.9]);
    assert.equal(roc[0]!.false_match_rate, 0.1);
    assert.equal(roc[0]!.threshold, 0.1);
    assert.equal(roc[0]!.true_match_rate, 1);
    // 1e-3: 0.1 + 0.05 ln(100) = 0.330 → 0.5 and 0.9 pass
    assert.equal(roc[2]!.true_match_rate, 0.5);
  });
});
