import { isIP } from 'node:net';
import { cpus } from 'node:os';
import { z } from 'zod';
import { AppError, ErrorCode } from './errors.js';
import { resolveFromRoot } from './paths.js';

/**
 * Typed configuration, parsed once at start-up from the environment. Nothing else in the code base
 * reads `process.env`. Every invalid variable is reported in one CONFIG_INVALID error.
 * docs/configuration.md documents each variable.
 */

export const DetectorName = ['yunet', 'ultraface'] as const;
export type DetectorName = (typeof DetectorName)[number];
export const EmbedderName = ['fr_feature'] as const;
export type EmbedderName = (typeof EmbedderName)[number];
export const DistanceMetric = ['cosine', 'euclidean', 'euclidean_l2'] as const;
export type DistanceMetric = (typeof DistanceMetric)[number];
export const LogLevel = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LogLevel)[number];

export interface FaceConfig {
  modelsDir: string;
  /** A local folder holding the model files (same names); used instead of the canonical sources. */
  modelsMirror: string | undefined;
  /** npm registry used for models whose canonical source is an npm package. */
  npmRegistry: string;
  /** Fetch missing models on first use instead of failing with MODEL_MISSING. */
  autoFetchModels: boolean;
  detector: DetectorName;
  embedder: EmbedderName;
  distanceMetric: DistanceMetric;
  /** Overrides the calibrated default threshold of the metric when set. */
  maxDistance: number | undefined;
  decode: { maxBytes: number; maxPixels: number; maxSidePx: number };
  /** minScore undefined: each detector's own default (yunet 0.6, ultraface 0.7). */
  detection: { minScore: number | undefined; nmsIou: number; maxSidePx: number };
  pool: { workers: number; tasksPerWorker: number; maxQueued: number };
}

/** Quality limits a face must meet (a face outside any of them is never an alert; a reference outside them is refused). */
export interface QualityGates {
  minEyeDistancePx: number;
  minDetectionScore: number;
  minSharpness: number;
  maxYawDeg: number;
  maxPitchDeg: number;
  maxEdgeCut: number;
}

/** How a face's decision (match / review / unknown) is made. docs/face-thresholds.md explains each value. */
export interface DecisionConfig {
  /** Calibrated decision parameters (`facewatch calibrate`); undefined: the file shipped with facewatch. */
  paramsFile: string | undefined;
  /** Share of stranger faces that may be alerted; undefined: the parameters file's target. */
  matchFalseAlertRate: number | undefined;
  /** Share of stranger faces that may land in review; undefined: the parameters file's target. */
  reviewFalseAlertRate: number | undefined;
  /** A match must beat the runner-up person's score by this much; undefined: the parameters file's. */
  minMargin: number | undefined;
  /** Gates for faces searched in images. */
  gates: QualityGates;
  /** Gates for reference images at enrolment (stricter on size). */
  referenceGates: QualityGates;
}

/** Where images named by clients (server paths, URLs) may come from. */
export interface ImageSourceConfig {
  /** Folders server paths must lie in (after symbolic links are resolved); empty: server paths are refused. */
  pathRoots: string[];
  url: {
    /** Fetch hosts that resolve to loopback, private, link-local or reserved addresses too (trusted networks only). */
    allowPrivate: boolean;
    /** `host` or `host:port` entries (lower case, IPv6 in brackets) fetched whatever their addresses. */
    allowedHosts: string[];
    /** Limit on a whole fetch: DNS, every redirect and the body. */
    timeoutMs: number;
    maxRedirects: number;
  };
}

/** The watched inbox folder. */
export interface InboxConfig {
  dir: string;
  /** How long a file's size and mtime must stay unchanged before it is taken. */
  stableMs: number;
  /**
   * How long a file whose format says it is incomplete (a JPEG without its end marker…) must stay
   * unchanged before it is taken anyway; at least `stableMs`.
   */
  incompleteMs: number;
}

/** Where the embedded profile keeps its files. */
export interface StorageConfig {
  /** SQLite database and other state. */
  dataDir: string;
  /** blacklist_db/: one folder of reference images per person. */
  blacklistDir: string;
  /** Copies of processed images. */
  processedDir: string;
}

