import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { AppError, createLogger, DetectorName, DistanceMetric, ErrorCode, isAppError, loadConfig, toAppError, type AppConfig } from '@facewatch/core';
import { defaultMaxDistance, distance, startFacePool, toFacialArea, type AnalyseResult, type AnalysedFace, type FacePool } from '@facewatch/face';
import { runCalibrate, type CalibrateArgs } from './calibrate-command.js';
import {
  audit,
  CliFailure,
  enrol,
  ExitCode,
  exportArchive,
  failureFromError,
  importArchive,
  people,
  purge,
  rebuildVectorIndex,
  reindex,
  replay,
  showVectorIndex,
  type Server,
} from './admin-commands.js';

const adminCommands = ['enrol', 'people', 'export', 'import', 'reindex', 'vector-index', 'replay', 'purge', 'audit'];

const usage = `usage:
  facewatch detect [--detector yunet|ultraface] <image>...
  facewatch represent [--detector yunet|ultraface] <image>...
  facewatch verify [--detector d] [--metric cosine|euclidean|euclidean_l2] [--threshold t] <image1> <image2>
  facewatch calibrate --people <folder of person folders>... [--strangers <folder>...] [--target-fmr 0.001]
                      [--review-fmr 0.02] [--k 3] [--margin 0.1] [--out decision-params.json] [--json]

detect and represent print one JSON line per image, in the order given; an image that cannot be
read or decoded gets "error": {"code", "message"} and the others still run (exit code 1 if any failed).
verify compares the most confident face of each image.
calibrate fits the match / review decision to your own photos: --people holds one folder of
reference photos per person, --strangers photos of people who are not on the list (every face
counts); both may be given more than once. --target-fmr is the share of strangers' faces that may be alerted, --review-fmr the share
that may land in review. It prints the ROC and the thresholds by watch-list size and writes the
parameters file to load with DECISION_PARAMS_FILE (docs/face-thresholds.md).

operators' commands, against a running server (FACEWATCH_URL or --url, API_KEY or --key; --json for scripts):
  facewatch enrol <folder with one folder of photos per person>
  facewatch people list | show <id> | rename <id> <name> | delete <id>
  facewatch export <file> | import <file> [--on-conflict skip|replace] [--re-embed]
  facewatch reindex [--all] [--resume <time>]
  facewatch vector-index [rebuild [--storage vector|halfvec] [--m n] [--ef-construction n] [--maintenance-work-mem 2GB]]
  facewatch replay --since <time> [--until <time>] [--threshold t] [--match-rate r] [--review-rate r] [--margin m] [--apply]
  facewatch purge --older-than <days> [--alerts-older-than <days>]
  facewatch audit [--action a] [--actor name] [--since <time>] [--limit n]
exit codes: 0 done; 1 done but some items refused; 2 bad arguments; 3 server unreachable or failed; 4 wrong or missing API key.`;

const round = (v: number, digits = 6): number => Number(v.toFixed(digits));

