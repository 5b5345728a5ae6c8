import { readdir, readFile, writeFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { AppError, ErrorCode, toAppError, type AppConfig, type QualityGates } from '@facewatch/core';
import { embeddingKey, type AnalysedFace, type FacePool } from '@facewatch/face';
import { calibrate, failedGates, thresholdsFor, type Calibration, type CalibrationPerson } from '@facewatch/recognition';
import { Progress } from './progress.js';

const imageExtensions = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff']);

export interface CalibrateArgs {
  /** Folders holding one folder of photos per person (a person's name is their folder's). */
  people: string[];
  /** Folders of photos of strangers (searched recursively). */
  strangers: string[];
  out: string;
  targetFmr: number;
  reviewFmr: number;
  k: number;
  margin: number;
  json: boolean;
}

interface Skipped {
  file: string;
  reason: string;
}

async function imagesIn(dir: string, recursive: boolean): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `cannot read the folder ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const out: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith('.')) continue;
    const path = join(dir, e.name);
    if (e.isDirectory() && recursive) out.push(...(await imagesIn(path, true)));
    else if (e.isFile() && imageExtensions.has(extname(e.name).toLowerCase())) out.push(path);
  }
  return out;
}

/**
 * `facewatch calibrate`: embeds a folder per person and a folder of strangers with the configured
 * pipeline, fits the decision parameters (libs/recognition: impostor tail, ROC) and writes them
 * where DECISION_PARAMS_FILE can point. References must pass the enrolment gates, stranger faces
 * the alert gates (a face that fails them is never alerted, so it does not set the thresholds).
 */
export async function runCalibrate(pool: FacePool, config: AppConfig, args: CalibrateArgs): Promise<number> {
  const personFiles: { name: string; files: string[] }[] = [];
  for (const dir of args.people.map((d) => resolve(d))) {
    const entries = await readdir(dir, { withFileTypes: true }).catch((err: unknown) => {
      throw new AppError(ErrorCode.INVALID_ARGUMENT, `cannot read the people folder ${dir}: ${(err as Error).message}`, { cause: err });
    });
    for (const e of entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).sort((a, b) => a.name.localeCompare(b.name))) {
      if (personFiles.some((p) => p.name === e.name)) throw new AppError(ErrorCode.INVALID_ARGUMENT, `two people folders are named ${e.name}`);
      personFiles.push({ name: e.name, files: await imagesIn(join(dir, e.name), false) });
    }
  }
  const strangerFiles = (await Promise.all(args.strangers.map((d) => imagesIn(resolve(d), true)))).flat();
  const total = personFiles.reduce((n, p) => n + p.files.length, 0) + strangerFiles.length;
  if (total === 0) throw new AppError(ErrorCode.INVALID_ARGUMENT, `no images found in ${[...args.people, ...args.strangers].join(', ')}`);

  const progress = new Progress('calibrate: embedding', total, process.stderr, args.json && process.stderr.isTTY !== true);
  const skipped: Skipped[] = [];
  const embedFile = async (file: string): Promise<AnalysedFace[] | undefined> => {
    try {
      const bytes = await readFile(file);
      await pool.waitForCapacity();
      return (await pool.analyse(bytes, { embed: true })).faces;
    } catch (err) {
      const e = toAppError(err);
      skipped.push({ file, reason: `${e.code}: ${e.message}` });
      return undefined;
    } finally {
      progress.tick();
    }
  };
  const passes = (face: AnalysedFace, gates: QualityGates, file: string, what: string): boolean => {
    const failed = failedGates({ detectionScore: face.score, ...face.quality }, gates);
    if (failed.length > 0) skipped.push({ file, reason: `${what} fails ${failed.map((g) => g.message).join('; ')}` });
    return failed.length === 0;
  };

  const people: CalibrationPerson[] = await Promise.all(
    personFiles.map(async ({ name, files }) => {
      const embeddings: Float32Array[] = [];
      await Promise.all(
        files.map(async (file) => {
          const faces = await embedFile(file);
          if (!faces) return;
          if (faces.length !== 1) {
            skipped.push({ file, reason: faces.length === 0 ? 'no face' : `${faces.length} faces; a reference shows one person` });
            return;
          }
          if (passes(faces[0]!, config.decision.referenceGates, file, 'reference')) embeddings.push(faces[0]!.embedding!);
        }),
      );
      return { id: name, embeddings };
    }),
  );
  const strangers: Float32Array[] = [];
  await Promise.all(
    strangerFiles.map(async (file) => {
      for (const face of (await embedFile(file)) ?? []) if (passes(face, config.decision.gates, file, 'a face')) strangers.push(face.embedding!);
    }),
  );
  progress.finish(`${people.reduce((n, p) => n + p.embeddings.length, 0)} references of ${people.length} people, ${strangers.length} stranger faces`);

  let result: Calibration;
  try {
    result = calibrate({
      model: embeddingKey(config.face.embedder),
      people: people.filter((p) => p.embeddings.length > 0),
      strangers,
      k: args.k,
      targets: { match_false_alert_rate: args.targetFmr, review_false_alert_rate: Math.max(args.reviewFmr, args.targetFmr) },
      minMargin: args.margin,
      source: `facewatch calibrate ${[...args.people.map((d) => `--people ${d}`), ...args.strangers.map((d) => `--strangers ${d}`)].join(' ')} (detector ${config.face.detector})`,
    });
  } catch (err) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `cannot calibrate: ${(err as Error).message}`, { cause: err });
  }
  const out = resolve(args.out);
  await writeFile(out, `${JSON.stringify(result.params, null, 2)}\n`);
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ params_file: out, params: result.params, check: result.check, warnings: result.warnings, skipped })}\n`);
  } else {
    process.stdout.write(report(result, skipped, out));
  }
  return 0;
}