export const ProcessingBackend = ['local', 'aws_rekognition'] as const;
export type ProcessingBackend = (typeof ProcessingBackend)[number];
export const RekognitionQualityFilter = ['NONE', 'AUTO', 'LOW', 'MEDIUM', 'HIGH'] as const;
export type RekognitionQualityFilter = (typeof RekognitionQualityFilter)[number];

/** The AWS Rekognition backend (FACE_PROCESSING_BACKEND=aws_rekognition). Credentials come from the standard AWS chain. */
export interface AwsConfig {
  region: string;
  collectionId: string;
  /** Bucket holding the reference images (objects `<s3Prefix><person folder>/<file>`). */
  bucket: string;
  s3Prefix: string;
  /** S3-compatible endpoint (MinIO, moto…); path-style addressing is used with it. */
  s3Endpoint: string | undefined;
  /** A Rekognition-compatible endpoint instead of AWS's (tests use a local fake). */
  rekognitionEndpoint: string | undefined;
  /** Rekognition's FaceMatchThreshold (similarity %, 0..100) when a request gives no threshold. */
  faceMatchThreshold: number;
  /** IndexFaces QualityFilter for reference images. */
  qualityFilter: RekognitionQualityFilter;
  /** Tries per AWS call (throttling and transient errors are retried with backoff). */
  maxAttempts: number;
}

export const ApiKeyScope = ['read', 'write', 'admin'] as const;
/** read: GET routes; write: also the routes that change things; admin: also webhooks and calibration. */
export type ApiKeyScope = (typeof ApiKeyScope)[number];

/** A named API key (API_KEYS). Its name is what logs and review verdicts show, never the key. */
export interface ApiKeyEntry {
  name: string;
  scope: ApiKeyScope;
  key: string;
}

export interface ApiConfig {
  port: number;
  host: string;
  /** Required on every non-public route when set (X-API-Key or Authorization: Bearer); an admin key. */
  apiKey: string | undefined;
  /** Named keys with scopes (API_KEYS), accepted alongside apiKey. */
  apiKeys: readonly ApiKeyEntry[];
  /**
   * Changing requests (POST, PUT, DELETE) per minute per API key, or per client address without
   * one (or with `by: 'address'`), refilled continuously; up to `burst` at once. 0: no limit.
   */
  rateLimit: { perMinute: number; burst: number; by: 'key' | 'address' };
  maxBodyBytes: number;
  maxUploadBytes: number;
  maxUploadFiles: number;
  maxImagesPerRequest: number;
  resultTimeoutMs: number;
  shutdownGraceMs: number;
  /** Comment lines on idle event streams, so proxies keep them open. */
  sseHeartbeatMs: number;
  /**
   * This API process's name in consumer groups (replies and the live alert stream): stable across
   * restarts, different for every API process. Undefined: `<host name>-<port>`.
   */
  instanceId: string | undefined;
}

/** How long results and alerts are kept (the scheduled purge in the API process). Undefined: forever. */
export interface RetentionConfig {
  /** Processed results, their image copies and evidence crops. */
  resultDays: number | undefined;
  /** Alerts and review items (with their verdicts). */
  alertDays: number | undefined;
  intervalMs: number;
}

/** Delivery of alerts to webhooks (the outbox dispatcher in the API process). */
export interface WebhookConfig {
  /** Tries per delivery before it is given up (status failed, last error kept). */
  maxAttempts: number;
  /** Back-off before the second try; doubles per try, with full jitter, up to retryMaxMs. */
  retryInitialMs: number;
  retryMaxMs: number;
  /** One POST's limit. */
  timeoutMs: number;
  /** How often due deliveries are looked for (new alerts also wake the dispatcher). */
  pollMs: number;
}

