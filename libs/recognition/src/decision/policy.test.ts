import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decideByDistance, decideFace, failedGates, falseAlertRate, pairFalseMatchRate, scoreAtPairRate, thresholdsFor, type GateLimits } from './policy.js';

// a tail with round numbers: 10 % of impostor scores above 0.1, exponential with scale 0.05
const params = { impostor_tail: { threshold: 0.1, exceedance: 0.1, scale: 0.05 } };
const rates = { match: 0.001, review: 0.01 };
const gates: GateLimits = { minEyeDistancePx: 16, minDetectionScore: 0.8, minSharpness: 0.025, maxYawDeg: 50, maxPitchDeg: 45, maxEdgeCut: 0.1 };

describe('impostor tail', () => {
  test('rate and score are inverses; the rate halves every scale·ln2', () => {
    assert.equal(pairFalseMatchRate(params, 0.1), 0.1);
    assert.ok(Math.abs(pairFalseMatchRate(params, 0.1 + 0.05 * Math.log(2)) - 0.05) < 1e-12);
    for (const rate of [0.05, 1e-3, 1e-6]) assert.ok(Math.abs(pairFalseMatchRate(params, scoreAtPairRate(params, rate)) - rate) < 1e-12);
    assert.equal(pairFalseMatchRate(params, -5), 1, 'capped at 1');
  });

  test('thresholds rise with the watch-list: the target rate is shared among the people', () => {
    const one = thresholdsFor(params, 1, rates);
    // 1 person: per-person rate 1e-3 → 0.1 + 0.05·ln(100)
    assert.ok(Math.abs(one.match - (0.1 + 0.05 * Math.log(100))) < 1e-12);
    assert.ok(Math.abs(one.review - (0.1 + 0.05 * Math.log(10))) < 1e-12);
    const hundred = thresholdsFor(params, 100, rates);
    assert.ok(Math.abs(hundred.match - one.match - 0.05 * Math.log(100)) < 1e-12, 'a 100× longer list adds scale·ln(100)');
    assert.equal(thresholdsFor(params, 0, rates).match, one.match, 'an empty list counts as one person');
    // the share of strangers alerted at the match threshold is the target, whatever the size
    for (const n of [1, 17, 5000]) assert.ok(Math.abs(falseAlertRate(params, thresholdsFor(params, n, rates).match, n) - rates.match) < 1e-12);
  });

  test('the review threshold never exceeds the match threshold', () => {
    const t = thresholdsFor(params, 10, { match: 0.01, review: 0.001 });
    assert.equal(t.review, t.match);
  });
});

describe('quality gates', () => {
  const good = { detectionScore: 0.92, eyeDistancePx: 40, sharpness: 0.2, yawDeg: -10, pitchDeg: 5, edgeCut: 0 };

  test('a good face passes every gate', () => {
    assert.deepEqual(failedGates(good, gates), []);
  });

  test('each gate fails on its own measurement, with the value, the limit and a sentence', () => {
    const cases: [Partial<typeof good>, string, number, number, string][] = [
      [{ eyeDistancePx: 12.34 }, 'eye_distance', 12.34, 16, 'eye distance 12.34 px < 16 px'],
      [{ detectionScore: 0.7 }, 'detection_score', 0.7, 0.8, 'detection score 0.7 < 0.8'],
      [{ sharpness: 0.01 }, 'sharpness', 0.01, 0.025, 'sharpness 0.01 < 0.025'],
      [{ yawDeg: -62 }, 'yaw', 62, 50, 'head turned 62° > 50°'],
      [{ pitchDeg: 50 }, 'pitch', 50, 45, 'head tilted 50° > 45°'],
      [{ edgeCut: 0.3 }, 'edge_cut', 0.3, 0.1, 'share of the face outside the image 0.3 > 0.1'],
    ];
    for (const [change, gate, value, limit, message] of cases) {
      assert.deepEqual(failedGates({ ...good, ...change }, gates), [{ gate, value, limit, message }], gate);
    }
  });

  test('limits themselves pass; measurements a backend lacks pass; several failures are all listed', () => {
    assert.deepEqual(failedGates({ ...good, eyeDistancePx: 16, yawDeg: 50, edgeCut: 0.1 }, gates), []);
    assert.deepEqual(failedGates({ detectionScore: 0.9 }, gates), []);
    assert.deepEqual(
      failedGates({ ...good, eyeDistancePx: 10, sharpness: 0.001 }, gates).map((g) => g.gate),
      ['eye_distance', 'sharpness'],
    );
  });
});