async function analyseFile(pool: FacePool, path: string, detector: DetectorName, embed: boolean): Promise<AnalyseResult> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new AppError(ErrorCode.IMAGE_NOT_FOUND, `cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
  }
  await pool.waitForCapacity();
  return pool.analyse(bytes, { detector, embed });
}

function faceJson(face: AnalysedFace, embed: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { facial_area: toFacialArea(face), confidence: round(face.score, 4) };
  if (embed && face.embedding) out['embedding'] = Array.from(face.embedding, (v) => round(v));
  return out;
}

/** detect / represent: every image starts at once (the pool bounds the work); lines print in input order. */
async function listFaces(pool: FacePool, images: string[], detector: DetectorName, embed: boolean): Promise<boolean> {
  let allOk = true;
  const results = images.map((image) =>
    analyseFile(pool, image, detector, embed).then(
      (r) => ({ image, faces: r.faces.map((f) => faceJson(f, embed)), error: null }),
      (err: unknown) => {
        allOk = false;
        return { image, faces: [], error: toAppError(err).toJSON() };
      },
    ),
  );
  for (const line of results) process.stdout.write(`${JSON.stringify(await line)}\n`);
  return allOk;
}

async function verify(pool: FacePool, config: AppConfig, images: string[], detector: DetectorName, metric: DistanceMetric, threshold: number | undefined): Promise<boolean> {
  if (images.length !== 2) throw new AppError(ErrorCode.INVALID_ARGUMENT, 'verify takes exactly two images');
  const results = await Promise.all(images.map((image) => analyseFile(pool, image, detector, true)));
  const best = results.map((r, i) => {
    const face = r.faces[0];
    if (!face?.embedding || face.norm === undefined) throw new AppError(ErrorCode.NO_FACE, `no face found in ${images[i]}`, { details: { image: images[i] } });
    return { embedding: face.embedding, norm: face.norm };
  });
  const maxDistance = threshold ?? config.face.maxDistance ?? defaultMaxDistance(metric);
  const d = distance(metric, best[0]!, best[1]!);
  const out = { verified: d <= maxDistance, distance: round(d), threshold: maxDistance, metric, model: config.face.embedder, detector };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  return true;
}

function numberOption(value: string | undefined, name: string, fallback: number, min: number, max: number, integer = false): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

/** An integer option of an operators' command: a usage error (exit code 2) when it is not one in range. */
function usageNumber(value: string, name: string, min: number, max: number): number {
  try {
    return numberOption(value, name, 0, min, max, true);
  } catch (err) {
    throw new CliFailure((err as Error).message, ExitCode.usage, ErrorCode.INVALID_ARGUMENT);
  }
}

function choice<T extends readonly string[]>(values: T, value: string | undefined, name: string): T[number] | undefined {
  if (value === undefined) return undefined;
  if (!values.includes(value)) throw new AppError(ErrorCode.INVALID_ARGUMENT, `--${name} must be one of ${values.join(', ')}`);
  return value;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      detector: { type: 'string' },
      metric: { type: 'string' },
      threshold: { type: 'string' },
      people: { type: 'string', multiple: true },
      strangers: { type: 'string', multiple: true },
      out: { type: 'string' },
      'target-fmr': { type: 'string' },
      'review-fmr': { type: 'string' },
      k: { type: 'string' },
      margin: { type: 'string' },
      json: { type: 'boolean' },
      url: { type: 'string' },
      key: { type: 'string' },
      'on-conflict': { type: 'string' },
      're-embed': { type: 'boolean' },
      all: { type: 'boolean' },
      resume: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      'match-rate': { type: 'string' },
      'review-rate': { type: 'string' },
      apply: { type: 'boolean' },
      'older-than': { type: 'string' },
      'alerts-older-than': { type: 'string' },
      action: { type: 'string' },
      actor: { type: 'string' },
      limit: { type: 'string' },
      storage: { type: 'string' },
      m: { type: 'string' },
      'ef-construction': { type: 'string' },
      'maintenance-work-mem': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...images] = positionals;
  if (values.help || !command || !['detect', 'represent', 'verify', 'calibrate', ...adminCommands].includes(command)) {
    (values.help ? process.stdout : process.stderr).write(`${usage}\n`);
    return values.help ? 0 : 2;
  }
  if (adminCommands.includes(command)) {
    const config = loadConfig();
    const server: Server = { url: (values.url ?? config.cli.serverUrl).replace(/\/+$/, ''), key: values.key ?? config.api.apiKey, json: values.json === true };
    const need = (value: string | undefined, what: string): string => {
      if (!value) throw new CliFailure(`${command} needs ${what}`, ExitCode.usage, ErrorCode.INVALID_ARGUMENT);
      return value;
    };
    const num = (value: string | undefined, name: string): number | undefined => (value === undefined ? undefined : numberOption(value, name, 0, 0, 1e9));
    switch (command) {
      case 'enrol':
        return enrol(server, need(images[0], 'a folder with one folder of photos per person'));
      case 'people':
        return people(server, images);
      case 'export':
        return exportArchive(server, need(images[0], 'the file to write'));
      case 'import': {
        const onConflict = values['on-conflict'] ?? 'skip';
        if (!['skip', 'replace'].includes(onConflict)) throw new CliFailure('--on-conflict must be skip or replace', ExitCode.usage, ErrorCode.INVALID_ARGUMENT);
        return importArchive(server, need(images[0], 'the archive to read'), { onConflict, reEmbed: values['re-embed'] === true });
      }
      case 'reindex':
        return reindex(server, { all: values.all === true, resume: values.resume });
      case 'vector-index': {
        if (images[0] === undefined) return showVectorIndex(server);
        if (images[0] !== 'rebuild') throw new CliFailure('vector-index takes no argument, or rebuild', ExitCode.usage, ErrorCode.INVALID_ARGUMENT);
        if (values.storage !== undefined && !['vector', 'halfvec'].includes(values.storage)) {
          throw new CliFailure('--storage must be vector or halfvec', ExitCode.usage, ErrorCode.INVALID_ARGUMENT);
        }
        const int = (value: string | undefined, name: string, min: number, max: number): number | undefined =>
          value === undefined ? undefined : usageNumber(value, name, min, max);
        return rebuildVectorIndex(server, {
          ...(values.storage ? { storage: values.storage } : {}),
          ...(values.m ? { m: int(values.m, 'm', 2, 100) } : {}),
          ...(values['ef-construction'] ? { ef_construction: int(values['ef-construction'], 'ef-construction', 4, 1000) } : {}),
          ...(values['maintenance-work-mem'] ? { maintenance_work_mem: values['maintenance-work-mem'] } : {}),
        });
      }
      case 'replay':
        return replay(server, {
          since: need(values.since, '--since <time>'),
          ...(values.until ? { until: values.until } : {}),
          ...(values.threshold ? { threshold: num(values.threshold, 'threshold') } : {}),
          ...(values['match-rate'] ? { match_false_alert_rate: num(values['match-rate'], 'match-rate') } : {}),
          ...(values['review-rate'] ? { review_false_alert_rate: num(values['review-rate'], 'review-rate') } : {}),
          ...(values.margin ? { min_margin: num(values.margin, 'margin') } : {}),
          apply: values.apply === true,
        });
      case 'purge':
        return purge(server, {
          older_than_days: num(need(values['older-than'], '--older-than <days>'), 'older-than'),
          ...(values['alerts-older-than'] ? { alerts_older_than_days: num(values['alerts-older-than'], 'alerts-older-than') } : {}),
        });
      default:
        return audit(server, { action: values.action, actor: values.actor, since: values.since, limit: values.limit });
    }
  }
  if (command === 'calibrate') {
    if (!values.people?.length) throw new AppError(ErrorCode.INVALID_ARGUMENT, 'calibrate needs --people <folder with one folder of photos per person>');
    const args: CalibrateArgs = {
      people: values.people,
      strangers: values.strangers ?? [],
      out: values.out ?? 'decision-params.json',
      targetFmr: numberOption(values['target-fmr'], 'target-fmr', 0.001, 1e-9, 0.5),
      reviewFmr: numberOption(values['review-fmr'], 'review-fmr', 0.02, 1e-9, 0.9),
      k: numberOption(values.k, 'k', 3, 1, 50, true),
      margin: numberOption(values.margin, 'margin', 0.1, 0, 2),
      json: values.json === true,
    };
    const config = loadConfig();
    const log = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel, name: 'facewatch-cli', destination: 'stderr' });
    const pool = await startFacePool(config.face, log);
    try {
      return await runCalibrate(pool, config, args);
    } finally {
      await pool.close();
    }
  }
  if (images.length === 0) throw new AppError(ErrorCode.INVALID_ARGUMENT, `${command} needs at least one image`);
  const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
  if (threshold !== undefined && !(threshold >= 0)) throw new AppError(ErrorCode.INVALID_ARGUMENT, '--threshold must be a number ≥ 0');

  const config = loadConfig();
  const detector = choice(DetectorName, values.detector, 'detector') ?? config.face.detector;
  const metric = choice(DistanceMetric, values.metric, 'metric') ?? config.face.distanceMetric;
  const log = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel, name: 'facewatch-cli', destination: 'stderr' });
  const pool = await startFacePool(config.face, log);
  try {
    if (command === 'verify') return (await verify(pool, config, images, detector, metric, threshold)) ? 0 : 1;
    return (await listFaces(pool, images, detector, command === 'represent')) ? 0 : 1;
  } finally {
    await pool.close();
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof CliFailure || adminCommands.includes(process.argv[2] ?? '')) {
    // the operators' commands: a message on stderr (and JSON on stdout with --json), documented exit codes
    const failure = failureFromError(err);
    if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ error: { code: failure.code, message: failure.message } })}\n`);
    process.stderr.write(`facewatch ${process.argv[2] ?? ''}: ${failure.message}\n`);
    process.exitCode = failure.exitCode;
  } else {
    const e = isAppError(err) ? err : toAppError(err, err instanceof TypeError ? ErrorCode.INVALID_ARGUMENT : ErrorCode.INTERNAL);
    process.stdout.write(`${JSON.stringify({ error: e.toJSON() })}\n`);
    process.exitCode = e.code === ErrorCode.INVALID_ARGUMENT ? 2 : 1;
  }
}