/** The scale profile's engines. Unset broker list or database URL: not configured. */
export interface ScaleConfig {
  kafka: {
    brokers: string[];
    topics: { images: string; results: string; matches: string; deadLetter: string };
    partitions: number;
    replicationFactor: number;
    /** Confluent-compatible registry URL; with it, event payloads are registered, framed and validated. */
    registryUrl: string | undefined;
  };
  /** PostgreSQL connection string (a secret: no default). */
  databaseUrl: string | undefined;
  /** Schema holding facewatch's tables (several deployments or test runs can share one database). */
  pgSchema: string;
  pgPoolSize: number;
  /** pgvector HNSW search breadth (higher: better recall, slower). */
  efSearch: number;
  /** How a model's HNSW index is built: for new tables, and by `facewatch vector-index` (docs/admin.md). */
  annIndex: { storage: 'vector' | 'halfvec'; m: number; efConstruction: number };
  /** Images one matcher process works on at once. */
  matcherConcurrency: number;
  /** Port of GET /metrics in the matcher and ingest processes (the API serves it on its own port); undefined: not served. */
  metricsPort: number | undefined;
}

/** The `facewatch` admin commands: which server they talk to. */
export interface CliConfig {
  /** FACEWATCH_URL; default http://<HOST>:<PORT> (a running server on this machine). */
  serverUrl: string;
}

export interface AppConfig {
  backend: ProcessingBackend;
  /** Set when backend is aws_rekognition. */
  aws: AwsConfig | undefined;
  scale: ScaleConfig;
  storage: StorageConfig;
  api: ApiConfig;
  logLevel: LogLevel;
  face: FaceConfig;
  decision: DecisionConfig;
  webhooks: WebhookConfig;
  retention: RetentionConfig;
  cli: CliConfig;
  imageSource: ImageSourceConfig;
  inbox: InboxConfig;
}

type Env = Record<string, string | undefined>;

const present = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

function intVar(fallback: number, min: number, max: number) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (!present(v)) return fallback;
      const n = /^\s*[+-]?\d+\s*$/.test(v) ? Number(v.trim()) : NaN;
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });
}

function numberVar<F extends number | undefined>(fallback: F, min: number, max: number) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (!present(v)) return fallback as number | F;
      const n = /^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$/.test(v) ? Number(v.trim()) : NaN;
      if (!Number.isFinite(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be a number from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });
}

function enumVar<const T extends readonly string[]>(values: T, fallback: T[number]) {
  return z
    .string()
    .optional()
    .transform((v, ctx): T[number] => {
      if (!present(v)) return fallback;
      const s = v.trim();
      if (!values.includes(s)) {
        ctx.addIssue({ code: 'custom', message: `must be one of ${values.join(', ')}, got "${v}"` });
        return z.NEVER;
      }
      return s;
    });
}

function boolVar(fallback: boolean) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (!present(v)) return fallback;
      const s = v.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(s)) return true;
      if (['0', 'false', 'no', 'off'].includes(s)) return false;
      ctx.addIssue({ code: 'custom', message: `must be true or false, got "${v}"` });
      return z.NEVER;
    });
}

/** A comma-separated list; blanks around items and empty items are dropped. */
function listVar(check?: (item: string) => string | undefined) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (!present(v)) return [];
      const items = v
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
      const normalised: string[] = [];
      for (const item of items) {
        const problem = check?.(item);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
        else normalised.push(item);
      }
      return normalised;
    });
}

/** `host` or `host:port`; IPv6 literals in brackets (a bare IPv6 literal is accepted as a host). */
function hostEntryProblem(item: string): string | undefined {
  const entry = isIP(item) === 6 ? `[${item}]` : item;
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d{1,5}))?$/.exec(entry);
  const port = m?.[3] === undefined ? undefined : Number(m[3]);
  if (!m || (m[1]!.startsWith('[') && isIP(m[1]!.slice(1, -1)) !== 6) || (port !== undefined && (port < 1 || port > 65535))) {
    return `"${item}" is not a host or host:port`;
  }
  return undefined;
}

function normaliseHostEntry(item: string): string {
  return (isIP(item) === 6 ? `[${item}]` : item).toLowerCase();
}

const optionalString = z
  .string()
  .optional()
  .transform((v) => (present(v) ? v.trim() : undefined));

