import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  AppError,
  createLogger,
  DetectorName,
  DistanceMetric,
  ErrorCode,
  isAppError,
  loadConfig,
  toAppError,
  type AppConfig,
} from '@facewatch/core';
import { defaultMaxDistance, distance, startFacePool, toFacialArea, type AnalyseResult, type AnalysedFace, type FacePool } from '@facewatch/face';

const usage = `usage:
  facewatch detect [--detector yunet|ultraface] <image>...
  facewatch represent [--detector yunet|ultraface] <image>...
  facewatch verify [--detector d] [--metric cosine|euclidean|euclidean_l2] [--threshold t] <image1> <image2>

detect and represent print one JSON line per image, in the order given; an image that cannot be
read or decoded gets "error": {"code", "message"} and the others still run (exit code 1 if any failed).
verify compares the most confident face of each image.`;

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
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...images] = positionals;
  if (values.help || !command || !['detect', 'represent', 'verify'].includes(command)) {
    (values.help ? process.stdout : process.stderr).write(`${usage}\n`);
    return values.help ? 0 : 2;
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
  const e = isAppError(err) ? err : toAppError(err, err instanceof TypeError ? ErrorCode.INVALID_ARGUMENT : ErrorCode.INTERNAL);
  process.stdout.write(`${JSON.stringify({ error: e.toJSON() })}\n`);
  process.exitCode = e.code === ErrorCode.INVALID_ARGUMENT ? 2 : 1;
}