/** Watch-list sizes the report shows thresholds for (and the calibration data's own). */
const listSizes = [1, 10, 100, 1000, 10000];

function report(result: Calibration, skipped: Skipped[], out: string): string {
  const p = result.params;
  const mean = (xs: number[]): string => (xs.length ? (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(3) : '-');
  const lines: string[] = [];
  lines.push(`decision parameters for ${p.model} (${p.metric}, score: mean of the ${p.score.k} most similar references)`);
  lines.push(`  data: ${p.fitted.people} people, ${p.fitted.reference_faces} references, ${p.fitted.stranger_faces} stranger faces`);
  lines.push(`  scores: ${result.genuine.length} genuine (mean ${mean(result.genuine)}), ${result.impostor.length} impostor (mean ${mean(result.impostor)})`);
  lines.push(`  impostor tail: ${(p.impostor_tail.exceedance * 100).toFixed(1)} % above ${p.impostor_tail.threshold}, exponential with scale ${p.impostor_tail.scale}`);
  for (const c of result.check) lines.push(`    fitted ${fmt(c.rate)} → score ${c.threshold}; observed above it: ${fmt(c.observed)}`);
  lines.push('', '  ROC, per comparison of a face with one person:', '    false-match rate   threshold   true-match rate');
  for (const r of p.roc) lines.push(`    ${fmt(r.false_match_rate).padEnd(18)} ${r.threshold.toFixed(3).padEnd(11)} ${r.true_match_rate.toFixed(3)}`);
  const rates = { match: p.targets.match_false_alert_rate, review: p.targets.review_false_alert_rate };
  lines.push(
    '',
    `  thresholds by watch-list size (alerts: ${fmt(rates.match)} of strangers; review: ${fmt(rates.review)}; margin ${p.min_margin}):`,
    '    people   match   review   genuine scores alerted',
  );
  const sizes = [...new Set([...listSizes, p.fitted.people])].sort((a, b) => a - b);
  for (const n of sizes) {
    const t = thresholdsFor(p, n, rates);
    const alerted = result.genuine.length ? result.genuine.filter((g) => g >= t.match).length / result.genuine.length : 0;
    lines.push(`    ${String(n).padEnd(8)} ${t.match.toFixed(3)}   ${t.review.toFixed(3)}    ${(alerted * 100).toFixed(1)} %${n === p.fitted.people ? '  (this data)' : ''}`);
  }
  for (const w of result.warnings) lines.push(`  warning: ${w}`);
  if (skipped.length) {
    lines.push('', `  not used (${skipped.length}):`);
    for (const s of skipped) lines.push(`    ${s.file}: ${s.reason}`);
  }
  lines.push('', `wrote ${out}; use it with DECISION_PARAMS_FILE=${out}`, '');
  return lines.join('\n');
}

const fmt = (rate: number): string => (rate >= 0.01 ? `${+(rate * 100).toPrecision(3)} %` : rate.toExponential(0));