/**
 * API_KEYS: comma-separated `name:scope:key` entries. Problems name the entry by its position and
 * name, never by its key (a secret).
 */
const apiKeysVar = z
  .string()
  .optional()
  .transform((v, ctx): ApiKeyEntry[] => {
    if (!present(v)) return [];
    const entries: ApiKeyEntry[] = [];
    const items = v
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
    items.forEach((item, i) => {
      const [name = '', scope = '', ...rest] = item.split(':');
      const key = rest.join(':');
      const where = `entry ${i + 1}${/^[\w.-]{1,64}$/.test(name) ? ` (${name})` : ''}`;
      if (!/^[\w.-]{1,64}$/.test(name)) ctx.addIssue({ code: 'custom', message: `${where}: the name must be 1 to 64 letters, digits, _ . or - (entries are name:scope:key)` });
      else if (!(ApiKeyScope as readonly string[]).includes(scope))
        ctx.addIssue({ code: 'custom', message: `${where}: the scope must be one of ${ApiKeyScope.join(', ')} (entries are name:scope:key)` });
      else if (key.length < 16 || /\s/.test(key)) ctx.addIssue({ code: 'custom', message: `${where}: the key must be at least 16 characters, without blanks` });
      else if (entries.some((e) => e.name === name)) ctx.addIssue({ code: 'custom', message: `${where}: the name is used twice` });
      else if (entries.some((e) => e.key === key)) ctx.addIssue({ code: 'custom', message: `${where}: the same key as another entry` });
      else entries.push({ name, scope: scope as ApiKeyScope, key });
    });
    return entries;
  });

const defaultWorkers = Math.max(1, Math.min(2, cpus().length));

