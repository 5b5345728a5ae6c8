import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import type { ModelName } from './manifest.js';

/**
 * A typical input of each model, to time it with: YuNet at 640x480 (a detection input of a
 * landscape photo), the others at their fixed shapes.
 */
const PROBE_SHAPES: Readonly<Record<ModelName, readonly number[]>> = {
  yunet_s: [1, 3, 480, 640],
  fr_feature: [1, 3, 112, 112],
  ultraface: [1, 3, 240, 320],
  fr_landmark: [1, 1, 64, 64],
};

/** Graph optimisation levels tried, in order of preference when they time alike. */
const LEVELS = ['all', 'extended'] as const;
export type OptimisationLevel = (typeof LEVELS)[number];

/** Timed runs per level (after one untimed run); the median decides. */
const PROBE_RUNS = 3;

/** The session a model runs in, with the graph optimisation level kept and what each level measured. */
export interface ChosenSession {
  session: ort.InferenceSession;
  level: OptimisationLevel;
  /** Median ms of one run on the probe input, per level tried. */
  probeMs: Partial<Record<OptimisationLevel, number>>;
}

const baseOptions: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  logSeverityLevel: 3,
};

/**
 * Loads a model once per graph optimisation level, times each on a probe input and keeps the
 * faster session.
 *
 * Why not always 'all': its extra step turns convolutions into the blocked NCHWc layout, which
 * made YuNet 2.8× faster (6.3 against 17.2 ms at 640x480) but fr_feature 3.3× slower (62 against
 * 18.8 ms a face: its 1x1 convolutions on 14x14 maps took 6-10 ms each instead of 1) on this
 * project's 2-core AVX-512 machine, while an earlier machine of the same kind had fr_feature at
 * 8-11 ms with 'all'. Which layout wins depends on the CPU's kernels, so it is measured where the
 * model runs (≈0.3 s once per worker and model) rather than fixed. Both levels compute the same
 * function (outputs agree to float rounding).
 */
export async function createFastestSession(path: string, model: ModelName): Promise<ChosenSession> {
  const shape = PROBE_SHAPES[model];
  const size = shape.reduce((a, b) => a * b, 1);
  // a smooth ramp rather than zeros, so no kernel takes a shortcut on constant input
  const data = Float32Array.from({ length: size }, (_, i) => ((i % 255) - 127) / 128);
  let best: ChosenSession | undefined;
  const probeMs: ChosenSession['probeMs'] = {};
  for (const level of LEVELS) {
    const session = await ort.InferenceSession.create(path, { ...baseOptions, graphOptimizationLevel: level });
    try {
      const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', data, [...shape]) };
      await session.run(feeds);
      const times: number[] = [];
      for (let i = 0; i < PROBE_RUNS; i++) {
        const t = performance.now();
        await session.run(feeds);
        times.push(performance.now() - t);
      }
      probeMs[level] = times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
    } catch (err) {
      await session.release();
      if (best) continue; // the first level works: use it
      throw err;
    }
    // a later level must be clearly faster (10 %) to replace an earlier one
    if (!best || probeMs[level]! < 0.9 * probeMs[best.level]!) {
      if (best) await best.session.release();
      best = { session, level, probeMs };
    } else {
      await session.release();
    }
  }
  return best!;
}
