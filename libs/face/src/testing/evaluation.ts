/**
 * Verification statistics over genuine (same person) and impostor (different people) distances,
 * used by the accuracy tests, the calibration command and the benchmark.
 */

/** Probability that a random genuine pair is closer than a random impostor pair (ties count half). */
export function auc(genuine: readonly number[], impostor: readonly number[]): number {
  const all = [...genuine.map((d) => ({ d, g: 1 })), ...impostor.map((d) => ({ d, g: 0 }))].sort((a, b) => a.d - b.d);
  // Mann–Whitney U with average ranks for ties
  let rankSumGenuine = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j]!.d === all[i]!.d) j++;
    const avgRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (all[k]!.g === 1) rankSumGenuine += avgRank;
    i = j;
  }
  const n1 = genuine.length,
    n0 = impostor.length;
  const u = rankSumGenuine - (n1 * (n1 + 1)) / 2;
  return 1 - u / (n1 * n0);
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const variance = (xs: readonly number[]): number => {
  const m = mean(xs);
  return xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length;
};

/** Sensitivity index d′ = |μg − μi| / sqrt((σg² + σi²) / 2). */
export function dPrime(genuine: readonly number[], impostor: readonly number[]): number {
  return Math.abs(mean(genuine) - mean(impostor)) / Math.sqrt((variance(genuine) + variance(impostor)) / 2);
}

export interface ThresholdChoice {
  /** Pairs with distance ≤ threshold are accepted. */
  threshold: number;
  accuracy: number;
  falseAccepts: number;
  falseRejects: number;
}

/**
 * The threshold with the highest balanced accuracy; among equally good ones, the middle of the
 * widest gap (the most margin on both sides).
 */
export function bestThreshold(genuine: readonly number[], impostor: readonly number[]): ThresholdChoice {
  const candidates = [...new Set([...genuine, ...impostor])].sort((a, b) => a - b);
  let best: (ThresholdChoice & { score: number; gap: number }) | undefined;
  for (let i = 0; i < candidates.length; i++) {
    const lo = candidates[i]!;
    const hi = candidates[i + 1] ?? lo;
    const t = (lo + hi) / 2;
    const falseRejects = genuine.filter((d) => d > t).length;
    const falseAccepts = impostor.filter((d) => d <= t).length;
    const score = (1 - falseRejects / genuine.length + 1 - falseAccepts / impostor.length) / 2;
    const gap = hi - lo;
    if (!best || score > best.score || (score === best.score && gap > best.gap)) {
      best = { threshold: t, accuracy: score, falseAccepts, falseRejects, score, gap };
    }
  }
  const { threshold, accuracy, falseAccepts, falseRejects } = best!;
  return { threshold, accuracy, falseAccepts, falseRejects };
}

export function summarise(xs: readonly number[]): { n: number; mean: number; min: number; max: number } {
  return { n: xs.length, mean: mean(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/** Median of a list (copy-sorted). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** p-th percentile (0..100), nearest-rank. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