const envSchema = z.object({
  FACE_PROCESSING_BACKEND: z
    .string()
    .optional()
    .transform((v, ctx): ProcessingBackend => {
      if (!present(v)) return 'local';
      const value = v.trim();
      if ((ProcessingBackend as readonly string[]).includes(value)) return value as ProcessingBackend;
      ctx.addIssue({ code: 'custom', message: `must be one of ${ProcessingBackend.join(', ')}, got "${v}"` });
      return z.NEVER;
    }),
  AWS_REGION: optionalString,
  AWS_REKOGNITION_COLLECTION_ID: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (!present(v)) return 'facewatch';
      if (!/^[a-zA-Z0-9_.-]{1,255}$/.test(v.trim())) {
        ctx.addIssue({ code: 'custom', message: `must be 1-255 of a-z A-Z 0-9 _ . - (Rekognition's rule), got "${v}"` });
        return z.NEVER;
      }
      return v.trim();
    }),
  AWS_S3_BUCKET_NAME: optionalString,
  AWS_S3_PREFIX: optionalString,
  AWS_ENDPOINT_URL_S3: optionalString,
  AWS_ENDPOINT_URL_REKOGNITION: optionalString,
  AWS_REKOGNITION_FACE_MATCH_THRESHOLD: numberVar(80, 0, 100),
  AWS_REKOGNITION_QUALITY_FILTER: enumVar(RekognitionQualityFilter, 'AUTO'),
  AWS_MAX_ATTEMPTS: intVar(5, 1, 20),
  KAFKA_BROKERS: listVar(hostEntryProblem),
  KAFKA_TOPIC_IMAGES: optionalString,
  KAFKA_TOPIC_RESULTS: optionalString,
  KAFKA_TOPIC_MATCHES: optionalString,
  KAFKA_TOPIC_DLQ: optionalString,
  KAFKA_PARTITIONS: intVar(6, 1, 1000),
  KAFKA_REPLICATION_FACTOR: intVar(1, 1, 10),
  SCHEMA_REGISTRY_URL: optionalString,
  DATABASE_URL: optionalString,
  PG_SCHEMA: optionalString,
  PG_POOL_SIZE: intVar(10, 1, 200),
  PGVECTOR_EF_SEARCH: intVar(100, 1, 1000),
  PGVECTOR_INDEX_STORAGE: enumVar(['vector', 'halfvec'] as const, 'halfvec'),
  PGVECTOR_M: intVar(16, 2, 100),
  PGVECTOR_EF_CONSTRUCTION: intVar(128, 4, 1000),
  MATCHER_CONCURRENCY: intVar(0, 0, 256),
  METRICS_PORT: intVar(0, 0, 65535),
  DATA_DIR: optionalString,
  BLACKLIST_DB_PATH: optionalString,
  PROCESSED_IMAGES_OUTPUT_DIR: optionalString,
  PORT: intVar(8000, 0, 65535),
  HOST: optionalString,
  API_KEY: optionalString,
  API_KEYS: apiKeysVar,
  RATE_LIMIT_PER_MINUTE: intVar(600, 0, 1_000_000),
  RATE_LIMIT_BURST: intVar(100, 1, 1_000_000),
  RATE_LIMIT_BY: enumVar(['key', 'address'] as const, 'key'),
  MAX_REQUEST_BYTES: intVar(100 * 1024 * 1024, 1024, 2 * 1024 * 1024 * 1024),
  MAX_UPLOAD_FILES: intVar(20, 1, 1000),
  MAX_IMAGES_PER_REQUEST: intVar(32, 1, 1000),
  RESULT_TIMEOUT_MS: intVar(120_000, 1000, 3_600_000),
  SHUTDOWN_GRACE_MS: intVar(30_000, 1000, 600_000),
  SSE_HEARTBEAT_MS: intVar(15_000, 100, 600_000),
  API_INSTANCE_ID: optionalString,
  LOG_LEVEL: enumVar(LogLevel, 'info'),
  MODELS_DIR: optionalString,
  MODELS_MIRROR: optionalString,
  MODELS_AUTO_FETCH: boolVar(true),
  MODELS_NPM_REGISTRY: optionalString,
  // set by npm itself when a command runs through `npm run`: the registry the user configured
  npm_config_registry: optionalString,
  DETECTOR_BACKEND: enumVar(DetectorName, 'yunet'),
  MODEL_NAME: enumVar(EmbedderName, 'fr_feature'),
  DISTANCE_METRIC: enumVar(DistanceMetric, 'cosine'),
  DISTANCE_THRESHOLD: numberVar(undefined, 0, 4),
  MAX_IMAGE_BYTES: intVar(25 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  MAX_IMAGE_PIXELS: intVar(60_000_000, 1024, 1_000_000_000),
  DECODE_MAX_SIDE: intVar(1280, 160, 8192),
  DETECTION_MIN_SCORE: numberVar(undefined, 0.05, 0.99),
  DETECTION_NMS_IOU: numberVar(0.3, 0.05, 0.95),
  DETECTION_MAX_SIDE: intVar(640, 160, 4096),
  DECISION_PARAMS_FILE: optionalString,
  MATCH_FALSE_ALERT_RATE: numberVar(undefined, 1e-9, 0.5),
  REVIEW_FALSE_ALERT_RATE: numberVar(undefined, 1e-9, 0.9),
  MATCH_MIN_MARGIN: numberVar(undefined, 0, 2),
  FACE_MIN_EYE_DISTANCE_PX: numberVar(16, 0, 10_000),
  FACE_MIN_DETECTION_SCORE: numberVar(0.8, 0, 1),
  FACE_MIN_SHARPNESS: numberVar(0.025, 0, 100),
  FACE_MAX_YAW_DEG: numberVar(50, 0, 90),
  FACE_MAX_PITCH_DEG: numberVar(45, 0, 90),
  FACE_MAX_EDGE_CUT: numberVar(0.1, 0, 1),
  REFERENCE_MIN_EYE_DISTANCE_PX: numberVar(28, 0, 10_000),
  FACE_WORKERS: intVar(defaultWorkers, 1, 64),
  FACE_TASKS_PER_WORKER: intVar(2, 1, 16),
  FACE_MAX_QUEUED: intVar(256, 1, 100_000),
  FACEWATCH_URL: optionalString,
  RETENTION_DAYS: numberVar(undefined, 0.0000001, 36_500),
  ALERT_RETENTION_DAYS: numberVar(undefined, 0.0000001, 36_500),
  RETENTION_INTERVAL_MS: intVar(3_600_000, 100, 86_400_000),
  WEBHOOK_MAX_ATTEMPTS: intVar(10, 1, 100),
  WEBHOOK_RETRY_INITIAL_MS: intVar(1000, 10, 3_600_000),
  WEBHOOK_RETRY_MAX_MS: intVar(3_600_000, 10, 86_400_000),
  WEBHOOK_TIMEOUT_MS: intVar(10_000, 100, 600_000),
  WEBHOOK_POLL_MS: intVar(1000, 20, 600_000),
  IMAGE_PATH_ROOTS: listVar(),
  URL_ALLOW_PRIVATE: boolVar(false),
  URL_ALLOWED_HOSTS: listVar(hostEntryProblem),
  URL_FETCH_TIMEOUT_MS: intVar(10_000, 100, 600_000),
  INBOX_DIR: optionalString,
  INBOX_STABLE_MS: intVar(1000, 50, 600_000),
  INBOX_INCOMPLETE_MS: intVar(600_000, 50, 86_400_000),
});