describe('decideFace', () => {
  const thresholds = thresholdsFor(params, 10, rates); // match ≈ 0.445, review ≈ 0.330
  const decide = (persons: { personId: string; score: number }[], failed = [] as ReturnType<typeof failedGates>, minMargin = 0.1) =>
    decideFace({ persons, gates: failed, thresholds, params, minMargin });

  test('nobody on the list: unknown, no score', () => {
    const d = decide([]);
    assert.equal(d.decision, 'unknown');
    assert.equal(d.reason, 'no_candidates');
    assert.equal(d.score, null);
    assert.equal(d.personId, null);
  });

  test('below the review threshold: unknown, with the score; confidence says how many strangers score this high', () => {
    const d = decide([{ personId: 'p1', score: 0.2 }]);
    assert.equal(d.decision, 'unknown');
    assert.equal(d.reason, 'below_review_threshold');
    assert.equal(d.score, 0.2);
    assert.equal(d.personId, 'p1');
    // 10 people × 0.1·e^(−(0.2 − 0.1)/0.05) = 13.5 % of strangers reach 0.2 against someone
    assert.equal(d.confidence, Number((1 - 10 * 0.1 * Math.exp(-2)).toFixed(6)));
  });

  test('between the thresholds: review band', () => {
    const d = decide([{ personId: 'p1', score: 0.4 }]);
    assert.equal(d.decision, 'review');
    assert.equal(d.reason, 'review_band');
    assert.match(d.detail, /score 0\.4 between review threshold 0\.33\d* and match threshold 0\.44\d*/);
  });

  test('above the match threshold and clear of the runner-up: match, confidence = 1 − false-alert rate', () => {
    const d = decide([
      { personId: 'p1', score: 0.6 },
      { personId: 'p2', score: 0.3 },
    ]);
    assert.equal(d.decision, 'match');
    assert.equal(d.reason, 'match_threshold');
    assert.equal(d.personId, 'p1');
    assert.ok(Math.abs(d.confidence! - (1 - 10 * 0.1 * Math.exp(-(0.6 - 0.1) / 0.05))) < 1e-6);
    assert.deepEqual(d.thresholds, { match: Number(thresholds.match.toFixed(4)), review: Number(thresholds.review.toFixed(4)) });
  });

  test('a runner-up within the margin makes a match-level score ambiguous: review', () => {
    const d = decide([
      { personId: 'p1', score: 0.6 },
      { personId: 'p2', score: 0.55 },
    ]);
    assert.equal(d.decision, 'review');
    assert.equal(d.reason, 'ambiguous');
    assert.equal(
      decide(
        [
          { personId: 'p1', score: 0.6 },
          { personId: 'p2', score: 0.55 },
        ],
        [],
        0.04,
      ).decision,
      'match',
      'a smaller margin lets it through',
    );
  });

  test('a failed gate is never an alert: a match-level score goes to review, a low one stays unknown', () => {
    const blurred = failedGates({ detectionScore: 0.9, sharpness: 0.01 }, gates);
    const d = decide([{ personId: 'p1', score: 0.9 }], blurred);
    assert.equal(d.decision, 'review');
    assert.equal(d.reason, 'quality_gate');
    assert.match(d.detail, /sharpness 0\.01 < 0\.025/);
    assert.equal(d.gates.length, 1);
    assert.equal(decide([{ personId: 'p1', score: 0.1 }], blurred).decision, 'unknown');
  });
});

describe('decideByDistance (a request threshold)', () => {
  test('within the threshold: match; beyond or none: unknown; a failed gate: review', () => {
    assert.equal(decideByDistance({ nearestDistance: 0.5, personId: null, maxDistance: 0.63, gates: [] }).decision, 'match');
    assert.equal(decideByDistance({ nearestDistance: 0.63, personId: null, maxDistance: 0.63, gates: [] }).decision, 'match');
    const beyond = decideByDistance({ nearestDistance: 0.7, personId: null, maxDistance: 0.63, gates: [] });
    assert.equal(beyond.decision, 'unknown');
    assert.equal(beyond.reason, 'distance_threshold');
    assert.equal(decideByDistance({ nearestDistance: null, personId: null, maxDistance: 0.63, gates: [] }).decision, 'unknown');
    const gated = decideByDistance({ nearestDistance: 0.2, personId: null, maxDistance: 0.63, gates: failedGates({ detectionScore: 0.5 }, gates) });
    assert.equal(gated.decision, 'review');
    assert.equal(gated.reason, 'quality_gate');
  });
});