/** Every environment variable the configuration reads (docs/configuration.md lists each). */
export const configVariables: readonly string[] = Object.keys(envSchema.shape);

/** Parses the environment once; throws one AppError(CONFIG_INVALID) listing every bad variable. */
export function loadConfig(env: Env = process.env): AppConfig {
  const parsed = envSchema.safeParse(env);
  const crossProblems = [...awsProblems(env), ...(parsed.success ? [...inboxProblems(parsed.data), ...apiKeyProblems(parsed.data), ...annIndexProblems(parsed.data)] : [])];
  if (!parsed.success || crossProblems.length > 0) {
    const problems = [...(parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)), ...crossProblems];
    throw new AppError(ErrorCode.CONFIG_INVALID, `invalid configuration:\n  ${problems.join('\n  ')}`, {
      details: { problems },
    });
  }
  const e = parsed.data!;
  const prefix = e.AWS_S3_PREFIX ?? 'blacklist_db/';
  const config: AppConfig = {
    backend: e.FACE_PROCESSING_BACKEND,
    aws:
      e.FACE_PROCESSING_BACKEND === 'aws_rekognition'
        ? {
            region: e.AWS_REGION!,
            collectionId: e.AWS_REKOGNITION_COLLECTION_ID,
            bucket: e.AWS_S3_BUCKET_NAME!,
            s3Prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`,
            s3Endpoint: e.AWS_ENDPOINT_URL_S3,
            rekognitionEndpoint: e.AWS_ENDPOINT_URL_REKOGNITION,
            faceMatchThreshold: e.AWS_REKOGNITION_FACE_MATCH_THRESHOLD,
            qualityFilter: e.AWS_REKOGNITION_QUALITY_FILTER,
            maxAttempts: e.AWS_MAX_ATTEMPTS,
          }
        : undefined,
    scale: {
      kafka: {
        brokers: e.KAFKA_BROKERS,
        topics: {
          images: e.KAFKA_TOPIC_IMAGES ?? 'facewatch.images',
          results: e.KAFKA_TOPIC_RESULTS ?? 'facewatch.results',
          matches: e.KAFKA_TOPIC_MATCHES ?? 'facewatch.matches',
          deadLetter: e.KAFKA_TOPIC_DLQ ?? 'facewatch.dlq',
        },
        partitions: e.KAFKA_PARTITIONS,
        replicationFactor: e.KAFKA_REPLICATION_FACTOR,
        registryUrl: e.SCHEMA_REGISTRY_URL,
      },
      databaseUrl: e.DATABASE_URL,
      pgSchema: e.PG_SCHEMA ?? 'public',
      pgPoolSize: e.PG_POOL_SIZE,
      efSearch: e.PGVECTOR_EF_SEARCH,
      annIndex: { storage: e.PGVECTOR_INDEX_STORAGE, m: e.PGVECTOR_M, efConstruction: e.PGVECTOR_EF_CONSTRUCTION },
      // 0: enough to keep every inference worker busy with its images in flight
      // with aws_rekognition the work is waiting on AWS: 8 images in flight
      matcherConcurrency: e.MATCHER_CONCURRENCY || (e.FACE_PROCESSING_BACKEND === 'aws_rekognition' ? 8 : e.FACE_WORKERS * e.FACE_TASKS_PER_WORKER),
      metricsPort: e.METRICS_PORT === 0 ? undefined : e.METRICS_PORT,
    },
    storage: {
      dataDir: resolveFromRoot(e.DATA_DIR ?? 'data'),
      blacklistDir: resolveFromRoot(e.BLACKLIST_DB_PATH ?? 'blacklist_db'),
      processedDir: resolveFromRoot(e.PROCESSED_IMAGES_OUTPUT_DIR ?? 'processed_images_output'),
    },
    api: {
      port: e.PORT,
      host: e.HOST ?? '127.0.0.1',
      apiKey: e.API_KEY,
      apiKeys: e.API_KEYS,
      rateLimit: { perMinute: e.RATE_LIMIT_PER_MINUTE, burst: e.RATE_LIMIT_BURST, by: e.RATE_LIMIT_BY },
      maxBodyBytes: e.MAX_REQUEST_BYTES,
      maxUploadBytes: e.MAX_IMAGE_BYTES,
      maxUploadFiles: e.MAX_UPLOAD_FILES,
      maxImagesPerRequest: e.MAX_IMAGES_PER_REQUEST,
      resultTimeoutMs: e.RESULT_TIMEOUT_MS,
      shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
      sseHeartbeatMs: e.SSE_HEARTBEAT_MS,
      instanceId: e.API_INSTANCE_ID,
    },
    logLevel: e.LOG_LEVEL,
    face: {
      modelsDir: resolveFromRoot(e.MODELS_DIR ?? 'models'),
      modelsMirror: e.MODELS_MIRROR === undefined ? undefined : resolveFromRoot(e.MODELS_MIRROR),
      npmRegistry: e.MODELS_NPM_REGISTRY ?? e.npm_config_registry ?? 'https://registry.npmjs.org/',
      autoFetchModels: e.MODELS_AUTO_FETCH,
      detector: e.DETECTOR_BACKEND,
      embedder: e.MODEL_NAME,
      distanceMetric: e.DISTANCE_METRIC,
      maxDistance: e.DISTANCE_THRESHOLD,
      decode: { maxBytes: e.MAX_IMAGE_BYTES, maxPixels: e.MAX_IMAGE_PIXELS, maxSidePx: e.DECODE_MAX_SIDE },
      detection: { minScore: e.DETECTION_MIN_SCORE, nmsIou: e.DETECTION_NMS_IOU, maxSidePx: e.DETECTION_MAX_SIDE },
      pool: { workers: e.FACE_WORKERS, tasksPerWorker: e.FACE_TASKS_PER_WORKER, maxQueued: e.FACE_MAX_QUEUED },
    },
    decision: {
      paramsFile: e.DECISION_PARAMS_FILE === undefined ? undefined : resolveFromRoot(e.DECISION_PARAMS_FILE),
      matchFalseAlertRate: e.MATCH_FALSE_ALERT_RATE,
      reviewFalseAlertRate: e.REVIEW_FALSE_ALERT_RATE,
      minMargin: e.MATCH_MIN_MARGIN,
      gates: {
        minEyeDistancePx: e.FACE_MIN_EYE_DISTANCE_PX,
        minDetectionScore: e.FACE_MIN_DETECTION_SCORE,
        minSharpness: e.FACE_MIN_SHARPNESS,
        maxYawDeg: e.FACE_MAX_YAW_DEG,
        maxPitchDeg: e.FACE_MAX_PITCH_DEG,
        maxEdgeCut: e.FACE_MAX_EDGE_CUT,
      },
      referenceGates: {
        minEyeDistancePx: e.REFERENCE_MIN_EYE_DISTANCE_PX,
        minDetectionScore: e.FACE_MIN_DETECTION_SCORE,
        minSharpness: e.FACE_MIN_SHARPNESS,
        maxYawDeg: e.FACE_MAX_YAW_DEG,
        maxPitchDeg: e.FACE_MAX_PITCH_DEG,
        maxEdgeCut: e.FACE_MAX_EDGE_CUT,
      },
    },
    cli: { serverUrl: (e.FACEWATCH_URL ?? `http://${e.HOST === undefined || e.HOST === '0.0.0.0' ? '127.0.0.1' : e.HOST}:${e.PORT}`).replace(/\/+$/, '') },
    retention: { resultDays: e.RETENTION_DAYS, alertDays: e.ALERT_RETENTION_DAYS, intervalMs: e.RETENTION_INTERVAL_MS },
    webhooks: {
      maxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
      retryInitialMs: e.WEBHOOK_RETRY_INITIAL_MS,
      retryMaxMs: Math.max(e.WEBHOOK_RETRY_MAX_MS, e.WEBHOOK_RETRY_INITIAL_MS),
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      pollMs: e.WEBHOOK_POLL_MS,
    },
    imageSource: {
      pathRoots: e.IMAGE_PATH_ROOTS.map((root) => resolveFromRoot(root)),
      url: {
        allowPrivate: e.URL_ALLOW_PRIVATE,
        allowedHosts: e.URL_ALLOWED_HOSTS.map(normaliseHostEntry),
        timeoutMs: e.URL_FETCH_TIMEOUT_MS,
        maxRedirects: 3,
      },
    },
    inbox: { dir: resolveFromRoot(e.INBOX_DIR ?? 'inbox'), stableMs: e.INBOX_STABLE_MS, incompleteMs: e.INBOX_INCOMPLETE_MS },
  };
  return deepFreeze(config);
}

/** What the AWS backend needs together (checked on the raw variables, so they join the other problems). */
function awsProblems(env: Env): string[] {
  if (env.FACE_PROCESSING_BACKEND?.trim() !== 'aws_rekognition') return [];
  const problems: string[] = [];
  if (!present(env.AWS_REGION)) problems.push('AWS_REGION: required with FACE_PROCESSING_BACKEND=aws_rekognition');
  if (!present(env.AWS_S3_BUCKET_NAME)) problems.push('AWS_S3_BUCKET_NAME: required with FACE_PROCESSING_BACKEND=aws_rekognition (reference images are kept there)');
  for (const name of ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL_REKOGNITION'] as const) {
    const endpoint = env[name];
    if (present(endpoint) && !/^https?:\/\/[^/\s]+/.test(endpoint.trim())) problems.push(`${name}: must be an http(s) URL, got "${endpoint}"`);
  }
  return problems;
}

/** API_KEY is an admin key beside API_KEYS: the same key in both would make its scope unclear. */
function apiKeyProblems(e: { API_KEY: string | undefined; API_KEYS: ApiKeyEntry[] }): string[] {
  const same = e.API_KEYS.find((k) => k.key === e.API_KEY);
  return same ? [`API_KEYS: entry ${same.name} has the same key as API_KEY`] : [];
}

/** pgvector refuses an HNSW build with ef_construction below 2·m. */
function annIndexProblems(e: { PGVECTOR_M: number; PGVECTOR_EF_CONSTRUCTION: number }): string[] {
  return e.PGVECTOR_EF_CONSTRUCTION < 2 * e.PGVECTOR_M
    ? [`PGVECTOR_EF_CONSTRUCTION: must be at least 2 × PGVECTOR_M (${2 * e.PGVECTOR_M}), got ${e.PGVECTOR_EF_CONSTRUCTION}`]
    : [];
}

/** An incomplete-looking upload is never taken sooner than a complete one. */
function inboxProblems(e: { INBOX_STABLE_MS: number; INBOX_INCOMPLETE_MS: number }): string[] {
  return e.INBOX_INCOMPLETE_MS < e.INBOX_STABLE_MS ? [`INBOX_INCOMPLETE_MS: must be at least INBOX_STABLE_MS (${e.INBOX_STABLE_MS}), got ${e.INBOX_INCOMPLETE_MS}`] : [];
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
